"""Lifeguard's own events: stored with source lifeguard, matched by rules, never a loop."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.jobs import policy
from app.models.event import Event
from tests.scalr.conftest import receiver  # noqa: F401  (fixture)
from tests.worker.test_remediation_e2e import host_down

SID = "5bbd72c5-908c-4535-a7ec-2fbf56486ff3"


def own_events(stack, name: str | None = None) -> list[Event]:
    with stack.factory() as session:
        query = select(Event).where(Event.source == "lifeguard").order_by(Event.id)
        if name:
            query = query.where(Event.name == name)
        return list(session.scalars(query))


def settled(stack, count: int):
    return lambda: len(stack.jobs()) >= count and all(j.finished_at for j in stack.jobs())


def test_policy_a_lifeguard_event_emits_no_further_lifeguard_event():
    assert policy.emits_own_event("observer")
    assert policy.emits_own_event("webhook")
    assert not policy.emits_own_event("lifeguard")


def test_dead_job_emits_job_dead_which_a_rule_notifies_on(make_stack, receiver):  # noqa: F811
    stack = make_stack(f"""
rules:
  - name: reboot-it
    events: [HostDown]
    actions:
      - scalr: ServerReboot
        params: {{ServerID: "{{{{ event.server_id }}}}"}}
  - name: tell-ops
    events: [JobDead, BreakerOpened]
    actions:
      - webhook: {receiver.url}/ops
        body: {{text: "{{{{ event.name }}}} {{{{ event.data.job_id }}}} {{{{ event.server_id }}}}"}}
""")
    host_down(stack, SID, "&farm_id=1439&farm_role_id=1978")
    stack.drain(until=settled(stack, 2))
    reboot, notify = stack.jobs()
    assert reboot.status == "dead" and "not found" in reboot.error
    [dead] = own_events(stack, "JobDead")
    assert (dead.source, dead.server_id, dead.farm_id, dead.farm_role_id) == (
        "lifeguard",
        SID,
        1439,
        1978,
    )
    assert dead.data["job_id"] == reboot.id and dead.data["rule"] == "reboot-it"
    assert dead.data["trigger_event_id"] == reboot.event_id
    assert notify.event_id == dead.id and notify.status == "succeeded"
    sent = receiver.wait_for(1)[0]
    assert json.loads(sent.body) == {"text": f"JobDead {reboot.id} {SID}"}


def test_a_dying_rule_on_job_dead_does_not_feed_itself(make_stack):
    stack = make_stack("""
rules:
  - name: reboot-it
    events: [HostDown]
    actions:
      - scalr: ServerReboot
        params: {ServerID: "{{ event.server_id }}"}
  - name: tell-ops
    events: [JobDead]
    actions:
      - webhook: https://chat.example/not-allowed
""")
    host_down(stack, SID)
    stack.drain(until=settled(stack, 2))
    stack.drain()
    jobs = stack.jobs()
    assert [(j.rule, j.status) for j in jobs] == [("reboot-it", "dead"), ("tell-ops", "dead")]
    # The notification's own death is on its job, not another JobDead for the rule.
    assert len(own_events(stack, "JobDead")) == 1


def test_breaker_opening_emits_breaker_opened(make_stack):
    stack = make_stack(
        """
rules:
  - name: replace-web
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "1978"}
""",
        budget_max=1,
    )
    for i in range(3):
        host_down(stack, f"00000000-0000-4000-8000-{i:012d}", "&farm_id=1439&farm_role_id=1978")
    stack.drain(until=settled(stack, 3))
    [opened] = own_events(stack, "BreakerOpened")
    second = stack.jobs()[1]
    assert opened.data["job_id"] == second.id and opened.data["status"] == "skipped"
    assert "budget spent" in opened.message and opened.farm_role_id == 1978
    assert opened.server_id == "00000000-0000-4000-8000-000000000001"
