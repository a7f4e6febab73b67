"""Storms: most of a farm role's servers going down holds its launches until a person decides."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from app.jobs import policy
from app.models.controls import AuditEntry
from app.models.loop import Hold
from tests.loop.test_own_events import own_events
from tests.rules.helpers import load, only_problem, rule_yaml
from tests.scalr.conftest import receiver  # noqa: F401  (fixture)

RULES = """
rules:
  - name: replace-web
    events: [HostDown]
    where: {farm_role_id: 1978}
    delay: 1s
    storm: {share: 0.5, per: 5m}
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}", IncreaseMaxInstances: 1}
        guard: none
  - name: tell-ops
    events: [StormDetected]
    actions:
      - webhook: RECEIVER/ops
        body: {text: "{{ event.message }}", role: "{{ event.role_name }}", hold: "{{ event.data.hold_id }}"}
"""


# -- policy and the rule key ------------------------------------------------------


def test_policy_storm():
    assert policy.storm(1978, 2, 4, 0.5, 300) is None  # half is not more than half
    assert policy.storm(1978, 1, 1, 0.5, 300) is None  # a one-server role is still replaced
    assert policy.storm(1978, 9, 10, 0.0, 300) is None  # off
    verdict = policy.storm(1978, 3, 4, 0.5, 300)
    assert verdict.status == "held"
    assert verdict.reason == (
        "storm: 3 of 4 known servers of farm role 1978 went down in the last 5m (more than 50%); "
        "its launches wait for a person to release or cancel them"
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert policy.storm_since(now, 300, None) == now - timedelta(seconds=300)
    cleared = now - timedelta(seconds=10)
    assert policy.storm_since(now, 300, cleared) == cleared
    assert policy.storm_since(now, 300, now - timedelta(hours=1)) == now - timedelta(seconds=300)


def test_storm_key_loads_and_is_checked():
    rules = load("""
        rules:
          - name: r
            events: [HostDown]
            storm: {share: 0.25, per: 10m}
            actions:
              - email: ops@example.com
          - name: quiet
            events: [HostDown]
            storm: false
            actions:
              - email: ops@example.com
    """).rules
    assert (rules[0].storm.share, rules[0].storm.per) == (0.25, 600)
    assert rules[1].storm.share == 0
    assert rules[1].flap is None  # untouched


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        ("storm: {share: 0.5}\n", "rules[0].storm", "missing required key 'per'"),
        ("storm: {share: 1.5, per: 5m}\n", "rules[0].storm.share", "below 1"),
        ("storm: {share: 0, per: 5m}\n", "rules[0].storm.share", "above 0"),
        ("storm: {share: half, per: 5m}\n", "rules[0].storm.share", "'half'"),
        ("storm: {share: true, per: 5m}\n", "rules[0].storm.share", "True"),
        ("storm: {share: 0.5, per: 0}\n", "rules[0].storm.per", ""),
        ("storm: {share: 0.5, per: 5m, max: 3}\n", "rules[0].storm.max", "unknown key"),
        ("storm: yes\n", "rules[0].storm", ""),
    ],
)
def test_bad_storm_keys_are_refused_with_their_place(text, path, words):
    problem = only_problem(rule_yaml(text))
    assert problem.path == path, problem
    assert words in problem.message
    assert problem.line is not None


# -- against the simulator ---------------------------------------------------------


def storm_stack(make_stack, receiver):  # noqa: F811
    stack = make_stack(RULES.replace("RECEIVER", receiver.url), api_token="api-secret")
    for _ in range(2):
        stack.state.add_server(1978)  # four web servers in all
    stack.worker.sync_inventory(3600)
    web = sorted(
        (s for s in stack.state.servers.values() if s.farm_role_id == 1978),
        key=lambda s: s.server_id,
    )
    assert len(web) == 4
    # Three of the four go down at once, through the simulator's control endpoint.
    for server in web[:3]:
        answer = requests.post(
            f"{stack.sim.base_url}/_sim/servers/{server.server_id}/terminate", timeout=5
        )
        assert answer.status_code == 200
    stack.state.advance(2)
    stack.state.notifier.flush()
    held = lambda: [j for j in stack.jobs() if j.rule == "replace-web" and j.status == "held"]  # noqa: E731
    stack.drain(until=lambda: len(held()) == 3, timeout=15)
    return stack, web, held()


def api(stack, path: str, body: dict | None = None):
    url = f"http://127.0.0.1:{stack.web.port}/api/v1{path}"
    auth = {"Authorization": "Bearer api-secret"}
    if body is None:
        return requests.get(url, headers=auth, timeout=5)
    return requests.post(url, json=body, headers=auth, timeout=5)


def test_a_storm_holds_launches_and_a_release_runs_each_once(make_stack, receiver):  # noqa: F811
    stack, web, held = storm_stack(make_stack, receiver)
    assert stack.state.calls("ServerLaunch") == []
    with stack.factory() as session:
        hold = session.scalars(select(Hold)).one()
    assert (hold.kind, hold.farm_id, hold.farm_role_id, hold.rule) == ("storm", 1439, 1978, "")
    assert {j.hold_id for j in held} == {hold.id}
    assert held[0].reason.startswith(f"hold #{hold.id}: launches of farm role 1978 held: storm: 3")
    [storm] = own_events(stack, "StormDetected")
    assert (storm.farm_id, storm.farm_role_id, storm.role_name) == (1439, 1978, "web")
    assert storm.data["hold_id"] == hold.id and storm.data["job_ids"] == [held[0].id]
    assert (storm.data["down"], storm.data["known"]) == (3, 4)
    assert sorted(storm.data["down_servers"]) == sorted(s.server_id for s in web[:3])
    assert hold.event_id == storm.id
    stack.drain(until=lambda: any(j.rule == "tell-ops" and j.finished_at for j in stack.jobs()))
    sent = json.loads(receiver.wait_for(1)[0].body)
    assert (
        sent["role"] == "web" and sent["hold"] == str(hold.id) and "storm: 3 of 4" in sent["text"]
    )
    # The hold is listed; a person releases it: each held launch runs once, through the guards.
    [listed] = api(stack, "/holds").json()["items"]
    assert (listed["id"], listed["kind"], listed["farm_role_id"]) == (hold.id, "storm", 1978)
    answer = api(
        stack, f"/holds/{hold.id}/clear", {"held_jobs": "release", "reason": "image fixed"}
    )
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["held_jobs"]) == sorted(j.id for j in held)
    launches = lambda: [j for j in stack.jobs() if j.rule == "replace-web"]  # noqa: E731
    stack.drain(until=lambda: all(j.status == "succeeded" for j in launches()), timeout=15)
    stack.drain()
    calls = stack.state.calls("ServerLaunch")
    assert len(calls) == 3 and all(c.params["FarmRoleID"] == "1978" for c in calls)
    assert len(own_events(stack, "StormDetected")) == 1  # once per episode
    with stack.factory() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "hold.clear")).one()
    assert entry.target == f"hold:{hold.id}" and entry.detail == {"held_jobs": "release"}
    assert entry.reason == "image fixed"


def test_cancelling_a_storm_ends_its_held_launches(make_stack, receiver):  # noqa: F811
    stack, web, held = storm_stack(make_stack, receiver)
    with stack.factory() as session:
        hold = session.scalars(select(Hold)).one()
    assert {j.hold_id for j in held} == {hold.id}
    # The storm holds every rule's launches for the farm role, not only the rule that found it
    # (a rule without `storm:`, the default off); `storm: false` opts a rule out.
    stack.write_rules(
        RULES.replace("RECEIVER", receiver.url)
        + """
  - name: other-launch
    events: [HostDown]
    where: {farm_role_id: 1978}
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}"}
        guard: none
  - name: opted-out
    events: [HostDown]
    where: {farm_role_id: 1978}
    storm: false
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}"}
        guard: none
