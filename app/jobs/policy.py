"""The guards' decisions and their reason texts: plain values in, a `Verdict` out.

No session and no database here. The claim gathers the facts (rule state,
the cancelling event, the counts under their advisory locks) and asks; job
creation and the backtest ask the same functions, so each reason text is
written once. A function returns None when its guard lets the job go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.models.job import CANCELLED, DRY_RUN, GOOD_ENDINGS, SKIPPED
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
