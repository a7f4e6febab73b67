"""Approvals: `approve: {within}` in the rules, the claim, expiry, API, console, dashboard, worker."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from app.db import utcnow
from app.jobs.approvals import approve_job, deny_job, expire_approvals
from app.jobs.control import ControlError, retry_job
from app.jobs.kill_switch import engage_kill_switch, release_kill_switch
from app.jobs.silences import create_silence
from app.models.controls import AuditEntry
from app.models.job import ActionJob
from app.rules.errors import RulesError
from app.rules.loader import load_rules
from tests.conftest import API_TOKEN
from tests.dashboard.conftest import post, use_rules
from tests.jobs.helpers import claim, jobs_of, later_event, matched
from tests.scalr.conftest import receiver  # noqa: F401  (fixture)
from tests.worker.test_remediation_e2e import host_down, host_up

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
SID = "5bbd72c5-908c-4535-a7ec-2fbf56486ff3"
APPROVED = """
rules:
  - name: approved-launch
    events: [HostDown]
    cancel_on: [HostUp]
    delay: {delay}
    actions:
      - webhook: https://chat.example/hooks/ops
        body: '{{"text": "approve {{{{ approval_url }}}}"}}'
      - scalr: ServerLaunch
        params: {{FarmRoleID: "1978", IncreaseMaxInstances: 1}}
        approve: {{within: {within}}}
      - webhook: https://chat.example/hooks/after
"""


def approved(within: str = "30m", delay: str = "0") -> object:
    return load_rules(APPROVED.format(within=within, delay=delay))


def first_done(session, ruleset) -> list[ActionJob]:
    """Match a HostDown of farm 1439, run its first action (the message), return its jobs."""
    jobs = matched(session, ruleset, farm_id=1439)
    assert claim(session, ruleset).status == "running"
    jobs[0].status = "succeeded"
    from app.jobs.chain import release_followers

    release_followers(session, jobs[0], utcnow())
    session.commit()
    return jobs_of(session, jobs[0].event_id)


def awaiting(session, ruleset, **fields) -> ActionJob:
    """Bring a rule's approval action to `awaiting_approval` through the real claim."""
    jobs = first_done(session, ruleset)
    job = claim(session, ruleset, **fields)
    assert job.id == jobs[1].id
    return job


# -- the rules file ---------------------------------------------------------------


def test_approve_is_read_per_action():
    rule = approved("45m").rules[0]
    assert rule.approvals == (None, 2700, None)
    assert rule.approve_within(1) == 2700 and rule.approve_within(0) is None


@pytest.mark.parametrize(
    ("approve", "message"),
    [
        ("{within: soon}", "bad duration"),
        ("{}", "missing required key 'within'"),
        ("{within: 30m, by: ops}", "unknown key 'by'"),
        ("30m", "expected a mapping"),
        ("{within: 8d}", "above the maximum"),
        ("{within: 0}", "below the minimum"),
    ],
)
def test_bad_approve_is_refused_with_its_line(approve, message):
    text = f"""rules:
  - name: r
    events: [HostDown]
    actions:
      - email: ops@example.com
        approve: {approve}
"""
    with pytest.raises(RulesError) as caught:
        load_rules(text)
    problems = caught.value.errors
    assert any(message in p.message and p.line == 6 for p in problems), problems


def test_approval_url_needs_an_approve_action():
    text = """rules:
  - name: r
    events: [HostDown]
    actions:
      - email: ops@example.com
        body: "see {{ approval_url }}"
"""
    with pytest.raises(RulesError) as caught:
        load_rules(text)
    assert "approval_url" in str(caught.value.errors[0].message)


def test_the_message_carries_the_link_to_the_job_page(db_session):
    jobs = matched(db_session, approved(), farm_id=1439)
    body = json.loads(jobs[0].params["body"])
    assert body["text"] == f"approve /actions/for/{jobs[0].event_id}/approved-launch/1"
    assert jobs[1].spec["approve_within"] == 1800


# -- the claim, the decisions, expiry ------------------------------------------------


def test_a_due_job_waits_for_a_person_and_blocks_the_rest(db_session):
    ruleset = approved()
    job = awaiting(db_session, ruleset)
    assert job.status == "awaiting_approval"
    assert job.reason.startswith("awaiting approval until ") and "(within 30m)" in job.reason
    assert job.spec["approval"]["expires_at"] > job.spec["approval"]["requested_at"]
    assert claim(db_session, ruleset) is None  # the follower waits for the decision
    assert jobs_of(db_session, job.event_id)[2].blocked


