"""The guards' decisions and their reason texts: plain values in, a `Verdict` out.

No session and no database here. The claim gathers the facts (rule state,
the cancelling event, the counts under their advisory locks) and asks; job
creation and the backtest ask the same functions, so each reason text is
written once. A function returns None when its guard lets the job go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.models.event import SOURCE_LIFEGUARD
from app.models.job import (
    CANCELLED,
    DRY_RUN,
    GOOD_ENDINGS,
    HELD,
    SKIPPED,
    UNVERIFIED,
    VERIFIED,
)
from app.rules.durations import format_duration


@dataclass(frozen=True)
class Verdict:
    """A guard's decision to end a job without performing it: its status and why."""

    status: str
    reason: str


def paused(is_paused: bool, by: str | None, manual: bool = False) -> Verdict | None:
    """Skip a job of a rule a person paused; a job a person queued by hand still runs."""
    if not is_paused or manual:
        return None
    return Verdict(SKIPPED, f"rule paused by {by or 'an operator'}")


def rule_gone(name: str, in_rules: bool, manual: bool = False) -> Verdict | None:
    """Skip a job whose rule was removed from the rules file (unless a person queued it)."""
    if in_rules or manual:
        return None
    return Verdict(SKIPPED, f"rule {name!r} is no longer in the rules file")


def cancelled_by(event_name: str, event_id: int) -> Verdict:
    """Cancel a waiting job: a `cancel_on` event of the same server arrived after its own."""
    return Verdict(CANCELLED, f"cancelled by {event_name} event #{event_id} for the same server")


def throttle_since(now: datetime, per_seconds: int) -> datetime:
    """Return where the throttle's sliding window starts: fires at or after it count."""
    return now - timedelta(seconds=per_seconds)


def throttled(fired: int, max_fires: int, per_seconds: int, key: str) -> Verdict | None:
    """Skip the first action when the rule already fired `max_fires` times for `key` in `per`."""
    if fired < max_fires:
        return None
    per = format_duration(per_seconds)
    return Verdict(
        SKIPPED,
        f"throttled: rule fired {fired} times in the last {per} for key {key!r} (max {max_fires})",
    )


def dry_run(global_dry_run: bool, rule_override: bool | None, job_dry_run: bool) -> Verdict | None:
    """Record instead of calling: DRY_RUN, else the rule's switch, else the rules file."""
    if global_dry_run:
        return Verdict(DRY_RUN, "DRY_RUN is set; nothing was called")
    if rule_override if rule_override is not None else job_dry_run:
        return Verdict(DRY_RUN, "rule is in dry run; nothing was called")
    return None


def breaker_open(environment: str, breaker_reason: str | None) -> Verdict:
    """Skip a mutating Scalr action while the environment's remediation breaker is open."""
    return Verdict(
        SKIPPED,
        f"remediation breaker of environment {environment!r} is open: {breaker_reason}",
    )


def budget_since(now: datetime, window_seconds: int, closed_at: datetime | None) -> datetime:
    """Return where the budget's window starts: a person closing the breaker starts it afresh."""
    since = now - timedelta(seconds=window_seconds)
    if closed_at is not None and closed_at > since:
        # A person who closes the breaker has looked: the budget starts afresh from then.
        return closed_at
    return since


def over_budget(
    used: int, budget_max: int, window_seconds: int, environment: str
) -> Verdict | None:
    """Skip (and open the breaker) when `used` mutating actions fill the environment's budget."""
    if used < budget_max:
        return None
    window = format_duration(window_seconds)
    return Verdict(
        SKIPPED,
        f"budget spent: {used} Scalr actions in {window} in environment {environment!r} "
        f"(at most {budget_max}); the breaker stays open until a person closes it",
    )


# -- the chain of a rule's actions ---------------------------------------------


def releases_next(ended_status: str, on_failure: str) -> bool:
    """Say whether an action that ended `ended_status` lets the rule's next action run."""
    return ended_status in GOOD_ENDINGS or on_failure == "continue"


def chain_stopped(action_index: int, action: str, ended_status: str) -> Verdict:
    """Skip the rule's following actions: an earlier one ended badly and `on_failure` is stop."""
    # People count a rule's actions from 1, as the action page and the rules file's list do.
    return Verdict(
        SKIPPED, f"action {action_index + 1} ({action}) ended {ended_status}; on_failure is stop"
    )


def chain_stopped_at_creation(ended_status: str, ended_reason: str | None) -> Verdict:
    """Skip a new job whose earlier action was already settled when the jobs were created."""
    return Verdict(SKIPPED, f"an earlier action of the rule ended {ended_status}: {ended_reason}")


