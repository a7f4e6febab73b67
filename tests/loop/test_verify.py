"""Verification: a launch confirmed by its server's HostUp, or left unverified and held."""

from __future__ import annotations

import json

import requests
from sqlalchemy import select

from app.jobs import policy
from app.models.event import Event
from app.models.loop import Hold
from tests.loop.test_own_events import own_events
from tests.scalr.conftest import receiver  # noqa: F401  (fixture)
from tests.worker.test_remediation_e2e import host_down

LAUNCH = """
rules:
  - name: replace-web
    events: [HostDown]
    where: {farm_role_id: 1978}
    throttle: {key: "{{ event.farm_role_id }}", max: 10, per: 1h}
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}", IncreaseMaxInstances: 1}
        guard: none
        expect: EXPECT
"""


def job_is(stack, index: int, status: str):
    return lambda: len(stack.jobs()) > index and stack.jobs()[index].status == status


# -- policy ----------------------------------------------------------------------


def test_policy_expected_server_and_confirms():
    assert policy.expected_server("ServerLaunch", {}, {"ServerID": "new"}) == "new"
    assert policy.expected_server("ServerLaunch", {}, {"ServerID": ""}) is None
    assert policy.expected_server("ServerReboot", {"ServerID": "s"}, {"Result": True}) == "s"
    assert policy.confirms(["HostUp"], "s", "HostUp", "s")
    assert not policy.confirms(["HostUp"], "s", "HostUp", "other")
    assert not policy.confirms(["HostUp"], "s", "HostDown", "s")
    assert not policy.confirms(["HostUp"], None, "HostUp", None)


def test_policy_verdicts():
    ok = policy.verified("HostUp", 12, "s-1", 75)
    assert ok.status == "verified"
    assert ok.reason == "confirmed by HostUp event #12 of server s-1 after 1m15s"
    late = policy.unverified(["HostInit", "HostUp"], "s-1", 600)
    assert late.status == "unverified"
    assert late.reason == "no HostInit or HostUp of server s-1 within 10m"
    assert "named none" in policy.unverified(["HostUp"], None, 60).reason
    assert policy.held(3, "why").status == "held"
    assert policy.held(3, "why").reason == "hold #3: why"
    assert "for key '1978'" in policy.hold_reason("r", "1978", 5, "ended unverified")
    assert "for every key" in policy.hold_reason("r", "", 5, "ended unverified")


# -- against the simulator ---------------------------------------------------------


def test_launch_verified_by_the_new_servers_hostup(make_stack):
    stack = make_stack(LAUNCH.replace("EXPECT", "{event: HostUp, within: 5m}"))
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_id=1439&farm_role_id=1978")
    stack.drain(until=job_is(stack, 0, "succeeded"))
    job = stack.jobs()[0]
    new_id = job.result["ServerID"]
    assert job.expect_server_id == new_id and job.expect_deadline is not None
    assert job.reason.startswith(f"waiting for HostUp of server {new_id} until ")
    # The new server boots in the simulator, which tells Lifeguard.
    stack.state.advance(10)
    stack.state.notifier.flush()
    stack.drain(until=job_is(stack, 0, "verified"))
    job = stack.jobs()[0]
    with stack.factory() as session:
        confirming = session.get(Event, job.verified_event_id)
        assert (confirming.name, confirming.server_id) == ("HostUp", new_id)
    assert job.reason.startswith(f"confirmed by HostUp event #{confirming.id} of server {new_id}")
    assert own_events(stack, "RemediationUnverified") == []


def test_launch_never_up_is_unverified_holds_and_notifies(make_stack, receiver):  # noqa: F811
    text = (
        LAUNCH.replace("EXPECT", "{event: [HostInit, HostUp], within: 1s}")
        + f"""
  - name: tell-ops
    events: [RemediationUnverified]
    actions:
      - webhook: {receiver.url}/ops
        body: {{text: "{{{{ event.message }}}}", hold: "{{{{ event.data.hold_id }}}}"}}
"""
    )
    stack = make_stack(text, api_token="api-secret")
    host_down(stack, "5bbd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_id=1439&farm_role_id=1978")
    # The simulator's clock stands still: the new server never comes up.
    stack.drain(until=job_is(stack, 0, "unverified"), timeout=15)
    launch = stack.jobs()[0]
    new_id = launch.result["ServerID"]
    assert launch.reason.startswith(f"no HostInit or HostUp of server {new_id} within 1s")
    with stack.factory() as session:
        hold = session.scalars(select(Hold)).one()
    assert (hold.rule, hold.throttle_key, hold.job_id) == ("replace-web", "1978", launch.id)
    [event] = own_events(stack, "RemediationUnverified")
    assert event.data["job_id"] == launch.id and event.data["expected_server_id"] == new_id
    assert event.data["hold_id"] == hold.id and event.farm_role_id == 1978
    assert hold.event_id == event.id
    stack.drain(until=lambda: any(j.rule == "tell-ops" and j.finished_at for j in stack.jobs()))
    sent = json.loads(receiver.wait_for(1)[0].body)
    assert sent["hold"] == str(hold.id) and "unverified" in sent["text"]
    # The next HostDown of the farm role is held, not launched.
    launches_before = len(stack.state.calls("ServerLaunch"))
    host_down(stack, "00000000-0000-4000-8000-000000000009", "&farm_id=1439&farm_role_id=1978")
    stack.drain(until=lambda: any(j.status == "held" for j in stack.jobs()))
    held = next(j for j in stack.jobs() if j.status == "held")
    assert held.reason.startswith(f"hold #{hold.id}: rule 'replace-web' held for key '1978'")
    assert len(stack.state.calls("ServerLaunch")) == launches_before
    # A person clears the hold through the API: the held launch runs.
    base = f"http://127.0.0.1:{stack.web.port}/api/v1"
    auth = {"Authorization": "Bearer api-secret"}
    listed = requests.get(f"{base}/holds", headers=auth, timeout=5).json()
    assert [h["id"] for h in listed["items"]] == [hold.id]
    answer = requests.post(
        f"{base}/holds/{hold.id}/clear", json={"held_jobs": "release"}, headers=auth, timeout=5
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["held_jobs"] == [held.id]
    again = requests.post(f"{base}/holds/{hold.id}/clear", headers=auth, timeout=5)
    assert again.status_code == 409 and again.json()["error"] == "not_held"
    stack.drain(
        until=lambda: next(j for j in stack.jobs() if j.id == held.id).status
        in ("succeeded", "unverified")
    )
    assert len(stack.state.calls("ServerLaunch")) == launches_before + 1
