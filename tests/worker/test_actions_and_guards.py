"""Webhook and e-mail actions against real loopback servers; guards and explanations."""

from __future__ import annotations

import json
import time

import requests

from app.db import transaction
from app.jobs.claim import claim_job
from app.jobs.control import set_rule_dry_run, set_rule_paused
from app.models.event import Event
from tests.mailbox import smtp  # noqa: F401  (fixture)
from tests.scalr.conftest import receiver  # noqa: F401  (fixture)
from tests.worker.test_remediation_e2e import host_down, host_up


def finished(stack, count: int):
    return lambda: len(stack.jobs()) == count and all(j.finished_at for j in stack.jobs())


def test_webhook_action_posts_rendered_json(make_stack, receiver):  # noqa: F811
    receiver.answer = b"ok"
    stack = make_stack(f"""
rules:
  - name: tell-chat
    events: [HostDown]
    actions:
      - webhook: {receiver.url}/hooks/ops
        headers: {{X-Team: ops}}
        body: {{text: "replacing {{{{ event.server_id }}}}"}}
""")
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=finished(stack, 1))
    job = stack.jobs()[0]
    assert job.status == "succeeded", job.error
    sent = receiver.wait_for(1)[0]
    assert sent.path == "/hooks/ops" and sent.headers["X-Team"] == "ops"
    assert json.loads(sent.body) == {"text": "replacing 5bbd72c5-908c-4535-a7ec-2fbf56486ff3"}
    assert job.result["status"] == 200


def test_webhook_to_a_url_not_allowed_is_dead(make_stack, receiver):  # noqa: F811
    stack = make_stack(
        f"""
rules:
  - name: tell-chat
    events: [HostDown]
    actions:
      - webhook: {receiver.url}/x
""",
        webhook_allowed_urls=("https://chat.example/",),
    )
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=finished(stack, 1))
    job = stack.jobs()[0]
    assert job.status == "dead" and "WEBHOOK_ALLOWED_URLS" in job.error
    assert receiver.requests == []


def test_email_action_through_a_real_smtp_server(make_stack, smtp):  # noqa: F811
    box, port = smtp
    stack = make_stack(
        """
rules:
  - name: mail-ops
    events: [HostDown]
    actions:
      - email: [ops@example.com, lead@example.com]
        subject: "{{ event.name }} on {{ event.server_id }}"
        body: "Server {{ event.server_id }} went down."
""",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="lifeguard@example.com",
    )
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=finished(stack, 1))
    assert stack.jobs()[0].status == "succeeded", stack.jobs()[0].error
    deadline = time.monotonic() + 5
    while not box.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    message = box.messages[0]
    assert message["to"] == ["ops@example.com", "lead@example.com"]
    assert "Subject: HostDown on 5bbd72c5-908c-4535-a7ec-2fbf56486ff3" in message["data"]
    assert "went down." in message["data"]


def test_email_server_down_retries_then_dies(make_stack):
    stack = make_stack(
        """
rules:
  - name: mail-ops
    events: [HostDown]
    actions:
      - email: ops@example.com
        max_attempts: 2
""",
        smtp_host="127.0.0.1",
        smtp_port=1,
    )
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=finished(stack, 1))
    job = stack.jobs()[0]
    assert job.status == "dead" and job.attempts == 2
    assert "gave up after 2 attempts" in job.reason


def test_on_failure_continue_runs_the_next_action(make_stack, receiver):  # noqa: F811
    stack = make_stack(f"""
rules:
  - name: reboot-then-tell
    events: [HostDown]
    on_failure: continue
    actions:
      - scalr: ServerReboot
        params: {{ServerID: "{{{{ event.server_id }}}}"}}
      - webhook: {receiver.url}/after
""")
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=finished(stack, 2))
    first, second = stack.jobs()
    assert (first.status, second.status) == ("dead", "succeeded")
    assert receiver.wait_for(1)[0].path == "/after"


def test_paused_rule_skips_and_dry_run_switch_overrides_the_file(make_stack, receiver):  # noqa: F811
    stack = make_stack(f"""
rules:
  - name: tell
    events: [HostDown]
    actions:
      - webhook: {receiver.url}/x
""")
    with transaction(stack.factory) as session:
        set_rule_paused(session, "tell", True, "oncall")
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=finished(stack, 1))
    assert stack.jobs()[0].status == "skipped" and "paused by oncall" in stack.jobs()[0].reason
    with transaction(stack.factory) as session:
        set_rule_paused(session, "tell", False, "oncall")
        set_rule_dry_run(session, "tell", True, "oncall")
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=finished(stack, 2))
    assert stack.jobs()[1].status == "dry_run"
    assert receiver.requests == []


