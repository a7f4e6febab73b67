"""Create the jobs of a matched event, and cancel the waiting jobs a later event calls off.

Matching and job creation share one transaction with marking the event
processed, so a crash never loses work and a replay never makes a second job.
The worker matches a batch of events per transaction (`process_events`): the
reads the events share are made once for the batch (`BatchReads`), and each
event is matched in its own savepoint.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from app.db import one_of
from app.inventory import enrich_event, observe_event, servers_for_update
from app.jobs import policy, verify
from app.jobs.chain import finish
from app.jobs.notify import JOBS_CHANNEL, notify
from app.models.event import SOURCE_LIFEGUARD, Event
from app.models.inventory import Server
from app.models.job import AWAITING_APPROVAL, CANCELLED, CLAIMABLE, SCHEDULED, SKIPPED, ActionJob
from app.models.ops import RuleState
from app.rules.errors import TemplateError
from app.rules.matching import Evaluation, event_name, matching_rules
from app.rules.model import Rule, RuleSet
from app.rules.templating import render_action, render_throttle_key

log = logging.getLogger(__name__)

# What an event keeps of its matching: every match, the first misses explained, a count of
# the rest. The event page explains every rule again under the rules of now.
EXPLAINED_MISSES = 5
# How many events one worker transaction matches: enough to share the reads and the commit
# across many events, few enough that the batch's locks and the wait for its first job stay short.
BATCH_SIZE = 100


def claim_events(session: Session, limit: int = BATCH_SIZE) -> list[Event]:
    """Lock the oldest unprocessed events for this transaction, skipping ones others hold."""
    query = (
        select(Event)
        .where(Event.processed_at.is_(None))
        .order_by(Event.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        # The delivery as it arrived is not matched on, and matching writes the evaluations
        # over whatever is there: leave both JSON columns unread.
        .options(defer(Event.raw), defer(Event.evaluations))
    )
    return list(session.scalars(query))


def claim_event(session: Session) -> Event | None:
    """Lock the oldest unprocessed event for this transaction, skipping ones others hold."""
    events = claim_events(session, 1)
    return events[0] if events else None


class BatchReads:
    """What the events of one batch share, read once, and kept current as they are matched.

    The batch is matched in id order, each event in its own savepoint; `note`
    adds what an event created once its savepoint is released, so a later event
    of the batch sees it exactly as it would have seen it in a transaction of
    its own (a HostUp cancels the job an earlier HostDown of the batch made).
    Objects a rolled-back savepoint changed are expired by the session and read
    again on use, so they need no care here.
    """

    def __init__(self, session: Session, events: list[Event]) -> None:
        self.session = session
        observed = {e.server_id for e in events if e.server_id and e.source != SOURCE_LIFEGUARD}
        self.servers = servers_for_update(session, observed)
        servers = {e.server_id for e in events if e.server_id}
        last = max((e.id for e in events), default=0)
        self.waiting: dict[str, list[ActionJob]] = {}
        if servers:
            # Locked in id order, as every batch locks them: two workers cannot deadlock here.
            for job in session.scalars(
                select(ActionJob)
                .where(one_of(session, ActionJob.server_id, servers))
                .where(ActionJob.status.in_((*CLAIMABLE, AWAITING_APPROVAL)))
                .where(ActionJob.event_id < last)
                .order_by(ActionJob.id)
                .with_for_update()
            ):
                self.waiting.setdefault(job.server_id or "", []).append(job)
        self.expecting = verify.expecting(session, observed)
        self.existing: dict[int, set[str]] = {}
        for event_id, key in session.execute(
            select(ActionJob.event_id, ActionJob.idempotency_key).where(
                one_of(session, ActionJob.event_id, [e.id for e in events])
            )
        ):
            self.existing.setdefault(event_id, set()).add(key)
        self.states: dict[str, RuleState | None] = {}

    def rule_states(self, names: list[str]) -> dict[str, RuleState | None]:
        """Return the states of these rules, reading only the ones not read yet."""
        missing = [name for name in names if name not in self.states]
        if missing:
            found = self.session.scalars(select(RuleState).where(RuleState.name.in_(missing)))
            self.states.update({name: None for name in missing})
            self.states.update({state.name: state for state in found})
        return {name: self.states[name] for name in names}

    def waiting_for(self, event: Event) -> list[ActionJob]:
        """Return the jobs an event may cancel: its server's, earlier events', last action first."""
        jobs = [j for j in self.waiting.get(event.server_id or "", []) if j.event_id < event.id]
        return sorted(jobs, key=lambda j: (-j.action_index, j.id))

    def note(self, created: list[ActionJob], server: Server | None) -> None:
        """Remember what a matched event added, for the events after it in the batch."""
        for job in created:
            if job.server_id and (job.status in CLAIMABLE or job.status == AWAITING_APPROVAL):
                self.waiting.setdefault(job.server_id, []).append(job)
            self.existing.setdefault(job.event_id, set()).add(job.idempotency_key)
        if server is not None:
            self.servers[server.server_id] = server


def cancel_waiting_jobs(
    session: Session, event: Event, now: datetime, reads: BatchReads | None = None
) -> int:
    """Cancel jobs of the same server still waiting, whose rule names this event in `cancel_on`."""
    if not event.server_id:
        return 0
    reads = reads or BatchReads(session, [event])
    # Later actions first: each is cancelled in its own right before its chain is settled.
    waiting = reads.waiting_for(event)
    verdict = policy.cancelled_by(event.name, event.id)
    cancelled = 0
    for job in waiting:
        waiting_status = job.status in CLAIMABLE or job.status == AWAITING_APPROVAL
        if waiting_status and event.name in (job.cancel_on or []):
            finish(session, job, verdict.status, verdict.reason, now)
            cancelled += 1
    return cancelled


def _new_job(event: Event, rule: Rule, index: int, run_at: datetime, **fields: Any) -> ActionJob:
    return ActionJob(
        event_id=event.id,
        rule=rule.name,
        action_index=index,
        idempotency_key=f"{event.id}:{rule.name}:{index}",
        server_id=event.server_id,
        cancel_on=list(rule.cancel_on),
        dry_run=rule.dry_run,
        on_failure=rule.on_failure,
        blocked=index > 0,
        run_at=run_at,
        attempts=0,
        **fields,
    )


def _spec(rendered: dict[str, Any], approve_within: int | None) -> dict[str, Any]:
    """Return a job's spec: the rendered action, and how long it waits for approval."""
    return {**rendered, "approve_within": approve_within} if approve_within else rendered


