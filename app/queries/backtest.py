"""Replay a rule over stored events: what would it have done, and when?

Plain Python over a session. Events of the rule's names (and of its
`cancel_on` names, when it has a delay) are read in time order; each is
evaluated; a match becomes a pending job due at `received_at + delay`; a
`cancel_on` event of the same server cancels pending jobs, as the matcher
does; when a job comes due the throttle decides, counting the fires of the
same key in the `per` seconds before it (a sliding window). The decisions and
their texts are the claim's own (`app.jobs.policy`). Before the throttle,
the closed loop's guards decide as the claim does (app.queries.backtest_loop):
a hold in force then, a storm of the farm role, a flapping server. Pauses
and dry runs are ignored: this answers what the rule itself would do.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobs import policy
from app.models.event import Event
from app.queries.backtest_loop import FLAPPING, HELD, LoopGuards, LoopLimits
from app.rules.errors import TemplateError
from app.rules.matching import evaluate
from app.rules.model import Rule
from app.rules.templating import render_throttle_key

SCAN_CAP = 100_000
LIST_CAP = 1_000
FIRE, THROTTLED, CANCELLED, ERROR = (
    "would_fire",
    "would_be_throttled",
    "would_be_cancelled",
    "error",
)
_COLUMNS = (
    Event.id, Event.name, Event.message, Event.server_id, Event.public_ip, Event.internal_ip,
    Event.new_ip, Event.farm_id, Event.farm_role_id, Event.role_name, Event.env_id,
    Event.source, Event.received_at, Event.data, Event.enriched_fields,
)  # fmt: skip


@dataclass
class Decision:
    """What the rule would have done for one matching event."""

    event_id: int
    event_name: str
    server_id: str | None
    received_at: datetime
    due_at: datetime
    outcome: str = FIRE
    key: str | None = None
    detail: str = ""
    farm_role_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the decision as JSON-ready data."""
        return {
            "event_id": self.event_id,
            "event_name": self.event_name,
            "server_id": self.server_id,
            "received_at": self.received_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "outcome": self.outcome,
            "throttle_key": self.key,
            "detail": self.detail,
        }


@dataclass
class BacktestResult:
    """The replay's counts and its decisions (the first LIST_CAP of them)."""

    rule: str
    since: datetime
    until: datetime
    scanned: int = 0
    capped: bool = False
    matched: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    misses: Counter[str] = field(default_factory=Counter)
    decisions: list[Decision] = field(default_factory=list)
    loop_facts: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        return {
            "rule": self.rule,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "scanned": self.scanned,
            "scan_cap": SCAN_CAP,
            "capped": self.capped,
            "matched": self.matched,
            "would_fire": self.counts[FIRE],
            "would_be_throttled": self.counts[THROTTLED],
            "would_be_cancelled": self.counts[CANCELLED],
            "would_be_held": self.counts[HELD],
            "would_be_skipped_flapping": self.counts[FLAPPING],
            "loop_events_read": self.loop_facts,
            "errors": self.counts[ERROR],
            "not_matched_because": dict(self.misses.most_common(10)),
            "decisions": [d.to_dict() for d in self.decisions],
            "decisions_truncated": self.matched > len(self.decisions),
        }


