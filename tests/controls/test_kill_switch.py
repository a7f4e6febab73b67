"""The kill switch: policy, claim, outcome, API, console, dashboard, and a real worker."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.db import utcnow
from app.jobs import policy
from app.jobs.control import ControlError, retry_job
from app.jobs.kill_switch import engage_kill_switch, kill_switch_state, release_kill_switch
from app.models.controls import AuditEntry
from app.models.job import ActionJob
from tests.conftest import API_TOKEN
from tests.dashboard.conftest import csrf_of
from tests.jobs.helpers import claim, matched, record, two_steps
from tests.worker.test_remediation_e2e import host_down

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
SID = "5bbd72c5-908c-4535-a7ec-2fbf56486ff3"
DELAYED_LAUNCH = """
rules:
  - name: replace
    events: [HostDown]
    delay: 1s
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: 1978, IncreaseMaxInstances: 1}
"""


def engaged(session) -> bool:
    """Read the switch and end the read (SQLite: a test's open transaction blocks the app)."""
    row = kill_switch_state(session)
    value = bool(row and row.engaged)
    session.commit()
    return value


def engage(session, who: str = "dashboard:alice", reason: str = "Scalr upgrade") -> None:
    engage_kill_switch(session, who, reason, utcnow())
    session.commit()


# -- the policy ------------------------------------------------------------------


def test_policy_names_who_when_and_why():
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert policy.kill_switch(False, "x", at, "y") is None
    verdict = policy.kill_switch(True, "dashboard:alice", at, "Scalr upgrade")
    assert verdict is not None and verdict.status == "skipped"
    assert (
        verdict.reason
        == "kill switch engaged by dashboard:alice at 2026-12-01 09:30:00 UTC: Scalr upgrade"
    )


# -- the claim and the outcome ----------------------------------------------------


def test_a_due_job_is_skipped_and_a_person_can_retry_it_after_release(db_session):
    first, _ = matched(db_session, two_steps())
    engage(db_session)
    job = claim(db_session, two_steps())
    assert job.id == first.id and job.status == "skipped"
    assert job.reason.startswith("kill switch engaged by dashboard:alice at ")
    assert job.reason.endswith(": Scalr upgrade")
    # A person's retry is held back too while it is engaged.
    retry_job(db_session, first.id, "dashboard:alice")
    db_session.commit()
    assert claim(db_session, two_steps()).status == "skipped"
    release_kill_switch(db_session, "dashboard:alice", utcnow())
    db_session.commit()
    # Releasing runs nothing by itself.
    assert claim(db_session, two_steps()) is None
    retry_job(db_session, first.id, "dashboard:alice")
    db_session.commit()
    assert claim(db_session, two_steps()).status == "running"


def test_an_attempt_in_flight_ends_and_starts_no_retry(db_session):
    first, _ = matched(db_session, two_steps())
    job = claim(db_session, two_steps())
    assert job.status == "running"
    engage(db_session)
    done = record(db_session, first.id, "retry", error="timeout")
    assert done.status == "skipped"
    assert done.reason.endswith("(attempt 1 failed; no retry started)")
    assert done.reason.startswith("kill switch engaged by dashboard:alice")


def test_an_attempt_in_flight_that_succeeds_is_recorded(db_session):
    first, _ = matched(db_session, two_steps())
    claim(db_session, two_steps())
    engage(db_session)
    assert record(db_session, first.id, "succeeded").status == "succeeded"


def test_engage_twice_and_release_when_released_are_refused(db_session):
    engage(db_session)
    try:
        engage_kill_switch(db_session, "x", "again", utcnow())
    except ControlError as exc:
        assert exc.code == "already_engaged"
    else:
        raise AssertionError("engaged twice")
    db_session.rollback()
    release_kill_switch(db_session, "x", utcnow())
    db_session.commit()
    for call in (lambda: release_kill_switch(db_session, "x", utcnow()),
                 lambda: engage_kill_switch(db_session, "x", "  ", utcnow())):  # fmt: skip
        try:
            call()
        except ControlError:
            db_session.rollback()
        else:
            raise AssertionError("accepted")


# -- the API ----------------------------------------------------------------------


def test_api_get_engage_release(client, db_session):
    assert client.get("/api/v1/kill-switch", headers=BEARER).get_json()["engaged"] is False
    missing = client.post("/api/v1/kill-switch", headers=BEARER, json={"engaged": True})
    assert missing.status_code == 400 and missing.get_json()["error"] == "reason_required"
    bad = client.post("/api/v1/kill-switch", headers=BEARER, json={"engaged": "yes"})
    assert bad.status_code == 400
    on = client.post(
        "/api/v1/kill-switch", headers=BEARER, json={"engaged": True, "reason": "incident 42"}
    )
    assert on.status_code == 200
    body = on.get_json()
    assert body["engaged"] is True and body["reason"] == "incident 42"
    assert body["engaged_by"] == "api" and body["engaged_at"]
    again = client.post(
        "/api/v1/kill-switch", headers=BEARER, json={"engaged": True, "reason": "x"}
    )
    assert again.status_code == 409
    off = client.post("/api/v1/kill-switch", headers=BEARER, json={"engaged": False})
    assert off.status_code == 200 and off.get_json()["engaged"] is False
    assert off.get_json()["released_by"] == "api"
    rows = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(r.action, r.outcome) for r in rows] == [
        ("kill_switch.engage", "refused"),
        ("kill_switch.engage", "ok"),
        ("kill_switch.engage", "refused"),
        ("kill_switch.release", "ok"),
    ]
    assert rows[1].reason == "incident 42" and rows[1].via == "api" and rows[1].address


# -- the console -------------------------------------------------------------------