def jobs_for_rule(
    event: Event, rule: Rule, paused: RuleState | None, now: datetime, public_url: str = ""
) -> list[ActionJob]:
    """Render every action of a matched rule into a job; a template error skips the job."""
    fields = event.fields()
    run_at = event.received_at + timedelta(seconds=rule.delay)
    throttle_key: str | None = None
    jobs: list[ActionJob] = []
    problem: str | None = None
    if rule.throttle is not None:
        try:
            throttle_key = render_throttle_key(rule.throttle, fields, rule=rule)[:255]
        except TemplateError as exc:
            problem = f"throttle key: {exc}"
    if paused is not None and (verdict := policy.paused(paused.paused, paused.updated_by)):
        problem = verdict.reason
    for index, action in enumerate(rule.actions):
        kind = action.kind
        common: dict[str, Any] = {
            "kind": kind,
            "action": getattr(action, "action", kind),
            "throttle_key": throttle_key,
        }
        reason = problem
        if reason is None:
            try:
                rendered = render_action(action, fields, rule=rule, public_url=public_url)
            except TemplateError as exc:
                reason = f"template: {exc}"
        if reason is not None:
            skipped = {
                "status": SKIPPED,
                "reason": reason,
                "finished_at": now,
                "params": {},
                "spec": {},
            }
            jobs.append(_new_job(event, rule, index, run_at, **common, **skipped))
            continue
        jobs.append(
            _new_job(
                event,
                rule,
                index,
                run_at,
                **common,
                status=SCHEDULED,
                params=rendered.params,
                spec=_spec(rendered.to_dict(), rule.approve_within(index)),
                environment=(rendered.env or "default") if kind == "scalr" else None,
                max_attempts=rendered.max_attempts,
            )
        )
    return jobs


def settle_blocked_chain(jobs: list[ActionJob], now: datetime) -> None:
    """Apply `on_failure` at creation: an action already skipped settles the one after it."""
    for previous, job in itertools.pairwise(jobs):
        if previous.status in (SKIPPED, CANCELLED) and job.status == SCHEDULED:
            if policy.releases_next(previous.status, job.on_failure):
                job.blocked = False
            else:
                verdict = policy.chain_stopped_at_creation(previous.status, previous.reason)
                job.status = verdict.status
                job.reason = verdict.reason
                job.finished_at = now


