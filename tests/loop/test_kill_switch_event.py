"""KillSwitchEngaged: engaging the kill switch emits an own event that a rule notifies on."""

from __future__ import annotations

import json

import requests

from app.jobs import policy
from tests.loop.test_own_events import SID, own_events
from tests.scalr.conftest import receiver  # noqa: F401  (fixture)
from tests.worker.test_remediation_e2e import host_down


def test_policy_only_the_kill_switch_events_own_notifications_pass():
    assert policy.tells_of_kill_switch("KillSwitchEngaged", "lifeguard")
    assert not policy.tells_of_kill_switch("KillSwitchEngaged", "observer")  # a forged one
    assert not policy.tells_of_kill_switch("HostDown", "lifeguard")


def test_engaging_emits_kill_switch_engaged_and_its_rule_notifies(make_stack, receiver):  # noqa: F811
    stack = make_stack(
        f"""
rules:
  - name: reboot-it
    events: [HostDown]
    actions:
      - scalr: ServerReboot
        params: {{ServerID: "{{{{ event.server_id }}}}"}}
      - webhook: {receiver.url}/remediation
  - name: tell-ops
    events: [KillSwitchEngaged]
    actions:
      - webhook: {receiver.url}/ops
        body: {{who: "{{{{ event.data.engaged_by }}}}", why: "{{{{ event.data.reason }}}}"}}
""",
        api_token="api-secret",
    )
    base = f"http://127.0.0.1:{stack.web.port}/api/v1"
    auth = {"Authorization": "Bearer api-secret"}
    answer = requests.post(
        f"{base}/kill-switch",
        json={"engaged": True, "reason": "bad image in prod"},
        headers=auth,
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    # Engaging twice is refused and emits nothing more.
    again = requests.post(
        f"{base}/kill-switch", json={"engaged": True, "reason": "x"}, headers=auth, timeout=5
    )
    assert again.status_code == 409
    [event] = own_events(stack, "KillSwitchEngaged")
    assert event.source == "lifeguard" and event.data["reason"] == "bad image in prod"
    assert "bad image in prod" in event.message and event.data["engaged_by"]
    host_down(stack, SID, "&farm_id=1439&farm_role_id=1978")
    stack.drain(until=lambda: len(stack.jobs()) == 3 and all(j.finished_at for j in stack.jobs()))
    by_rule = {(j.rule, j.action_index): j for j in stack.jobs()}
    tell = by_rule[("tell-ops", 0)]
    assert tell.status == "succeeded", tell.reason
    sent = [json.loads(r.body) for r in receiver.requests if r.path == "/ops"]
    assert sent == [{"who": event.data["engaged_by"], "why": "bad image in prod"}]
    # Everything else is still held back: the reboot and its rule's own webhook.
    assert by_rule[("reboot-it", 0)].status == "skipped"
    assert by_rule[("reboot-it", 0)].reason.startswith("kill switch engaged by ")
    assert stack.state.calls("ServerReboot") == []
    assert not any(r.path == "/remediation" for r in receiver.requests)
