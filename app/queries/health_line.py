"""The overview's first line: is remediation healthy right now? Read in a few small queries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.jobs import policy
from app.models.job import (
    AWAITING_APPROVAL,
    CANCELLED,
    DEAD,
    DRY_RUN,
    RETRYING,
    SKIPPED,
    SUCCEEDED,
    ActionJob,
)
from app.models.ops import Breaker, RuleState, WorkerHeartbeat
from app.rules.model import RuleSet
from app.scalr.actions import MUTATING_ACTIONS

WINDOW = timedelta(hours=1)
# A worker beats every few seconds; past this it is reported silent.
HEARTBEAT_STALE_SECONDS = 60
# The order the outcomes are said in: the bad news first.
OUTCOMES = (DEAD, RETRYING, SKIPPED, CANCELLED, SUCCEEDED, DRY_RUN)


@dataclass
class Budget:
    """Mutating Scalr actions spent in one environment's window, and its breaker."""

    environment: str
    used: int
    limit: int
    breaker_open: bool = False
    breaker_reason: str | None = None


@dataclass
class HealthLine:
    """Everything the overview's first line says."""

    now: datetime
    outcomes: dict[str, int]  # status -> jobs that ended (or retry) in the last hour
    paused: list[str] = field(default_factory=list)
    dry_run: list[str] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    last_beat: datetime | None = None
    awaiting_approval: int = 0  # jobs waiting for a person's approve or deny now

    @property
    def total(self) -> int:
        """Return how many jobs the last hour's outcomes cover."""
        return sum(self.outcomes.values())

    @property
    def beat_age(self) -> float | None:
        """Return the seconds since any worker beat, None when none ever did."""
        return None if self.last_beat is None else (self.now - self.last_beat).total_seconds()

    @property
    def worker_alive(self) -> bool:
        """Say whether some worker beat recently enough to be running jobs."""
        age = self.beat_age
        return age is not None and age <= HEARTBEAT_STALE_SECONDS

    @property
    def open_breakers(self) -> list[Budget]:
        """Return the environments whose breaker holds Scalr actions."""
        return [b for b in self.budgets if b.breaker_open]

    @property
    def verdict(self) -> str:
        """Sum it up in one word: `bad`, `warn` or `ok`."""
        if not self.worker_alive or self.open_breakers or self.outcomes.get(DEAD):
            return "bad"
        if (
            self.paused
            or self.awaiting_approval
            or self.outcomes.get(RETRYING)
            or self.outcomes.get(SKIPPED)
        ):
            return "warn"
        return "ok"


def _aware(value: datetime | None, now: datetime) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite hands naive values back
        return value.replace(tzinfo=now.tzinfo)
    return value


def outcomes_since(session: Session, since: datetime) -> dict[str, int]:
    """Count jobs per status that finished since `since`, and those retrying now."""
    ended = session.execute(
        select(ActionJob.status, func.count())
        .where(ActionJob.finished_at >= since)
        .where(ActionJob.status.in_((DEAD, SKIPPED, CANCELLED, SUCCEEDED, DRY_RUN)))
        .group_by(ActionJob.status)
    )
    counts = {status: 0 for status in OUTCOMES}
    counts.update({str(status): int(n) for status, n in ended})
    retrying = session.scalar(
        select(func.count()).select_from(ActionJob).where(ActionJob.status == RETRYING)
    )
    counts[RETRYING] = int(retrying or 0)
    return counts


def budgets(
    session: Session,
    now: datetime,
    environments: Iterable[str],
    budget_max: int,
    window_seconds: int,
) -> list[Budget]:
    """Return each environment's spent budget the way the claim counts it, and its breaker."""
    breakers = {b.environment: b for b in session.scalars(select(Breaker))}
    names = sorted(set(environments) | set(breakers))
    rows = []
    for name in names:
        breaker = breakers.get(name)
        closed_at = _aware(breaker.closed_at, now) if breaker is not None else None
        since = policy.budget_since(now, window_seconds, closed_at)
        used = session.scalar(
            select(func.count())
            .select_from(ActionJob)
            .where(ActionJob.environment == name)
            .where(ActionJob.kind == "scalr")
            .where(ActionJob.action.in_(MUTATING_ACTIONS))
            .where(ActionJob.fired_at >= since)
            .where(ActionJob.dry_run.is_(False))
        )
        is_open = bool(breaker and breaker.is_open)
        rows.append(
            Budget(name, int(used or 0), budget_max, is_open, breaker.reason if breaker else None)
        )
    return rows


def rule_switches(session: Session, ruleset: RuleSet | None) -> tuple[list[str], list[str]]:
    """Return the running rules that are paused, and those that run dry."""
    if ruleset is None:
        return [], []
    states = {s.name: s for s in session.scalars(select(RuleState))}
    paused, dry = [], []
    for rule in ruleset:
        if not rule.enabled:
            continue
        state = states.get(rule.name)
        if state is not None and state.paused:
            paused.append(rule.name)
        override = state.dry_run if state is not None else None
        if override if override is not None else rule.dry_run:
            dry.append(rule.name)
    return paused, dry


def load_health_line(
    session: Session,
    now: datetime,
    ruleset: RuleSet | None,
    environments: Iterable[str],
    budget_max: int,
    budget_window_seconds: int,
) -> HealthLine:
    """Read the overview's first line."""
    paused, dry = rule_switches(session, ruleset)
    last_beat = session.scalar(
        select(func.max(WorkerHeartbeat.last_beat_at)).where(WorkerHeartbeat.stopped_at.is_(None))
    )
    return HealthLine(
        now=now,
        outcomes=outcomes_since(session, now - WINDOW),
        paused=paused,
        dry_run=dry,
        budgets=budgets(session, now, environments, budget_max, budget_window_seconds),
        last_beat=_aware(last_beat, now),
        awaiting_approval=int(
            session.scalar(
                select(func.count())
                .select_from(ActionJob)
                .where(ActionJob.status == AWAITING_APPROVAL)
            )
            or 0
        ),
    )