def stopped_by_chain(status: str, reason: str | None) -> bool:
    """Say whether a job was skipped by the chain rather than by a guard of its own."""
    if status != SKIPPED or reason is None:
        return False
    return reason.endswith("; on_failure is stop") or reason.startswith(
        "an earlier action of the rule ended "
    )


def lease_seconds(configured: int, action_timeout: object) -> float:
    """Return how long a claim holds a job: the configured lease, or longer for a slow action.

    A lease shorter than the action's own timeout would let another worker take
    the job while the first is still waiting for its answer, and run it twice.
    Connect and read each get the timeout, so twice it, plus room to record.
    """
    if isinstance(action_timeout, bool) or not isinstance(action_timeout, int | float):
        return float(configured)
    return max(float(configured), 2 * float(action_timeout) + 30)


# -- closed loop: Lifeguard's own events ---------------------------------------


def emits_own_event(trigger_source: str | None) -> bool:
    """Say whether a job may emit Lifeguard's own events: not when one of them triggered it.

    A rule on `JobDead` whose webhook dies would otherwise emit a `JobDead`
    that triggers the same rule again, without end. One level is enough to
    alert a person; deeper failures are logged and shown on the job.
    """
    return trigger_source != SOURCE_LIFEGUARD


# -- closed loop: live preconditions of changing Scalr actions -----------------
# The `scalr:` action asks Scalr just before its call (app.actions.scalr_guards);
# these say, from what Scalr answered, whether the call may go out.


def server_not_running(
    guard: str, action: str, server_id: str, status: str | None
) -> Verdict | None:
    """Skip a reboot or terminate of a server that Scalr does not report `Running`."""
    if status == "Running":
        return None
    found = f"as {status!r}" if status else "in no farm it was asked about"
    return Verdict(
        SKIPPED, f"guard {guard}: Scalr reports server {server_id} {found}; {action} needs Running"
    )


def farm_not_terminated(guard: str, farm_id: str, status: int | None) -> Verdict | None:
    """Skip a `FarmLaunch` of a farm that is not terminated (FarmsList Status 0)."""
    if status == 0:
        return None
    names = {1: "running", 2: "terminating"}
    found = (
        "not in FarmsList" if status is None else f"{names.get(status, status)} (Status {status})"
    )
    return Verdict(
        SKIPPED, f"guard {guard}: farm {farm_id} is {found}; FarmLaunch needs it terminated"
    )


def no_running_targets(guard: str, target: str, statuses: list[str]) -> Verdict | None:
    """Skip a `ScriptExecute` when none of its target servers is `Running`."""
    if "Running" in statuses:
        return None
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    found = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no servers"
    return Verdict(
        SKIPPED, f"guard {guard}: no Running server in {target} (found {found}); script not run"
    )


def guard_cannot_check(guard: str, what: str) -> Verdict:
    """Skip a guarded action whose parameters do not say what the guard must look at."""
    return Verdict(SKIPPED, f"guard {guard}: cannot check, {what}")


# -- closed loop: verification and holds ---------------------------------------


def expected_server(action: str, params: dict[str, object], result: object) -> str | None:
    """Return the server whose event confirms an action: the launched one, else its ServerID."""
    if action == "ServerLaunch":
        launched = result.get("ServerID") if isinstance(result, dict) else None
        return str(launched) if launched else None
    server = params.get("ServerID")
    return str(server) if server else None


def waiting_for(events: list[str], server_id: str | None, deadline: datetime) -> str:
    """Say what a succeeded job with `expect:` waits for (its reason until it is settled)."""
    names = " or ".join(events)
    return (
        f"waiting for {names} of server {server_id or '(none named)'} until {deadline:%H:%M:%S} UTC"
    )


def confirms(
    events: list[str], expected_server_id: str | None, event_name: str, event_server_id: str | None
) -> bool:
    """Say whether an event is the one a succeeded action expects."""
    return (
        bool(expected_server_id) and event_server_id == expected_server_id and event_name in events
    )


def verified(event_name: str, event_id: int, server_id: str, waited_seconds: float) -> Verdict:
    """End an expecting job `verified`: its confirming event arrived in time."""
    return Verdict(
        VERIFIED,
        f"confirmed by {event_name} event #{event_id} of server {server_id} "
        f"after {format_duration(max(0, int(waited_seconds)))}",
    )


def unverified(events: list[str], server_id: str | None, within_seconds: int) -> Verdict:
    """End an expecting job `unverified`: its deadline passed without the confirming event."""
    names = " or ".join(events)
    if not server_id:
        return Verdict(
            UNVERIFIED,
            f"no server to wait for: Scalr's answer named none; {names} could not confirm it",
        )
    return Verdict(
        UNVERIFIED,
        f"no {names} of server {server_id} within {format_duration(within_seconds)}",
    )