def test_approved_it_runs_through_the_guards(db_session):
    ruleset = approved()
    job = awaiting(db_session, ruleset)
    approved_job = approve_job(db_session, job.id, "dashboard:otto", utcnow(), "checked farm")
    db_session.commit()
    assert approved_job.status == "scheduled"
    assert approved_job.reason == "approved by dashboard:otto: checked farm"
    assert approved_job.spec["approval"]["decision"] == "approved"
    ran = claim(db_session, ruleset)
    assert ran.id == job.id and ran.status == "running"


def test_an_approval_does_not_pass_the_kill_switch_or_a_silence(db_session):
    ruleset = approved()
    job = awaiting(db_session, ruleset)
    second = awaiting(db_session, ruleset)
    approve_job(db_session, job.id, "api", utcnow())
    engage_kill_switch(db_session, "dashboard:ada", "freeze", utcnow())
    db_session.commit()
    skipped = claim(db_session, ruleset)
    assert skipped.status == "skipped" and skipped.reason.endswith(": freeze")
    release_kill_switch(db_session, "dashboard:ada", utcnow())
    now = utcnow()
    silence = create_silence(
        db_session, "api", {"farm_id": 1439}, now, now + timedelta(hours=1), "rebuild", now
    )
    approve_job(db_session, second.id, "api", utcnow())
    db_session.commit()
    assert claim(db_session, ruleset).reason == f"silenced by #{silence.id} (rebuild)"


def test_a_job_the_kill_switch_holds_never_asks(db_session):
    ruleset = approved()
    first_done(db_session, ruleset)
    engage_kill_switch(db_session, "dashboard:ada", "freeze", utcnow())
    db_session.commit()
    assert claim(db_session, ruleset).status == "skipped"


def test_denied_it_is_cancelled_and_the_chain_stops(db_session):
    ruleset = approved()
    job = awaiting(db_session, ruleset)
    denied = deny_job(db_session, job.id, "console:root", utcnow(), "not during the sale")
    db_session.commit()
    assert (denied.status, denied.reason) == (
        "cancelled",
        "denied by console:root: not during the sale",
    )
    after = jobs_of(db_session, job.event_id)[2]
    assert after.status == "skipped" and "on_failure is stop" in after.reason


def test_undecided_past_within_it_is_cancelled_and_cannot_be_approved(db_session):
    ruleset = approved("1m")
    job = awaiting(db_session, ruleset)
    assert expire_approvals(db_session, utcnow()) == 0  # not yet
    db_session.commit()
    late = utcnow() + timedelta(minutes=2)
    with pytest.raises(ControlError) as before_the_worker:
        approve_job(db_session, job.id, "api", late)
    assert before_the_worker.value.code == "approval_expired"
    db_session.rollback()
    assert expire_approvals(db_session, late) == 1
    db_session.commit()
    expired = jobs_of(db_session, job.event_id)[1]
    assert (expired.status, expired.reason) == ("cancelled", "approval expired")
    with pytest.raises(ControlError) as after:
        approve_job(db_session, job.id, "api", late)
    assert after.value.code == "approval_expired" and "expired" in after.value.message
    db_session.rollback()
    # A person may still run it again by hand: that person decided.
    retry_job(db_session, job.id, "dashboard:otto")
    db_session.commit()
    assert claim(db_session, ruleset).status == "running"


def test_only_a_job_awaiting_approval_can_be_decided(db_session):
    jobs = matched(db_session, approved(), farm_id=1439)
    for decide in (approve_job, deny_job):
        with pytest.raises(ControlError) as caught:
            decide(db_session, jobs[0].id, "api", utcnow())
        assert caught.value.code == "not_awaiting_approval"
        db_session.rollback()
    with pytest.raises(ControlError) as missing:
        approve_job(db_session, 99999, "api", utcnow())
    assert missing.value.code == "not_found"


def test_the_server_coming_back_cancels_a_job_awaiting_approval(db_session):
    from app.jobs.create import process_event

    ruleset = approved()
    job = awaiting(db_session, ruleset)
    up = later_event(db_session, "HostUp")
    process_event(db_session, up, ruleset, utcnow())
    db_session.commit()
    cancelled = jobs_of(db_session, job.event_id)[1]
    assert cancelled.status == "cancelled" and "HostUp" in cancelled.reason


