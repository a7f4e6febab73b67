"""Maintenance windows: the rules file, open or not, the claim, the API, the page, a real worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from app.db import utcnow
from app.jobs.control import retry_job
from app.rules.errors import RulesError
from app.rules.loader import load_rules
from tests.conftest import API_TOKEN
from tests.dashboard.conftest import use_rules
from tests.jobs.helpers import claim, matched
from tests.worker.test_remediation_e2e import host_down

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
RULE = """
rules:
  - name: two-steps
    events: [HostDown]
    actions:
      - webhook: https://chat.example/first
      - webhook: https://chat.example/second
"""


def window_text(start: str, end: str, weekdays: str = "[mon-sun]", zone: str = "UTC") -> str:
    return f"""
maintenance:
  - name: nightly-patching
    matchers: {{farm_id: 1439, role_name: "web-*"}}
    weekdays: {weekdays}
    from: "{start}"
    to: "{end}"
    timezone: {zone}
"""


def open_now() -> str:
    """A window open for the hour around now, whatever the time of day."""
    now = datetime.now(UTC)
    return window_text(f"{now - timedelta(hours=1):%H:%M}", f"{now + timedelta(hours=1):%H:%M}")


def closed_now() -> str:
    """A window that opens in two hours."""
    now = datetime.now(UTC)
    return window_text(f"{now + timedelta(hours=2):%H:%M}", f"{now + timedelta(hours=3):%H:%M}")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- when a window is open ---------------------------------------------------------


def test_a_window_across_midnight_on_weekdays_in_its_zone():
    window = load_rules(window_text("22:00", "02:00", "[mon-fri]", "Europe/Berlin") + RULE)
    w = window.maintenance[0]
    # 2026-12-04 is a Friday; Berlin is UTC+1 in December.
    assert w.active_at(at("2026-12-04T21:00:00+00:00"))  # Fri 22:00 local: opens
    assert not w.active_at(at("2026-12-04T20:59:00+00:00"))  # Fri 21:59
    assert w.active_at(at("2026-12-05T00:59:00+00:00"))  # Sat 01:59, the night of Friday
    assert not w.active_at(at("2026-12-05T01:00:00+00:00"))  # Sat 02:00: closed (to excluded)
    assert not w.active_at(at("2026-12-05T21:30:00+00:00"))  # Sat 22:30: not a listed day
    assert not w.active_at(at("2026-12-06T23:30:00+00:00"))  # Mon 00:30, the night of Sunday
    assert w.active_at(at("2026-12-07T23:30:00+00:00"))  # Tue 00:30, the night of Monday
    assert w.describe() == "mon,tue,wed,thu,fri 22:00-02:00 Europe/Berlin"


def test_a_window_follows_daylight_saving_time():
    w = load_rules(window_text("09:00", "10:00", zone="Europe/Berlin") + RULE).maintenance[0]
    assert w.active_at(at("2026-07-01T07:30:00+00:00"))  # summer: UTC+2
    assert w.active_at(at("2026-12-01T08:30:00+00:00"))  # winter: UTC+1
    assert not w.active_at(at("2026-12-01T07:30:00+00:00"))


def test_matchers_use_the_rules_operators():
    w = load_rules(window_text("00:00", "23:59") + RULE).maintenance[0]
    assert w.matches({"farm_id": 1439, "role_name": "web-7"})
    assert w.matches({"farm_id": "1439", "role_name": "web-7"})
    assert not w.matches({"farm_id": 1439, "role_name": "db-1"})
    assert not w.matches({"farm_id": 1500, "role_name": "web-7"})


def test_unquoted_times_and_day_names_are_read():
    text = """
maintenance:
  - name: sunday
    matchers: {name: {in: [HostDown, HostCrash]}}
    weekdays: [Sunday, fri-mon]
    from: 22:30
    to: 9:05
"""
    w = load_rules(text + RULE).maintenance[0]
    assert (f"{w.start:%H:%M}", f"{w.end:%H:%M}", w.timezone) == ("22:30", "09:05", "UTC")
    assert w.weekdays == (0, 4, 5, 6)


# -- bad input, with lines ---------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "line", "message"),
    [
        ("    colour: red\n", 7, "unknown key 'colour'"),
        ("    timezone: Mars/Olympus\n", 7, "unknown time zone 'Mars/Olympus'"),
        ('    timezone: "../../etc/passwd"\n', 7, "unknown time zone"),
        ("    weekdays: [mon, funday]\n", 7, "bad weekday 'funday'"),
        ("    weekdays: []\n", 7, "at least one weekday"),
        ("    weekdays: [mon-tue-wed]\n", 7, "bad weekday"),
    ],
)
def test_bad_windows_are_refused_with_their_line(entry, line, message):
    text = f"""rules: []
maintenance:
  - name: w
    matchers: {{farm_id: 1}}
    from: "01:00"
    to: "02:00"
{entry}"""
    with pytest.raises(RulesError) as caught:
        load_rules(text)
    found = [(p.line, p.message) for p in caught.value.errors]
    assert any(n == line and message in m for n, m in found), found


@pytest.mark.parametrize(
    ("times", "message"),
    [
        ('from: "25:00"\n    to: "02:00"', "expected a time HH:MM"),
        ('from: "1:00pm"\n    to: "02:00"', "expected a time HH:MM"),
        ('from: "01:00"\n    to: "01:00"', "the window is empty"),
        ('from: "01:00"', "missing required key 'to'"),
        ('from: [1]\n    to: "02:00"', "expected a time HH:MM"),
    ],
)
def test_bad_times_are_refused(times, message):
    text = f"""rules: []
maintenance:
  - name: w
    matchers: {{farm_id: 1}}
    {times}