"""
    )
    stack.state.terminate_server(web[3])
    stack.state.advance(2)
    stack.state.notifier.flush()
    stack.drain(until=lambda: len([j for j in stack.jobs() if j.status == "held"]) == 5)
    stack.drain(until=lambda: any(j.rule == "opted-out" and j.finished_at for j in stack.jobs()))
    other = next(j for j in stack.jobs() if j.rule == "other-launch")
    assert other.status == "held" and other.hold_id == hold.id
    assert len(stack.state.calls("ServerLaunch")) == 1  # the opted-out rule's launch only
    answer = api(stack, f"/holds/{hold.id}/clear", {"held_jobs": "cancel"})
    assert answer.status_code == 200, answer.text
    stack.drain()
    jobs = [j for j in stack.jobs() if j.rule in ("replace-web", "other-launch")]
    assert [j.status for j in jobs] == ["cancelled"] * 5
    assert all(f"with hold #{hold.id}" in j.reason for j in jobs)
    assert len(stack.state.calls("ServerLaunch")) == 1


def test_console_lists_and_clears_a_storm_hold_audited(app, db_session):
    from tests.dashboard.helpers import gen_job
    from tests.factories import gen_event

    hold = Hold(rule="", throttle_key="", kind="storm", reason="launches of farm role 5 held",
                farm_id=1439, farm_role_id=5)  # fmt: skip
    db_session.add(hold)
    db_session.flush()
    job = gen_job(db_session, gen_event(db_session).id, status="held", hold_id=hold.id)
    db_session.commit()
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["holds", "list"])
    assert f"#{hold.id} storm farm_role=5 in force" in listed.output
    cleared = runner.invoke(
        args=["holds", "clear", str(hold.id), "--cancel", "--reason", "bad AMI"]
    )
    assert cleared.exit_code == 0, cleared.output
    assert f"hold #{hold.id} cleared; 1 held jobs cancelled" in cleared.output
    again = runner.invoke(args=["holds", "clear", str(hold.id)])
    assert again.exit_code != 0 and "was cleared by console:" in again.output
    db_session.expire_all()
    assert db_session.get(type(job), job.id).status == "cancelled"
    [entry] = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "hold.clear")).all()
    assert (entry.via, entry.target, entry.reason) == ("console", f"hold:{hold.id}", "bad AMI")
    assert entry.detail == {"held_jobs": "cancel"}
