"""End to end on loopback: real legacy deliveries, the worker, the Scalr simulator."""

from __future__ import annotations

from datetime import timedelta

import requests
from sqlalchemy import select

from app.db import transaction
from app.inventory.sync import sync_all
from app.jobs.control import close_breaker, run_job_now
from app.models.event import Event
from app.models.inventory import Server
from app.models.ops import Breaker
from simulator import Fault

FORM = {"Content-Type": "application/x-www-form-urlencoded"}

REPLACE_WEB = """
rules:
  - name: replace-web
    events: [HostDown]
    where: {farm_role_id: 1978}
    EXTRA
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}", IncreaseMaxInstances: 1}
        ACTION_EXTRA
"""


def rules(extra: str = "", action_extra: str = "") -> str:
    return REPLACE_WEB.replace("ACTION_EXTRA", action_extra).replace("EXTRA", extra)


def host_down(stack, server_id: str, query: str = "") -> int:
    message = f"Instance {server_id} (54.211.17.89) Internal IP: 10.183.42.7 terminated"
    body = {"event": "OnHostDown", "message": message}
    answer = requests.post(stack.web.events_url + query, data=body, timeout=5)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def host_up(stack, server_id: str) -> int:
    message = f"Instance {server_id} Public IP: 54.211.17.89 Internal IP: 10.183.42.7 is UP"
    answer = requests.post(
        stack.web.events_url, data={"event": "OnHostUp", "message": message}, timeout=5
    )
    assert answer.status_code == 202
    return answer.json()["id"]


def launches(stack) -> list:
    return [c for c in stack.state.calls("ServerLaunch") if c.outcome == "ok"]


def test_hostdown_replaced_through_inventory_and_hostup_comes_back(make_stack):
    stack = make_stack(rules())
    # The inventory learns farm roles from Scalr itself.
    synced = sync_all(
        stack.factory, stack.worker.clients, stack.worker.config.environ, stack.worker.clock
    )
    assert synced["default"] >= 3
    victim = next(s for s in stack.state.servers.values() if s.farm_role_id == 1978)
    stack.state.terminate_server(victim)
    stack.state.advance(5)
    stack.state.notifier.flush()
    stack.drain(until=lambda: any(j.status == "succeeded" for j in stack.jobs()))
    job = stack.jobs()[0]
    assert (job.action, job.params["FarmRoleID"], job.status) == (
        "ServerLaunch",
        "1978",
        "succeeded",
    )
    assert job.transaction_id and job.result["ServerID"]
    with stack.factory() as session:
        down = session.scalars(select(Event).where(Event.name == "HostDown")).one()
        assert down.server_id == victim.server_id
        assert down.farm_role_id == 1978
        assert "farm_role_id" in down.enriched_fields
    call = launches(stack)[0]
    assert call.params["FarmRoleID"] == "1978" and call.params["IncreaseMaxInstances"] == "1"
    # The replacement boots in the simulator, which notifies Lifeguard of it.
    stack.state.advance(10)
    stack.state.notifier.flush()
    new_id = job.result["ServerID"]
    with stack.factory() as session:
        names = list(session.scalars(select(Event.name).where(Event.server_id == new_id)))
    assert "HostUp" in names
    stack.drain()
    with stack.factory() as session:
        assert session.get(Server, new_id).status == "Running"


def test_delay_then_hostup_cancels_the_launch(make_stack):
    stack = make_stack(rules(extra="delay: 1s\n    cancel_on: [HostUp]"))
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_role_id=1978")
    stack.drain(until=lambda: len(stack.jobs()) == 1)
    assert stack.jobs()[0].status == "scheduled"
    host_up(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=lambda: stack.jobs()[0].status == "cancelled")
    assert "HostUp" in stack.jobs()[0].reason
    assert launches(stack) == []


def test_delay_without_hostup_launches_once(make_stack):
    stack = make_stack(rules(extra="delay: 1s\n    cancel_on: [HostUp]"))
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_role_id=1978")
    stack.drain(
        until=lambda: bool(stack.jobs()) and stack.jobs()[0].status == "succeeded", timeout=10
    )
    stack.drain()
    assert len(launches(stack)) == 1