"""
    with pytest.raises(RulesError) as caught:
        load_rules(text)
    assert any(message in p.message and p.line for p in caught.value.errors), caught.value.errors


@pytest.mark.parametrize(
    ("matchers", "message"),
    [
        ("{farm: 1}", "not 'farm' (did you mean 'farm_id'?)"),
        ("{}", "non-empty mapping"),
        ("{farm_id: {regex: '('}}", "regex"),
        ("[farm_id]", "non-empty mapping"),
    ],
)
def test_bad_matchers_are_refused(matchers, message):
    text = f"""rules: []
maintenance:
  - name: w
    matchers: {matchers}
    from: "01:00"
    to: "02:00"
"""
    with pytest.raises(RulesError) as caught:
        load_rules(text)
    assert any(message in p.message for p in caught.value.errors), caught.value.errors


def test_duplicate_names_and_a_list_that_is_not_one():
    text = """rules: []
maintenance:
  - {name: w, matchers: {farm_id: 1}, from: "01:00", to: "02:00"}
  - {name: w, matchers: {farm_id: 2}, from: "03:00", to: "04:00"}
"""
    with pytest.raises(RulesError) as caught:
        load_rules(text)
    assert caught.value.errors[0].message == "duplicate maintenance window 'w' (first at line 3)"
    assert caught.value.errors[0].line == 4
    with pytest.raises(RulesError) as not_a_list:
        load_rules("rules: []\nmaintenance: {name: w}\n")
    assert "must be a list" in not_a_list.value.errors[0].message
    with pytest.raises(RulesError) as typo:
        load_rules("rules: []\nmaintenence: []\n")
    assert "did you mean 'maintenance'" in typo.value.errors[0].message


# -- the claim ----------------------------------------------------------------------


def test_the_claim_skips_a_job_in_an_open_window_and_a_person_may_still_run_it(db_session):
    ruleset = load_rules(open_now() + RULE)
    first, _ = matched(db_session, ruleset, farm_id=1439, role_name="web-1")
    job = claim(db_session, ruleset)
    assert job.id == first.id
    assert (job.status, job.reason) == ("skipped", 'maintenance window "nightly-patching"')
    retry_job(db_session, first.id, "dashboard:otto")
    db_session.commit()
    assert claim(db_session, ruleset).status == "running"


def test_a_closed_window_or_another_farm_lets_jobs_run(db_session):
    closed = load_rules(closed_now() + RULE)
    matched(db_session, closed, farm_id=1439, role_name="web-1")
    assert claim(db_session, closed).status == "running"
    opened = load_rules(open_now() + RULE)
    matched(db_session, opened, farm_id=1500, role_name="web-1")
    assert claim(db_session, opened).status == "running"


# -- the API and the page --------------------------------------------------------------


def test_api_and_silences_page_show_the_windows(dash_app, admin, tmp_path):
    use_rules(dash_app, tmp_path / "rules.yml", open_now() + RULE)
    client = dash_app.test_client()
    body = client.get("/api/v1/maintenance", headers=BEARER).get_json()
    assert [(w["name"], w["active"], w["timezone"]) for w in body["items"]] == [
        ("nightly-patching", True, "UTC")
    ]
    assert body["items"][0]["matchers"] == {"farm_id": 1439, "role_name": "web-*"}
    page = admin.get("/silences").get_data(as_text=True)
    assert "nightly-patching" in page and "Maintenance windows" in page
    assert "every day" in page and "open" in page


# -- a real worker and the simulator -----------------------------------------------------

LAUNCH = """
rules:
  - name: replace
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: 1978, IncreaseMaxInstances: 1}
"""


def test_a_real_worker_skips_what_a_window_covers(make_stack):
    now = datetime.now(UTC)
    window = window_text(
        f"{now - timedelta(hours=1):%H:%M}", f"{now + timedelta(hours=1):%H:%M}"
    ).replace('{farm_id: 1439, role_name: "web-*"}', "{farm_id: 1439}")
    stack = make_stack(window + LAUNCH)
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_id=1439")
    host_down(stack, "6ccd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_id=1500")
    stack.drain(until=lambda: len(stack.jobs()) == 2 and all(j.finished_at for j in stack.jobs()))
    by_server = {j.server_id[:4]: j for j in stack.jobs()}
    assert by_server["5bbd"].status == "skipped"
    assert by_server["5bbd"].reason == 'maintenance window "nightly-patching"'
    assert by_server["6ccd"].status == "succeeded", by_server["6ccd"].error
    assert len(stack.state.calls("ServerLaunch")) == 1
    assert utcnow() - now < timedelta(minutes=5)


# -- the console ----------------------------------------------------------------------


def test_console_checks_and_lists_the_windows(tmp_path):
    from flask import Flask

    from app.rules.cli import rules_cli

    app = Flask("windows-cli-test")
    app.cli.add_command(rules_cli)
    runner = app.test_cli_runner()
    path = tmp_path / "rules.yml"
    later = closed_now().replace("nightly-patching", "later").replace("\nmaintenance:\n", "\n")
    path.write_text(open_now() + later + RULE)
    checked = runner.invoke(args=["rules", "check", str(path)])
    assert checked.exit_code == 0 and "1 rules, 2 maintenance windows OK" in checked.output
    listed = runner.invoke(args=["rules", "windows", str(path)])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].startswith("OPEN   nightly-patching: every day ")
    assert lines[1].startswith("closed later: every day ")
    as_json = json.loads(runner.invoke(args=["rules", "windows", str(path), "--json"]).output)
    assert [(w["name"], w["active"]) for w in as_json] == [
        ("nightly-patching", True),
        ("later", False),
    ]
    path.write_text(window_text("01:00", "01:00") + RULE)
    refused = runner.invoke(args=["rules", "windows", str(path)])
    assert refused.exit_code == 1 and "the window is empty" in refused.output
