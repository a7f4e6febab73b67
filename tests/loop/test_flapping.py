"""Flapping: a server that keeps going down and up has its jobs skipped; FlapDetected once."""

from __future__ import annotations

import json

from app.jobs import policy
from tests.loop.test_own_events import own_events
from tests.rules.helpers import load, only_problem, rule_yaml
from tests.scalr.conftest import receiver  # noqa: F401  (fixture)


def test_policy_flap_transitions():
    assert policy.flap_transitions([]) == 0
    assert policy.flap_transitions(["HostDown", "HostDown", "IPAddressChanged"]) == 0
    assert policy.flap_transitions(["HostDown", "HostInit", "HostUp", "HostCrash"]) == 2
    names = ["RebootBegin", "RebootComplete"] * 3
    assert policy.flap_transitions(names) == 5


def test_policy_flapping():
    assert policy.flapping("s", 3, 3, 1800) is None
    assert policy.flapping("s", 9, 0, 1800) is None  # off
    verdict = policy.flapping("s", 4, 3, 1800)
    assert verdict.status == "skipped"
    assert verdict.reason == (
        "flapping: server s changed between down and up 4 times in the last 30m (max 3); "
        "remediation waits until it is quiet for 30m"
    )


def test_policy_new_flap_episode():
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert policy.new_flap_episode(None, now, 60)
    assert not policy.new_flap_episode(now - timedelta(seconds=30), now, 60)
    assert policy.new_flap_episode(now - timedelta(seconds=61), now, 60)


def test_flap_key_loads_and_is_checked():
    rule = load("""
        rules:
          - name: r
            events: [HostCrash]
            flap: {max: 2, per: 10m}
            actions:
              - email: ops@example.com
          - name: quiet
            events: [HostCrash]
            flap: false
            actions:
              - email: ops@example.com
    """).rules
    assert (rule[0].flap.max, rule[0].flap.per) == (2, 600)
    assert rule[1].flap.max == 0
    problem = only_problem(rule_yaml("flap: {max: 2}\n"))
    assert problem.path == "rules[0].flap" and "missing required key 'per'" in problem.message


def test_a_rebooting_server_is_flapping(make_stack, receiver):  # noqa: F811
    stack = make_stack(f"""
rules:
  - name: reboot-again
    events: [RebootBegin]
    flap: {{max: 3, per: 30m}}
    actions:
      - webhook: {receiver.url}/remediate
  - name: tell-ops
    events: [FlapDetected]
    actions:
      - webhook: {receiver.url}/ops
        body: {{text: "{{{{ event.message }}}}", server: "{{{{ event.server_id }}}}"}}
""")
    server = next(s for s in stack.state.servers.values() if s.farm_role_id == 1978)
    for _ in range(4):
        stack.state.reboot_server(server)
        stack.state.advance(10)
        stack.state.notifier.flush()
        stack.drain()
    jobs = [j for j in stack.jobs() if j.rule == "reboot-again"]
    # Down, up, down, up, ...: the third reboot is the fourth change; it and the next are skipped.
    assert [j.status for j in jobs] == ["succeeded", "succeeded", "skipped", "skipped"]
    assert jobs[2].reason.startswith(f"flapping: server {server.server_id} changed between")
    [flap] = own_events(stack, "FlapDetected")
    assert flap.server_id == server.server_id and flap.data["job_id"] == jobs[2].id
    tell = [j for j in stack.jobs() if j.rule == "tell-ops"]
    assert [j.status for j in tell] == ["succeeded"]
    sent = [json.loads(r.body) for r in receiver.requests if r.path == "/ops"]
    assert sent[0]["server"] == server.server_id and "flapping" in sent[0]["text"]