class _Replay:
    """The state of one replay: jobs waiting for their time, and recent fires per key."""

    def __init__(self, rule: Rule, result: BacktestResult, loop: LoopGuards | None = None) -> None:
        self.rule = rule
        self.result = result
        self.loop = loop
        self.pending: deque[Decision] = deque()  # due times rise: one delay for the whole rule
        self.fired: dict[str, deque[datetime]] = {}

    def settle(self, until: datetime | None) -> None:
        """Decide every pending job due by `until` (all of them when None)."""
        throttle = self.rule.throttle
        while self.pending and (until is None or self.pending[0].due_at <= until):
            job = self.pending.popleft()
            if self.loop is not None and job.outcome == FIRE:
                stopped = self.loop.verdict(job.server_id, job.farm_role_id, job.key, job.due_at)
                if stopped is not None:
                    job.outcome, job.detail = stopped
            if throttle is not None and job.outcome == FIRE:
                key = job.key or ""
                window = self.fired.setdefault(key, deque())
                since = policy.throttle_since(job.due_at, throttle.per)
                while window and window[0] < since:
                    window.popleft()
                verdict = policy.throttled(len(window), throttle.max, throttle.per, key)
                if verdict is not None:
                    job.outcome = THROTTLED
                    job.detail = verdict.reason
                else:
                    window.append(job.due_at)
            self.result.counts[job.outcome] += 1

    def cancel(self, server_id: str | None, event_name: str, event_id: int) -> None:
        """Cancel waiting jobs of the same server, as a `cancel_on` event does."""
        for job in self.pending:
            if server_id and job.server_id == server_id and job.outcome == FIRE:
                job.outcome = CANCELLED
                job.detail = policy.cancelled_by(event_name, event_id).reason

    def match(self, fields: dict[str, Any], received: datetime) -> None:
        """Evaluate one event and queue its job when the rule matches."""
        evaluation = evaluate(self.rule, fields)
        if not evaluation.matched:
            why = evaluation.failures[0].path if evaluation.failures else evaluation.reason
            self.result.misses[why or "no match"] += 1
            return
        self.result.matched += 1
        job = Decision(
            fields["id"], fields["name"], fields["server_id"], received,
            received + timedelta(seconds=self.rule.delay), farm_role_id=fields["farm_role_id"],
        )  # fmt: skip
        if self.rule.throttle is not None:
            try:
                job.key = render_throttle_key(self.rule.throttle, fields, rule=self.rule)[:255]
            except TemplateError as exc:
                job.outcome, job.detail = ERROR, f"throttle key: {exc}"
        if len(self.result.decisions) < LIST_CAP:
            self.result.decisions.append(job)
        self.pending.append(job)


def _replay_row(replay: _Replay, rule: Rule, cancels: set[str], fields: dict[str, Any]) -> None:
    """Advance the replay to one event's time, then apply the event."""
    received: datetime = fields["received_at"]
    replay.settle(received)
    if fields["name"] in cancels:
        replay.cancel(fields["server_id"], fields["name"], fields["id"])
    if fields["name"] in rule.events:
        # The same shape Event.fields() gives the matcher: times as ISO text.
        fields.update(
            received_at=received.isoformat(),
            data=dict(fields["data"] or {}),
            enriched_fields=list(fields["enriched_fields"] or []),
        )
        replay.match(fields, received)


def backtest(
    session: Session,
    rule: Rule,
    since: datetime,
    until: datetime,
    cap: int = SCAN_CAP,
    limits: LoopLimits | None = None,
) -> BacktestResult:
    """Replay `rule` over the events received in [since, until), at most `cap` of them.

    `limits` are the flapping and storm defaults of the deployment (Config's when None).
    """
    result = BacktestResult(rule=rule.name, since=since, until=until)
    loop = LoopGuards(session, rule, limits or LoopLimits.of(rule), since, until)
    result.loop_facts = loop.facts
    cancels = set(rule.cancel_on) if rule.delay > 0 else set()
    names = sorted(set(rule.events) | cancels)
    query = (
        select(*_COLUMNS)
        .where(Event.name.in_(names), Event.received_at >= since, Event.received_at < until)
        .order_by(Event.received_at, Event.id)
        .limit(cap + 1)
        .execution_options(yield_per=2000)
    )
    replay = _Replay(rule, result, loop)
    rows = session.execute(query)
    try:  # a server-side cursor on PostgreSQL: close it even when stopping early
        for row in rows:
            if result.scanned == cap:
                result.capped = True
                break
            result.scanned += 1
            _replay_row(replay, rule, cancels, dict(row._mapping))
    finally:
        rows.close()
    replay.settle(None)
    return result