def test_console_on_status_off(app, db_session):
    runner = app.test_cli_runner()
    assert "released" in runner.invoke(args=["kill-switch", "status"]).output
    refused = runner.invoke(args=["kill-switch", "on"])
    assert refused.exit_code != 0 and "--reason" in refused.output
    on = runner.invoke(args=["kill-switch", "on", "--reason", "freeze for the migration"])
    assert on.exit_code == 0, on.output
    assert "ENGAGED by console:" in on.output and "freeze for the migration" in on.output
    status = runner.invoke(args=["kill-switch", "status", "--json"])
    assert json.loads(status.output)["engaged"] is True
    assert runner.invoke(args=["kill-switch", "on", "--reason", "x"]).exit_code == 1
    off = runner.invoke(args=["kill-switch", "off"])
    assert off.exit_code == 0 and "released by console:" in off.output
    actions = [e.action for e in db_session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["kill_switch.engage", "kill_switch.release"]


# -- the dashboard ------------------------------------------------------------------


def test_dashboard_button_needs_confirmation_and_reason_and_shows_the_banner(admin, db_session):
    page = admin.get("/health").get_data(as_text=True)
    assert "Engage the kill switch" in page and "Kill switch engaged" not in page
    token = csrf_of(admin)
    unconfirmed = admin.post(
        "/health/kill-switch", data={"csrf_token": token, "engaged": "on", "reason": "why"}
    )
    assert unconfirmed.status_code == 303 and not engaged(db_session)
    no_reason = admin.post(
        "/health/kill-switch", data={"csrf_token": token, "engaged": "on", "confirm": "yes"}
    )
    assert no_reason.status_code == 303
    assert not engaged(db_session)
    no_csrf = admin.post("/health/kill-switch", data={"engaged": "on", "confirm": "yes"})
    assert no_csrf.status_code == 400
    done = admin.post(
        "/health/kill-switch",
        data={"csrf_token": token, "engaged": "on", "reason": "bad deploy", "confirm": "yes"},
    )
    assert done.status_code == 303
    for path in ("/", "/events", "/actions", "/rules", "/servers", "/health", "/audit"):
        html = admin.get(path).get_data(as_text=True)
        assert re.search(
            r"Kill switch engaged</strong> by dashboard:admin at .*bad deploy", html
        ), path
    assert "Release the kill switch" in admin.get("/health").get_data(as_text=True)
    admin.post(
        "/health/kill-switch", data={"csrf_token": token, "engaged": "off", "confirm": "yes"}
    )
    assert "Kill switch engaged" not in admin.get("/").get_data(as_text=True)
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.action.like("kill%"))).all()
    assert [(e.action, e.outcome, e.actor) for e in entries] == [
        ("kill_switch.engage", "refused", "admin"),
        ("kill_switch.engage", "ok", "admin"),
        ("kill_switch.release", "ok", "admin"),
    ]


def test_the_login_page_shows_no_banner(dash_app, db_session):
    engage(db_session)
    page = dash_app.test_client().get("/login").get_data(as_text=True)
    assert "Kill switch engaged" not in page


# -- a real worker, the simulator -----------------------------------------------------


def test_engaged_while_a_job_waits_on_its_delay(make_stack):
    stack = make_stack(DELAYED_LAUNCH)
    host_down(stack, SID)
    stack.drain(until=lambda: len(stack.jobs()) == 1)
    assert stack.jobs()[0].status == "scheduled"
    with stack.factory() as session:
        engage(session, reason="freeze")
    # Ingest goes on while engaged: the next event is stored and matched.
    host_down(stack, "6ccd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=lambda: len(stack.jobs()) == 2 and all(j.finished_at for j in stack.jobs()))
    assert [j.status for j in stack.jobs()] == ["skipped", "skipped"]
    assert all("kill switch engaged by dashboard:alice" in j.reason for j in stack.jobs())
    assert stack.state.calls("ServerLaunch") == []
    with stack.factory() as session:
        release_kill_switch(session, "dashboard:alice", utcnow())
        session.commit()
    stack.drain()
    assert stack.state.calls("ServerLaunch") == []  # releasing runs nothing by itself
    with stack.factory() as session:
        retry_job(session, stack.jobs()[0].id, "dashboard:alice")
        session.commit()
    stack.drain(until=lambda: stack.jobs()[0].finished_at is not None)
    assert stack.jobs()[0].status == "succeeded", stack.jobs()[0].error
    assert len(stack.state.calls("ServerLaunch")) == 1


def test_two_workers_see_the_switch_at_once(make_stack):
    from app.worker.loop import Worker

    stack = make_stack(DELAYED_LAUNCH.replace("delay: 1s", "delay: 0"))
    other = Worker(stack.worker.config, stack.factory, stack.worker.rules, worker_id="second")
    try:
        with stack.factory() as session:
            engage(session, reason="both must see it")
        host_down(stack, SID)
        host_down(stack, "6ccd72c5-908c-4535-a7ec-2fbf56486ff3")
        while stack.worker.process_one_event():
            pass
        assert len(stack.jobs()) == 2
        assert other.run_one_job() and stack.worker.run_one_job()
        jobs = stack.jobs()
        assert [j.status for j in jobs] == ["skipped", "skipped"]
        assert all(j.reason.endswith(": both must see it") for j in jobs)
        assert stack.state.calls("ServerLaunch") == []
    finally:
        other.clients.close()
        other.http.close()


def test_fresh_jobs_are_not_touched_by_engaging(db_session):
    matched(db_session, two_steps(), received_at=utcnow() - timedelta(minutes=1))
    engage(db_session)
    statuses = db_session.scalars(select(ActionJob.status)).all()
    assert statuses == ["scheduled", "scheduled"]
