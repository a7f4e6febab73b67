"""GET /api/v1/events: bearer token, filters, cursor pagination."""

from __future__ import annotations

import pytest

from tests.conftest import API_TOKEN
from tests.factories import gen_event

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Bearer wrong"}, "bad_token"),
        ({"Authorization": f"Basic {API_TOKEN}"}, "missing_token"),
        ({"Authorization": "Bearer "}, "missing_token"),
    ],
    ids=["none", "wrong", "wrong-scheme", "empty"],
)
def test_refused_without_the_token(client, headers, code):
    response = client.get("/api/v1/events", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == code


def test_refused_when_not_configured(make_app):
    response = make_app(api_token=None).test_client().get("/api/v1/events", headers=AUTH)
    assert response.status_code == 401
    assert response.get_json()["error"] == "api_not_configured"


def test_token_in_query_string_is_not_accepted(client):
    assert client.get(f"/api/v1/events?token={API_TOKEN}").status_code == 401


def test_pages_newest_first_with_cursor(client, db_session):
    ids = [gen_event(db_session, name="HostUp" if i % 2 else "HostDown").id for i in range(7)]
    seen = []
    url = "/api/v1/events?limit=3"
    while url:
        body = client.get(url, headers=AUTH).get_json()
        seen.extend(item["id"] for item in body["items"])
        assert len(body["items"]) <= 3
        url = (
            f"/api/v1/events?limit=3&cursor={body['next_cursor']}" if body["next_cursor"] else None
        )
    assert seen == sorted(ids, reverse=True)


def test_filters(client, db_session):
    gen_event(db_session, name="HostDown", farm_id=1439)
    gen_event(db_session, name="HostUp", farm_id=1439, server_id="other")
    gen_event(db_session, name="HostDown", farm_id=7)

    def names(query: str) -> list[str]:
        items = client.get(f"/api/v1/events?{query}", headers=AUTH).get_json()["items"]
        return [i["name"] for i in items]

    assert names("name=HostDown") == ["HostDown", "HostDown"]
    assert names("farm_id=1439") == ["HostUp", "HostDown"]
    assert names("server_id=other") == ["HostUp"]
    assert names("name=HostDown&farm_id=7") == ["HostDown"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=0", "invalid_limit"),
        ("limit=501", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("cursor=garbage!", "invalid_cursor"),
        ("cursor=djI6MQ", "invalid_cursor"),
        ("farm_id=abc", "invalid_filter"),
    ],
)
def test_bad_query_is_400(client, query, code):
    response = client.get(f"/api/v1/events?{query}", headers=AUTH)
    assert response.status_code == 400
    assert response.get_json()["error"] == code


def test_single_event_with_raw_and_404(client, db_session):
    event = gen_event(db_session, raw={"method": "POST", "query": {"token": ["[redacted]"]}})
    body = client.get(f"/api/v1/events/{event.id}", headers=AUTH).get_json()
    assert body["id"] == event.id
    assert body["raw"]["query"]["token"] == ["[redacted]"]
    assert set(body) >= {
        "id",
        "name",
        "message",
        "server_id",
        "public_ip",
        "internal_ip",
        "new_ip",
        "farm_id",
        "farm_role_id",
        "role_name",
        "env_id",
        "source",
        "received_at",
        "data",
        "enriched_fields",
    }
    missing = client.get("/api/v1/events/999999", headers=AUTH)
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "not_found"
    huge = client.get(f"/api/v1/events/{2**70}", headers=AUTH)
    assert huge.status_code == 404