def hold_reason(rule: str, key: str, job_id: int, why: str) -> str:
    """Say why a rule's launches are held for a throttle key (the hold's own reason)."""
    scope = f"key {key!r}" if key else "every key"
    return f"rule {rule!r} held for {scope}: job {job_id} {why}; a person clears the hold"


def held(hold_id: int, reason: str) -> Verdict:
    """Hold a changing Scalr job of a held rule and key until a person clears the hold."""
    return Verdict(HELD, f"hold #{hold_id}: {reason}")


# -- closed loop: flapping -----------------------------------------------------

FLAP_DOWN = ("HostDown", "HostCrash", "RebootBegin")
FLAP_UP = ("HostInit", "HostUp", "RebootComplete")


def flap_transitions(names: list[str]) -> int:
    """Count the changes between down and up in a server's events, oldest first."""
    changes = 0
    last: str | None = None
    for name in names:
        side = "down" if name in FLAP_DOWN else "up" if name in FLAP_UP else None
        if side is None:
            continue
        if last is not None and side != last:
            changes += 1
        last = side
    return changes


def flapping(
    server_id: str, transitions: int, max_changes: int, per_seconds: int
) -> Verdict | None:
    """Skip a job for a server that went down and up more than `max_changes` times in `per`."""
    if max_changes <= 0 or transitions <= max_changes:
        return None
    per = format_duration(per_seconds)
    return Verdict(
        SKIPPED,
        f"flapping: server {server_id} changed between down and up {transitions} times in the "
        f"last {per} (max {max_changes}); remediation waits until it is quiet for {per}",
    )


def new_flap_episode(last_change_at: datetime | None, now: datetime, per_seconds: int) -> bool:
    """Say whether flapping found now starts a new episode (FlapDetected is emitted once each)."""
    return last_change_at is None or last_change_at < now - timedelta(seconds=per_seconds)


# -- closed loop: storms --------------------------------------------------------

STORM_DOWN = ("HostDown", "HostCrash")
# Fewer servers than this down is a loss, not a storm: a one-server role is still replaced.
STORM_MIN_DOWN = 2


def storm_since(now: datetime, per_seconds: int, cleared_at: datetime | None) -> datetime:
    """Return where a farm role's storm window starts: clearing a storm starts it afresh."""
    since = now - timedelta(seconds=per_seconds)
    return cleared_at if cleared_at is not None and cleared_at > since else since


def storm(
    farm_role_id: int, down: int, known: int, share: float, per_seconds: int
) -> Verdict | None:
    """Hold launches for a farm role when more than `share` of its known servers went down."""
    if share <= 0 or down < STORM_MIN_DOWN or known <= 0 or down / known <= share:
        return None
    return Verdict(
        HELD,
        f"storm: {down} of {known} known servers of farm role {farm_role_id} went down in the "
        f"last {format_duration(per_seconds)} (more than {share:.0%}); its launches wait for a "
        "person to release or cancel them",
    )


def storm_hold_reason(farm_role_id: int, storm_reason: str) -> str:
    """Say why a farm role's launches are held (the storm hold's own reason)."""
    return f"launches of farm role {farm_role_id} held: {storm_reason}"


# -- operator controls: the kill switch and silences ----------------------------


def kill_switch(
    engaged: bool, by: str | None, at: datetime | None, why: str | None
) -> Verdict | None:
    """Skip every job that comes due while a person holds the kill switch engaged."""
    if not engaged:
        return None
    when = at.strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else "an unknown time"
    who, reason = by or "an operator", why or "no reason given"
    return Verdict(SKIPPED, f"kill switch engaged by {who} at {when}: {reason}")


def tells_of_kill_switch(trigger_name: str, trigger_source: str | None) -> bool:
    """Say whether a notification job tells people of the kill switch (it runs while engaged)."""
    return trigger_name == "KillSwitchEngaged" and trigger_source == SOURCE_LIFEGUARD


def kill_switch_stops_retry(verdict: Verdict, attempts: int) -> Verdict:
    """Skip a job whose attempt failed while the kill switch is engaged: no retry starts."""
    reason = f"{verdict.reason} (attempt {attempts} failed; no retry started)"
    return Verdict(verdict.status, reason)


def silenced(silence_id: int, comment: str, manual: bool = False) -> Verdict | None:
    """Skip a job whose event an active silence matches (a job a person queued by hand runs)."""
    if manual:
        return None
    return Verdict(SKIPPED, f"silenced by #{silence_id} ({comment})")