# -- the API ------------------------------------------------------------------------


def test_api_approve_deny_and_bad_input(client, db_session):
    ruleset = approved()
    job = awaiting(db_session, ruleset)
    url = f"/api/v1/actions/{job.id}"
    assert client.get(url, headers=BEARER).get_json()["status"] == "awaiting_approval"
    listed = client.get("/api/v1/actions?status=awaiting_approval", headers=BEARER).get_json()
    assert [j["id"] for j in listed["items"]] == [job.id]
    bad = client.post(f"{url}/approve", headers=BEARER, json={"reason": 5})
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_reason"
    garbage = client.post(
        f"{url}/approve", headers={**BEARER, "Content-Type": "application/json"}, data="{"
    )
    assert garbage.status_code == 400 and garbage.get_json()["error"] == "invalid_body"
    listy = client.post(f"{url}/deny", headers=BEARER, json=["no"])
    assert listy.status_code == 400
    assert client.post("/api/v1/actions/99999/approve", headers=BEARER).status_code == 404
    assert client.post(f"{url}/approve", headers={}).status_code == 401
    ok = client.post(f"{url}/approve", headers=BEARER, json={"reason": "go"})
    assert ok.status_code == 200, ok.get_json()
    body = ok.get_json()
    assert body["status"] == "scheduled" and body["approval"]["decided_by"] == "api"
    again = client.post(f"{url}/deny", headers=BEARER, json={"reason": "late"})
    assert again.status_code == 409 and again.get_json()["error"] == "not_awaiting_approval"
    entries = db_session.scalars(
        select(AuditEntry).where(AuditEntry.target == f"job:{job.id}").order_by(AuditEntry.id)
    ).all()
    db_session.commit()
    assert [(e.action, e.outcome, e.reason) for e in entries] == [
        ("job.approve", "ok", "go"),
        ("job.deny", "refused", "late"),
    ]


def test_api_approve_after_expiry_is_a_clear_409(client, db_session):
    job = awaiting(db_session, approved("1m"))
    expire_approvals(db_session, utcnow() + timedelta(minutes=5))
    db_session.commit()
    late = client.post(f"/api/v1/actions/{job.id}/approve", headers=BEARER, json={})
    assert late.status_code == 409
    assert late.get_json()["error"] == "approval_expired"
    assert "approval expired" in late.get_json()["message"]


def test_api_lists_maintenance_windows(client):
    answer = client.get("/api/v1/maintenance", headers=BEARER)
    assert answer.status_code == 200 and answer.get_json() == {"items": [], "next_cursor": None}


# -- the console --------------------------------------------------------------------


def test_console_awaiting_approve_deny(app, db_session):
    ruleset = approved()
    one = awaiting(db_session, ruleset).id
    two = awaiting(db_session, ruleset).id
    db_session.commit()  # end the read: SQLite lets one writer in, the console's
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["actions", "awaiting"])
    assert f"#{one} approved-launch" in listed.output and f"#{two}" in listed.output
    yes = runner.invoke(args=["actions", "approve", str(one), "--reason", "checked"])
    assert yes.exit_code == 0, yes.output
    assert "scheduled: approved by console:" in yes.output and "checked" in yes.output
    no = runner.invoke(args=["actions", "deny", str(two), "--reason", "no"])
    assert no.exit_code == 0 and "cancelled: denied by console:" in no.output
    refused = runner.invoke(args=["actions", "approve", str(two)])
    assert refused.exit_code == 1 and "only a job awaiting approval" in refused.output
    assert runner.invoke(args=["actions", "approve", "x"]).exit_code == 2
    assert "no jobs awaiting approval" in runner.invoke(args=["actions", "awaiting"]).output
    rows = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    db_session.commit()
    assert [(r.action, r.outcome, r.via) for r in rows] == [
        ("job.approve", "ok", "console"),
        ("job.deny", "ok", "console"),
        ("job.approve", "refused", "console"),
    ]


# -- the dashboard -------------------------------------------------------------------