def stored_evaluations(
    ruleset: RuleSet, fields: dict[str, Any], matched: list[Rule]
) -> list[dict[str, Any]]:
    """Return what an event stores of its matching, in file order: bounded however many rules."""
    name = event_name(fields)
    listening = ruleset.rules_for(name)
    names = {rule.name for rule in matched}
    stored: list[dict[str, Any]] = []
    found = misses = 0
    for rule in listening:
        if found == len(names) and misses == EXPLAINED_MISSES:
            break
        if rule.name in names:
            found += 1
            stored.append(Evaluation(rule.name, True).to_dict())
        elif misses < EXPLAINED_MISSES:
            misses += 1
            # Explained once per rule and the values it read, not once an event.
            stored.append(ruleset.misses.explained(rule, fields))
    rest = len(listening) - len(names) - misses
    if rest > 0:
        reason = (
            f"{rest} more rules listening for {name} did not match "
            "(not stored one by one; the rules of now are explained below)"
        )
        stored.append(Evaluation(f"({rest} more)", False, reason).to_dict())
    return stored


@dataclass
class Matched:
    """What matching one event did."""

    created: list[ActionJob]
    cancelled: int
    server: Server | None


def _match(
    session: Session,
    event: Event,
    ruleset: RuleSet,
    now: datetime,
    public_url: str,
    reads: BatchReads,
) -> Matched:
    """Enrich, learn, cancel, match and create jobs for one event, from its batch's reads."""
    server: Server | None = None
    if event.source != SOURCE_LIFEGUARD:
        # Lifeguard's own events copy their fields from the event they concern.
        known = reads.servers.get(event.server_id or "")
        enrich_event(event, known)
        server = observe_event(session, event, now, known)
    cancelled = cancel_waiting_jobs(session, event, now, reads)
    verify.confirm_by_event(session, event, reads.expecting)
    fields = event.fields()
    matched = matching_rules(ruleset, fields)
    states = reads.rule_states([rule.name for rule in matched])
    existing = reads.existing.get(event.id, set())
    created: list[ActionJob] = []
    for rule in matched:
        jobs = [
            j
            for j in jobs_for_rule(event, rule, states[rule.name], now, public_url)
            if j.idempotency_key not in existing
        ]
        settle_blocked_chain(jobs, now)
        session.add_all(jobs)
        created.extend(jobs)
    event.evaluations = stored_evaluations(ruleset, fields, matched)
    event.rules_version = ruleset.version
    event.processed_at = now
    return Matched(created, cancelled, server)


def record_matching_failure(event: Event, ruleset: RuleSet, now: datetime, exc: Exception) -> None:
    """Mark an event processed with the error, so it is visible and not retried forever."""
    event.processed_at = now
    event.rules_version = ruleset.version
    event.evaluations = [
        {
            "rule_name": "(matcher)",
            "matched": False,
            "reason": f"internal error while matching: {type(exc).__name__}: {exc}"[:500],
            "failures": [],
        }
    ]


@dataclass
class BatchResult:
    """What matching a batch of events did."""

    events: int = 0
    jobs: int = 0
    cancelled: int = 0
    failed: list[int] = field(default_factory=list)


def process_events(
    session: Session,
    events: list[Event],
    ruleset: RuleSet,
    now: datetime,
    public_url: str = "",
    *,
    isolate: bool = True,
) -> BatchResult:
    """Match claimed events in id order (caller commits).

    With `isolate`, each event is matched in a savepoint: one whose matching
    raises is rolled back alone and marked processed with the error, and the
    others of the batch keep their jobs. Without it the batch is matched with no
    savepoint and flushed once (the inserts and updates of all its events sent
    together, not three round trips an event): the first error propagates and
    the caller must roll the whole transaction back and match the batch again
    isolated (the worker's `process_events` does). Jobs, marks and failures
    commit together with the caller.
    """
    result = BatchResult(events=len(events))
    if not events:
        return result
    reads = BatchReads(session, events)
    for event in events:
        if not isolate:
            done = _match(session, event, ruleset, now, public_url, reads)
        else:
            try:
                with session.begin_nested():
                    done = _match(session, event, ruleset, now, public_url, reads)
            except Exception as exc:
                # One event that cannot be matched must not hold up every event behind it.
                log.exception("matching event %s failed; recorded on the event", event.id)
                record_matching_failure(event, ruleset, now, exc)
                result.failed.append(event.id)
                continue
        reads.note(done.created, done.server)
        result.jobs += len(done.created)
        result.cancelled += done.cancelled
    session.flush()
    if result.jobs:
        notify(session, JOBS_CHANNEL)
    return result


def process_event(
    session: Session, event: Event, ruleset: RuleSet, now: datetime, public_url: str = ""
) -> list[ActionJob]:
    """Enrich, learn, cancel, match and create jobs for one claimed event (caller commits)."""
    done = _match(session, event, ruleset, now, public_url, BatchReads(session, [event]))
    session.flush()
    if done.created:
        notify(session, JOBS_CHANNEL)
    return done.created
