"""Guards of changing actions: checked live at Scalr before the call, again on a retry."""

from __future__ import annotations

from app.db import transaction
from app.jobs import policy
from app.jobs.control import retry_job
from simulator import Fault
from tests.worker.test_remediation_e2e import host_down


def settled(stack, count: int = 1):
    return lambda: len(stack.jobs()) >= count and all(j.finished_at for j in stack.jobs())


def web_server(stack):
    return next(
        s for s in stack.state.servers.values() if s.farm_role_id == 1978 and s.status == "Running"
    )


REBOOT = """
rules:
  - name: reboot-it
    events: [HostDown]
    actions:
      - scalr: ServerReboot
        params: {ServerID: "{{ event.server_id }}"}
        max_attempts: 1
        GUARD
"""


# -- policy ----------------------------------------------------------------------


def test_policy_server_not_running():
    assert policy.server_not_running("server_running", "ServerReboot", "s-1", "Running") is None
    verdict = policy.server_not_running("server_running", "ServerReboot", "s-1", "Terminated")
    assert verdict.status == "skipped"
    assert verdict.reason == (
        "guard server_running: Scalr reports server s-1 as 'Terminated'; ServerReboot needs Running"
    )
    missing = policy.server_not_running("server_running", "ServerTerminate", "s-1", None)
    assert "in no farm" in missing.reason


def test_policy_farm_not_terminated():
    assert policy.farm_not_terminated("farm_terminated", "1440", 0) is None
    assert (
        "is running (Status 1)" in policy.farm_not_terminated("farm_terminated", "1439", 1).reason
    )
    assert "terminating" in policy.farm_not_terminated("farm_terminated", "1", 2).reason
    assert "not in FarmsList" in policy.farm_not_terminated("farm_terminated", "9", None).reason


def test_policy_no_running_targets():
    assert policy.no_running_targets("targets_running", "farm 1", ["Pending", "Running"]) is None
    verdict = policy.no_running_targets("targets_running", "farm role 7", ["Terminated"] * 2)
    assert "no Running server in farm role 7 (found 2 Terminated)" in verdict.reason
    assert "found no servers" in policy.no_running_targets("targets_running", "farm 2", []).reason


# -- against the simulator ---------------------------------------------------------


def test_reboot_of_a_running_server_passes_the_guard(make_stack):
    stack = make_stack(REBOOT.replace("GUARD", ""))
    server = web_server(stack)
    host_down(stack, server.server_id)
    stack.drain(until=settled(stack))
    job = stack.jobs()[0]
    assert job.status == "succeeded", (job.reason, job.error)
    assert [c.action for c in stack.state.calls()] == [
        "ServerGetExtendedInformation",
        "ServerReboot",
    ]


def test_retrying_a_dead_reboot_rechecks_and_skips_a_terminated_server(make_stack):
    stack = make_stack(REBOOT.replace("GUARD", ""))
    server = web_server(stack)
    stack.state.add_fault(Fault(kind="status", status=503, action="ServerReboot", remaining=1))
    host_down(stack, server.server_id)
    stack.drain(until=settled(stack))
    job = stack.jobs()[0]
    assert job.status == "dead"
    # The server goes away meanwhile; the 503 has cleared.
    stack.state.notifier.config.default_url = None
    stack.state.terminate_server(server)
    stack.state.advance(10)
    with transaction(stack.factory) as session:
        retry_job(session, job.id, "oncall")
    stack.drain(until=settled(stack))
    job = stack.jobs()[0]
    assert job.status == "skipped"
    assert job.reason == (
        f"guard server_running: Scalr reports server {server.server_id} as 'Terminated'; "
        "ServerReboot needs Running"
    )
    assert not any(c.outcome == "ok" for c in stack.state.calls("ServerReboot"))


def test_guard_none_turns_the_default_guard_off(make_stack):
    stack = make_stack(REBOOT.replace("GUARD", "guard: none"))
    server = web_server(stack)
    host_down(stack, server.server_id)
    stack.drain(until=settled(stack))
    assert stack.jobs()[0].status == "succeeded"
    assert [c.action for c in stack.state.calls()] == ["ServerReboot"]


def test_farm_launch_only_a_terminated_farm(make_stack):
    stack = make_stack("""
rules:
  - name: relaunch
    events: [HostDown]
    actions:
      - scalr: FarmLaunch
        params: {FarmID: "{{ event.farm_id }}"}
""")
    host_down(stack, "00000000-0000-4000-8000-000000000001", "&farm_id=1439")
    host_down(stack, "00000000-0000-4000-8000-000000000002", "&farm_id=1440")
    stack.drain(until=settled(stack, 2))
    running, terminated = stack.jobs()
    assert running.status == "skipped"
    assert running.reason == (
        "guard farm_terminated: farm 1439 is running (Status 1); FarmLaunch needs it terminated"
    )
    assert terminated.status == "succeeded", terminated.error
    assert len(stack.state.calls("FarmLaunch")) == 1


def test_script_execute_only_on_running_targets(make_stack):
    stack = make_stack("""
rules:
  - name: run-script
    events: [HostDown]
    actions:
      - scalr: ScriptExecute
        params: {ScriptID: 1, Timeout: 30, Async: 1, FarmID: "{{ event.farm_id }}",
                 FarmRoleID: "{{ event.farm_role_id }}"}
""")
    host_down(stack, "00000000-0000-4000-8000-000000000001", "&farm_id=1440&farm_role_id=1990")
    host_down(stack, "00000000-0000-4000-8000-000000000002", "&farm_id=1439&farm_role_id=1978")
    stack.drain(until=settled(stack, 2))
    empty, web = stack.jobs()
    assert empty.status == "skipped"
    assert "no Running server in farm role 1990 (found no servers)" in empty.reason
    assert web.status == "succeeded", web.error
    assert len(stack.state.calls("ScriptExecute")) == 1
