"""The OpenAPI description is public, valid in shape, and matches the routes exactly."""

from __future__ import annotations

import re

from tests.conftest import API_TOKEN


def described_paths(app) -> set[str]:
    """Every /api/v1 path the app serves, in OpenAPI notation (any() expanded)."""
    paths = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        options = [rule.rule]
        match = re.search(r"<any\(([^)]*)\):\w+>", rule.rule)
        if match:
            choices = [c.strip().strip("'\"") for c in match.group(1).split(",")]
            options = [rule.rule.replace(match.group(0), c) for c in choices]
        for path in options:
            paths.add(re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", path))
    return paths


def test_spec_is_public(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"] == "3.1.0"


def test_everything_else_still_needs_the_token(client):
    assert client.get("/api/v1/events").status_code == 401
    assert client.get("/api/v1/openapi.json/x").status_code in (401, 404)


def test_spec_and_routes_agree(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    served = described_paths(app)
    assert served == set(spec["paths"]), served ^ set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        for path in described_paths_for(rule):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in spec["paths"][path], (method, path)


def described_paths_for(rule) -> set[str]:
    class One:
        url_map = type("M", (), {"iter_rules": lambda self: [rule]})()

    return described_paths(One())


def test_refs_resolve(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    text = str(spec)
    for ref in set(re.findall(r"#/components/(\w+)/(\w+)", text)):
        assert ref[1] in spec["components"][ref[0]], ref


def test_spec_works_with_the_token_too(client):
    response = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert response.status_code == 200