def test_explanations_say_why_a_rule_did_not_fire(make_stack):
    stack = make_stack("""
rules:
  - name: web-only
    events: [HostDown]
    where: {farm_role_id: 1978}
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}"}
""")
    event_id = host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_role_id=1979")
    stack.drain()
    with stack.factory() as session:
        event = session.get(Event, event_id)
    [evaluation] = event.evaluations
    assert evaluation["rule_name"] == "web-only" and evaluation["matched"] is False
    failure = evaluation["failures"][0]
    assert failure["actual"] == 1979 and failure["expected"] == 1978
    assert "farm_role_id" in evaluation["reason"]
    assert stack.jobs() == []
    assert event.rules_version == stack.worker.rules.current.version


def test_claim_time_cancel_catches_an_event_not_yet_matched(make_stack):
    """A HostUp stored but not yet processed still cancels a due job (no race window)."""
    stack = make_stack("""
rules:
  - name: replace
    events: [HostDown]
    cancel_on: [HostUp]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "1978"}
""")
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.worker.process_one_event()
    host_up(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")  # stored, not processed
    with transaction(stack.factory) as session:
        job = claim_job(
            session, stack.worker.rules.current, stack.worker.config, "w", stack.worker.clock()
        )
        assert job is not None and job.status == "cancelled"
        assert "HostUp" in job.reason
    assert stack.state.calls("ServerLaunch") == []


def test_rules_file_change_is_picked_up_without_restart(make_stack, receiver):  # noqa: F811
    stack = make_stack("rules: []\n")
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain()
    assert stack.jobs() == []
    stack.rules_path.write_text(f"""
rules:
  - name: tell
    events: [HostDown]
    actions:
      - webhook: {receiver.url}/x
""")
    stack.worker._last["rules"] = 0
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=finished(stack, 1))
    assert stack.jobs()[0].status == "succeeded"
    # A broken edit keeps the last good rules running.
    stack.rules_path.write_text("rules:\n  - name: [broken\n")
    stack.worker._last["rules"] = 0
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    stack.drain(until=finished(stack, 2))
    assert stack.worker.rules.status().ok is False
    assert stack.jobs()[1].status == "succeeded"


def test_events_wait_while_no_good_rules_were_ever_loaded(make_stack):
    stack = make_stack("rules: []\n")
    stack.rules_path.write_text("rules: {not: a list}\n")
    fresh = type(stack.worker.rules)(stack.rules_path)
    fresh.reload_if_changed()
    stack.worker.rules = fresh
    event_id = host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    assert stack.worker.process_one_event() is False
    with stack.factory() as session:
        assert session.get(Event, event_id).processed_at is None
    assert requests.get(f"http://127.0.0.1:{stack.web.port}/healthz", timeout=5).status_code == 200


def test_an_event_that_breaks_matching_does_not_block_the_rest(make_stack, monkeypatch):
    from app.jobs import create

    stack = make_stack("rules: []\n")
    bad = host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    good = host_up(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3")
    real = create._match

    def breaks_on_the_first(session, event, *rest):
        if event.id == bad:
            raise RuntimeError("a bug in matching")
        return real(session, event, *rest)

    monkeypatch.setattr(create, "_match", breaks_on_the_first)
    stack.drain()
    with stack.factory() as session:
        broken = session.get(Event, bad)
        fine = session.get(Event, good)
    assert broken.processed_at is not None
    assert (
        "internal error while matching: RuntimeError: a bug in matching"
        in broken.evaluations[0]["reason"]
    )
    assert fine.processed_at is not None and fine.evaluations == []


def test_inventory_sync_runs_once_per_interval_however_many_workers(make_stack):
    from sqlalchemy import func, select

    from app.models.inventory import Server
    from app.models.ops import PeriodicTask
    from app.worker.loop import Worker

    stack = make_stack("rules: []\n")
    other = Worker(stack.worker.config, stack.factory, stack.worker.rules, worker_id="other-worker")
    try:
        stack.worker.sync_inventory(300)
        other.sync_inventory(300)
    finally:
        other.clients.close()
        other.http.close()
    assert len(stack.state.calls("FarmsList")) == 1
    with stack.factory() as session:
        task = session.get(PeriodicTask, "inventory_sync")
        assert task.last_run_by == "test-worker"
        assert task.last_result.startswith("default: ")
        servers = session.scalar(select(func.count()).select_from(Server))
    assert servers == len(stack.state.servers)