def test_dashboard_approve_needs_a_reason_and_csrf(dash_app, admin, db_session, tmp_path):
    use_rules(dash_app, tmp_path / "rules.yml", APPROVED.format(within="30m", delay="0"))
    ruleset = approved()
    job = awaiting(db_session, ruleset)
    page = admin.get(f"/actions/{job.id}").get_data(as_text=True)
    assert "Awaiting approval</strong> until" in page and "Approve this action" in page
    assert "Deny this action" in page
    overview = admin.get("/").get_data(as_text=True)
    assert "1 action awaits approval" in overview
    no_reason = post(admin, f"/actions/{job.id}/approve")
    assert no_reason.status_code == 303
    assert "needs a reason" in admin.get(f"/actions/{job.id}").get_data(as_text=True)
    no_csrf = admin.post(f"/actions/{job.id}/approve", data={"reason": "x"})
    assert no_csrf.status_code == 400
    db_session.expire_all()
    assert db_session.get(ActionJob, job.id).status == "awaiting_approval"
    db_session.commit()
    done = post(admin, f"/actions/{job.id}/approve", reason="farm looked fine")
    assert done.status_code == 303
    page = admin.get(f"/actions/{job.id}").get_data(as_text=True)
    assert "approved: it runs now" in page and "approved by dashboard:admin" in page
    again = post(admin, f"/actions/{job.id}/deny", reason="too late")
    assert again.status_code == 303
    assert "only a job awaiting approval" in admin.get(f"/actions/{job.id}").get_data(as_text=True)
    # The link of the rule's message leads to the job.
    link = admin.get(f"/actions/for/{job.event_id}/approved-launch/1")
    assert link.status_code == 303 and link.headers["Location"].endswith(f"/actions/{job.id}")
    assert admin.get(f"/actions/for/{job.event_id}/approved-launch/7").status_code == 404


# -- a real worker, the simulator, a chat receiver ----------------------------------------


def worker_rules(receiver_url: str, within: str) -> str:
    return APPROVED.format(within=within, delay="0").replace("https://chat.example", receiver_url)


def test_approved_the_simulator_gets_the_call_exactly_once(make_stack, receiver):  # noqa: F811
    receiver.answer = b"ok"
    stack = make_stack(
        worker_rules(receiver.url, "30m"),
        public_url="https://lifeguard.example",
        api_token=API_TOKEN,
    )
    host_down(stack, SID, "&farm_id=1439")
    stack.drain(until=lambda: any(j.status == "awaiting_approval" for j in stack.jobs()))
    message, launch, after = stack.jobs()
    assert message.status == "succeeded", message.error
    sent = json.loads(receiver.wait_for(1)[0].body)
    link = f"https://lifeguard.example/actions/for/{launch.event_id}/approved-launch/1"
    assert sent == {"text": f"approve {link}"}
    stack.drain(timeout=1.0)
    assert stack.state.calls("ServerLaunch") == []  # nobody approved yet
    api = f"http://127.0.0.1:{stack.web.port}/api/v1/actions/{launch.id}/approve"
    answer = requests.post(api, headers=BEARER, json={"reason": "go"}, timeout=5)
    assert answer.status_code == 200, answer.text
    stack.drain(until=lambda: all(j.finished_at for j in stack.jobs()))
    message, launch, after = stack.jobs()
    assert launch.status == "succeeded", (launch.status, launch.reason, launch.error)
    assert after.status == "succeeded"
    stack.drain(timeout=1.0)
    assert len(stack.state.calls("ServerLaunch")) == 1
    again = requests.post(api, headers=BEARER, json={}, timeout=5)
    assert again.status_code == 409
    assert len(stack.state.calls("ServerLaunch")) == 1


def test_denied_nothing_is_called(make_stack, receiver):  # noqa: F811
    receiver.answer = b"ok"
    stack = make_stack(worker_rules(receiver.url, "30m"))
    host_down(stack, SID, "&farm_id=1439")
    stack.drain(until=lambda: any(j.status == "awaiting_approval" for j in stack.jobs()))
    launch = stack.jobs()[1]
    runner = stack.app.test_cli_runner()
    denied = runner.invoke(args=["actions", "deny", str(launch.id), "--reason", "no"])
    assert denied.exit_code == 0, denied.output
    stack.drain(until=lambda: all(j.finished_at for j in stack.jobs()))
    assert [j.status for j in stack.jobs()] == ["succeeded", "cancelled", "skipped"]
    assert stack.state.calls("ServerLaunch") == []
    assert len(receiver.requests) == 1