def test_storm_is_throttled(make_stack):
    stack = make_stack(rules(extra='throttle: {key: "{{ event.farm_role_id }}", max: 3, per: 1h}'))
    for i in range(50):
        host_down(stack, f"00000000-0000-4000-8000-{i:012d}", "&farm_role_id=1978")
    stack.drain(
        until=lambda: len(stack.jobs()) == 50 and all(j.finished_at for j in stack.jobs()),
        timeout=30,
    )
    statuses = [j.status for j in stack.jobs()]
    assert statuses.count("succeeded") == 3
    assert statuses.count("skipped") == 47
    assert all("throttled" in j.reason for j in stack.jobs() if j.status == "skipped")
    assert len(launches(stack)) == 3


def test_budget_opens_the_breaker_until_a_person_closes_it(make_stack):
    stack = make_stack(rules(), budget_max=2)
    for i in range(5):
        host_down(stack, f"00000000-0000-4000-8000-{i:012d}", "&farm_role_id=1978")
    stack.drain(until=lambda: len(stack.jobs()) == 5 and all(j.finished_at for j in stack.jobs()))
    statuses = [j.status for j in stack.jobs()]
    assert statuses.count("succeeded") == 2
    assert statuses.count("skipped") == 3
    with stack.factory() as session:
        breaker = session.get(Breaker, "default")
        assert breaker.is_open and "budget spent" in breaker.reason
    # Closing the breaker is a person saying "go on": the budget starts afresh from then.
    with transaction(stack.factory) as session:
        close_breaker(session, "default", "oncall")
    for i in range(3):
        host_down(stack, f"00000000-0000-4000-8000-0000000001{i:02d}", "&farm_role_id=1978")
    stack.drain(until=lambda: len(stack.jobs()) == 8 and all(j.finished_at for j in stack.jobs()))
    assert [j.status for j in stack.jobs()[5:]] == ["succeeded", "succeeded", "skipped"]
    assert stack.jobs()[-1].reason.startswith("budget spent")
    assert len(launches(stack)) == 4
    with stack.factory() as session:
        assert session.get(Breaker, "default").is_open


def test_dry_run_records_the_call_and_makes_none(make_stack):
    stack = make_stack(rules(extra="dry_run: true"))
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_role_id=1978")
    stack.drain(until=lambda: bool(stack.jobs()) and stack.jobs()[0].finished_at is not None)
    job = stack.jobs()[0]
    assert job.status == "dry_run"
    assert job.result == {
        "would_call": {
            "kind": "scalr",
            "action": "ServerLaunch",
            "params": {"FarmRoleID": "1978", "IncreaseMaxInstances": 1},
        }
    }
    assert stack.state.calls("ServerLaunch") == []


def test_global_dry_run(make_stack):
    stack = make_stack(rules(), dry_run=True)
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_role_id=1978")
    stack.drain(until=lambda: bool(stack.jobs()) and stack.jobs()[0].finished_at is not None)
    assert stack.jobs()[0].status == "dry_run"
    assert stack.state.calls("ServerLaunch") == []


def test_unknown_farm_role_skips_instead_of_calling_with_empty_id(make_stack):
    stack = make_stack(rules().replace("where: {farm_role_id: 1978}", "where: {}"))
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=lambda: bool(stack.jobs()) and stack.jobs()[0].finished_at is not None)
    job = stack.jobs()[0]
    assert job.status == "skipped"
    assert job.reason.startswith("template:") and "farm_role_id" in job.reason
    assert stack.state.calls() == []


def test_guard_below_min_instances(make_stack):
    stack = make_stack(rules(action_extra="guard: below_min_instances"))
    # Farm role 1978 has its minimum (2) running: Scalr needs no help.
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_id=1439&farm_role_id=1978")
    stack.drain(until=lambda: bool(stack.jobs()) and stack.jobs()[0].finished_at is not None)
    first = stack.jobs()[0]
    assert first.status == "skipped" and "already has 2" in first.reason
    assert launches(stack) == []
    # One really goes away: now the guard lets the launch through.
    victim = next(s for s in stack.state.servers.values() if s.farm_role_id == 1978)
    stack.state.notifier.config.default_url = None
    stack.state.terminate_server(victim)
    stack.state.advance(5)
    host_down(stack, victim.server_id, "&farm_id=1439&farm_role_id=1978")
    stack.drain(until=lambda: len(stack.jobs()) == 2 and stack.jobs()[1].finished_at is not None)
    assert stack.jobs()[1].status == "succeeded"
    assert len(launches(stack)) == 1


