"""The closed loop's rule keys: `expect:`, guards and `flap:`, validated with their lines."""

from __future__ import annotations

import pytest

from tests.rules.helpers import load, only_problem, rule_yaml

LAUNCH = "scalr: ServerLaunch\nparams: {FarmRoleID: 1}\nguard: none\n"


@pytest.mark.parametrize(
    ("action", "path", "fragment"),
    [
        (LAUNCH + "expect: {event: HostUp}", "expect", "missing required key 'within'"),
        (LAUNCH + "expect: {event: HostUp, within: soon}", "expect.within", "bad duration"),
        (LAUNCH + "expect: {event: 'Host Up', within: 1m}", "expect.event", "bad event name"),
        (LAUNCH + "expect: {event: HostUp, within: 1m, when: x}", "expect.when", "unknown key"),
        ("scalr: FarmLaunch\nparams: {FarmID: 1}\nexpect: {event: FarmLaunched, within: 1m}",
         "expect", "only valid on ServerLaunch, ServerReboot, ServerTerminate"),
        ("scalr: FarmLaunch\nparams: {FarmID: 1}\nguard: server_running", "guard",
         "only valid on ServerReboot or ServerTerminate"),
    ],
)  # fmt: skip
def test_closed_loop_action_errors_name_their_line(action: str, path: str, fragment: str) -> None:
    indented = action.replace("\n", "\n        ")
    problem = only_problem(rule_yaml(actions=f"      - {indented}\n"))
    assert problem.path == f"rules[0].actions[0].{path}"
    key = path.split(".")[0]
    offset = next(i for i, t in enumerate(action.splitlines()) if t.startswith(f"{key}:"))
    assert problem.line == 5 + offset
    assert fragment in problem.message


def test_expect_and_default_guards_are_kept_on_the_action() -> None:
    ruleset = load("""
        rules:
          - name: replace
            events: [HostDown]
            actions:
              - scalr: ServerLaunch
                params: {FarmRoleID: 1}
                guard: below_min_instances
                expect: {event: [OnHostInit, HostUp], within: 10m}
              - scalr: ServerReboot
                params: {ServerID: x}
    """)
    launch, reboot = ruleset.rules[0].actions
    assert launch.expect.events == ("HostInit", "HostUp") and launch.expect.within == 600
    assert reboot.guard is None and reboot.expect is None  # server_running applies at run time


def test_lifeguard_events_draw_no_warning() -> None:
    ruleset = load("""
        rules:
          - name: tell
            events: [JobDead, RemediationUnverified, BreakerOpened, FlapDetected]
            actions:
              - email: ops@example.com
    """)
    assert ruleset.warnings == ()