def test_an_approval_that_expires(make_stack, receiver):  # noqa: F811
    receiver.answer = b"ok"
    stack = make_stack(worker_rules(receiver.url, "2s"), api_token=API_TOKEN)
    host_down(stack, SID, "&farm_id=1439")
    stack.drain(until=lambda: any(j.status == "awaiting_approval" for j in stack.jobs()))
    launch = stack.jobs()[1]
    time.sleep(2.2)
    stack.drain(until=lambda: stack.jobs()[1].status == "cancelled", timeout=10)
    assert stack.jobs()[1].reason == "approval expired"
    api = f"http://127.0.0.1:{stack.web.port}/api/v1/actions/{launch.id}/approve"
    late = requests.post(api, headers=BEARER, json={}, timeout=5)
    assert late.status_code == 409 and late.json()["error"] == "approval_expired"
    assert stack.state.calls("ServerLaunch") == []


def test_the_server_back_before_anyone_decides(make_stack, receiver):  # noqa: F811
    receiver.answer = b"ok"
    stack = make_stack(worker_rules(receiver.url, "30m"))
    host_down(stack, SID, "&farm_id=1439")
    stack.drain(until=lambda: any(j.status == "awaiting_approval" for j in stack.jobs()))
    host_up(stack, SID)
    stack.drain(until=lambda: stack.jobs()[1].status == "cancelled")
    assert "HostUp" in stack.jobs()[1].reason
    assert stack.state.calls("ServerLaunch") == []


THROTTLED = """
rules:
  - name: approved-launch
    events: [HostDown]
    throttle: {key: "{{ event.farm_id }}", max: 1, per: 1h}
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "1978", IncreaseMaxInstances: 1}
        approve: {within: 30m}
"""


def test_an_approval_does_not_pass_the_throttle_or_the_budget(db_session):
    ruleset = load_rules(THROTTLED)
    ids = []
    for _ in range(3):
        matched(db_session, ruleset, farm_id=1439)
        job = claim(db_session, ruleset)
        assert job.status == "awaiting_approval"
        ids.append(job.id)
    for job_id in ids[:2]:
        approve_job(db_session, job_id, "api", utcnow())
    db_session.commit()
    assert claim(db_session, ruleset).status == "running"  # the first fires
    second = claim(db_session, ruleset)
    assert second.id == ids[1] and second.status == "skipped"
    assert second.reason.startswith("throttled: rule fired 1 times")
    # The budget: with room for none, an approved changing action is skipped.
    approve_job(db_session, ids[2], "api", utcnow())
    db_session.commit()
    third = claim(db_session, load_rules(THROTTLED.replace("max: 1", "max: 9")), budget_max=1)
    assert third.id == ids[2] and third.status == "skipped"
    assert third.reason.startswith("budget spent: 1 Scalr actions")


def test_the_rule_preview_renders_the_link():
    from app.queries.rules import try_rule

    rule = approved().rules[0]
    result = try_rule(rule, {"id": 41, "name": "HostDown", "farm_id": 1439})
    body = json.loads(result["actions"][0]["params"]["body"])
    assert body == {"text": "approve /actions/for/41/approved-launch/1"}


def test_an_email_carries_the_link_with_public_url():
    from app.rules.templating import render_action

    ruleset = load_rules("""
rules:
  - name: ask-ops
    events: [HostDown]
    actions:
      - email: ops@example.com
        subject: "approve {{ event.server_id }}"
        body: "Decide here: {{ approval_url }}"
      - scalr: ServerReboot
        params: {ServerID: "{{ event.server_id }}"}
        approve: {within: 1h}
""")
    rule = ruleset.rules[0]
    event = {"id": 7, "name": "HostDown", "server_id": SID}
    mail = render_action(rule.actions[0], event, rule=rule, public_url="https://lg.example/")
    assert mail.params["body"] == "Decide here: https://lg.example/actions/for/7/ask-ops/1"


@pytest.mark.parametrize(
    "raw", ["ftp://lg.example", "lg.example", "https://", "https://a b", "https://x/?q=1"]
)
def test_a_public_url_that_is_not_one_is_refused(raw):
    from app.config import Config, ConfigError

    with pytest.raises(ConfigError) as caught:
        Config.from_env({"PUBLIC_URL": raw})
    assert "PUBLIC_URL" in str(caught.value)


def test_a_public_url_loses_its_trailing_slash():
    from app.config import Config

    assert Config.from_env({"PUBLIC_URL": " https://lg.example/ops/ "}).public_url == (
        "https://lg.example/ops"
    )
    assert Config.from_env({}).public_url == ""