def test_scalr_error_answer_is_dead_at_once(make_stack):
    stack = make_stack(rules())
    stack.state.add_fault(
        Fault(kind="error", action="ServerLaunch", message="Farm Role ID #1978 not found & gone")
    )
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_role_id=1978")
    stack.drain(until=lambda: bool(stack.jobs()) and stack.jobs()[0].finished_at is not None)
    job = stack.jobs()[0]
    assert job.status == "dead" and job.attempts == 1
    assert "Farm Role ID #1978 not found & gone" in job.error
    assert job.transaction_id


def test_5xx_then_recovery(make_stack):
    stack = make_stack(rules())
    stack.state.add_fault(Fault(kind="status", status=503, action="ServerLaunch", remaining=2))
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_role_id=1978")
    stack.drain(until=lambda: bool(stack.jobs()) and stack.jobs()[0].status == "succeeded")
    job = stack.jobs()[0]
    assert job.attempts == 3
    with stack.factory() as session:
        from app.models.job import JobAttempt

        outcomes = list(
            session.scalars(
                select(JobAttempt.outcome)
                .where(JobAttempt.job_id == job.id)
                .order_by(JobAttempt.number)
            )
        )
    assert outcomes == ["retry", "retry", "succeeded"]


def test_429_waits_for_the_next_hour_then_run_now_recovers(make_stack):
    stack = make_stack(rules())
    stack.state.add_fault(Fault(kind="status", status=429, action="ServerLaunch", remaining=1))
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_role_id=1978")
    stack.drain(until=lambda: bool(stack.jobs()) and stack.jobs()[0].status == "retrying")
    job = stack.jobs()[0]
    # Scalr's limit is a clock-hour window (protocol 3.5): the retry waits for the next hour.
    next_hour = job.started_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert job.run_at >= next_hour - timedelta(seconds=1)
    with transaction(stack.factory) as session:
        run_job_now(session, job.id, "oncall")
    stack.drain(until=lambda: stack.jobs()[0].status == "succeeded")
    assert len(launches(stack)) == 1


def test_actions_run_in_order_and_stop_on_failure(make_stack):
    text = """
rules:
  - name: two-steps
    events: [HostDown]
    actions:
      - scalr: ServerReboot
        params: {ServerID: "{{ event.server_id }}"}
      - scalr: ServerLaunch
        params: {FarmRoleID: "1978"}
"""
    stack = make_stack(text)
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=lambda: len(stack.jobs()) == 2 and all(j.finished_at for j in stack.jobs()))
    first, second = stack.jobs()
    assert first.status == "dead"  # the simulator knows no such server
    assert "not found" in first.error
    assert second.status == "skipped" and "on_failure is stop" in second.reason
    assert launches(stack) == []


def test_storm_of_50_stops_at_the_budget_and_opens_the_breaker(make_stack):
    stack = make_stack(
        rules(extra='throttle: {key: "{{ event.farm_role_id }}", max: 10, per: 1h}'), budget_max=4
    )
    for i in range(50):
        host_down(stack, f"00000000-0000-4000-8000-{i:012d}", "&farm_role_id=1978")
    stack.drain(
        until=lambda: len(stack.jobs()) == 50 and all(j.finished_at for j in stack.jobs()),
        timeout=30,
    )
    jobs = stack.jobs()
    assert [j.status for j in jobs].count("succeeded") == 4
    reasons = [j.reason for j in jobs if j.status == "skipped"]
    assert len(reasons) == 46
    assert sum(r.startswith("budget spent") for r in reasons) == 1
    assert (
        sum(r.startswith("remediation breaker of environment 'default' is open") for r in reasons)
        == 45
    )
    assert len(launches(stack)) == 4
    with stack.factory() as session:
        assert session.get(Breaker, "default").is_open


def test_replaying_an_event_makes_no_second_job(make_stack):
    stack = make_stack(rules())
    event_id = host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_role_id=1978")
    stack.drain()
    assert len(stack.jobs()) == 1
    with transaction(stack.factory) as session:
        session.get(Event, event_id).processed_at = None
    stack.drain()
    assert len(stack.jobs()) == 1
    assert len(launches(stack)) == 1
