"""`flask rules check` and `flask rules explain`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

from app.rules.cli import rules_cli
from tests.rules.helpers import HOST_DOWN, rule_yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "rules.example.yml"


def run(*args: str, stdin: str | None = None) -> Result:
    app = Flask("rules-cli-test")
    app.cli.add_command(rules_cli)
    return app.test_cli_runner().invoke(args=["rules", *args], input=stdin)


def test_check_good_file_prints_a_summary() -> None:
    result = run("check", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert "rules OK (version " in result.stdout
    assert result.stdout.startswith(f"{EXAMPLE}: 6 rules OK")


def test_check_bad_file_prints_every_error_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(rule_yaml("delay: soon\nwhere: {farm_idd: 1}\n"))
    result = run("check", str(path))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"{path}:4: rules[0].delay: bad duration 'soon': "
        "use seconds or 30s, 2m, 1h, 1d (combinable: 1h30m)"
    )
    assert (
        lines[1]
        == f"{path}:5: rules[0].where.farm_idd: unknown event field 'farm_idd' (did you mean 'farm_id'?)"
    )
    assert lines[2] == f"{path}: 2 problem(s); rules refused"


def test_check_prints_warnings_but_passes(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(
        rule_yaml(actions="      - scalr: ServerLaunch\n        params: {FarmRoleID: 1}\n")
    )
    result = run("check", str(path))
    assert result.exit_code == 0
    assert f"{path}:5: warning: rules[0].actions[0].scalr: ServerLaunch without" in result.stderr


def test_check_missing_file(tmp_path: Path) -> None:
    result = run("check", str(tmp_path / "nope.yml"))
    assert result.exit_code == 1
    assert "cannot read" in result.stderr


def test_explain_shows_each_rule_and_renders_matches() -> None:
    result = run("explain", str(EXAMPLE), json.dumps(HOST_DOWN))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "MATCH  replace-terminated-web" in out
    assert '[0] scalr ServerLaunch {"FarmRoleID": "1978", "IncreaseMaxInstances": 0}' in out
    assert "(delay 120s, throttle 3/3600s key '1978')" in out
    assert "no     reboot-failing-web: listens for CheckFailed; event is HostDown" in out
    assert out.rstrip().endswith("1 of 6 rules match HostDown")


def test_explain_reports_the_failing_condition() -> None:
    event = {**HOST_DOWN, "farm_role_id": 2000}
    result = run("explain", str(EXAMPLE), json.dumps(event))
    assert (
        "no     replace-terminated-web: where.farm_role_id: expected 1978, got 2000"
        in result.stdout
    )


def test_explain_shows_a_template_that_would_fail() -> None:
    event = {key: value for key, value in HOST_DOWN.items() if key != "farm_role_id"}
    event["name"] = "OnHostDown"
    rules = run("explain", str(EXAMPLE), json.dumps(event)).stdout
    assert "replace-terminated-web: where.farm_role_id: expected 1978, got null" in rules


def test_explain_json_from_stdin() -> None:
    result = run(
        "explain",
        "--json",
        str(EXAMPLE),
        "-",
        stdin=json.dumps({"name": "HostUp", "farm_id": 1439}),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [e["rule_name"] for e in data][:2] == [
        "replace-terminated-web",
        "replace-terminated-queue",
    ]
    warm = next(e for e in data if e["rule_name"] == "warm-cache-on-new-web")
    assert warm["reason"] == "rule is disabled (its conditions would not have matched either)"


@pytest.mark.parametrize(("payload", "message"), [("{nope", "not JSON"), ("[1]", "a `name`")])
def test_explain_refuses_bad_event_json(payload: str, message: str) -> None:
    result = run("explain", str(EXAMPLE), payload)
    assert result.exit_code == 2
    assert message in result.output
