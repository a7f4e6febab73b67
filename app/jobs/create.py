"""Create the jobs of a matched event, and cancel the waiting jobs a later event calls off.

Matching and job creation share one transaction with marking the event
processed, so a crash never loses work and a replay never makes a second job.
"""

from __future__ import annotations

import itertools
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.inventory import enrich_event, observe_event
from app.jobs import policy, verify
from app.jobs.chain import finish
from app.jobs.notify import JOBS_CHANNEL, notify
from app.models.event import SOURCE_LIFEGUARD, Event
from app.models.job import AWAITING_APPROVAL, CANCELLED, CLAIMABLE, SCHEDULED, SKIPPED, ActionJob
from app.models.ops import RuleState
from app.rules.errors import TemplateError
from app.rules.matching import Evaluation, evaluate, event_name, matching_rules
from app.rules.model import Rule, RuleSet
from app.rules.templating import render_action, render_throttle_key

log = logging.getLogger(__name__)

# What an event keeps of its matching: every match, the first misses explained, a count of
# the rest. The event page explains every rule again under the rules of now.
EXPLAINED_MISSES = 5


def claim_event(session: Session) -> Event | None:
    """Lock the oldest unprocessed event for this transaction, skipping ones others hold."""
    query = (
        select(Event)
        .where(Event.processed_at.is_(None))
        .order_by(Event.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(query).first()


def cancel_waiting_jobs(session: Session, event: Event, now: datetime) -> int:
    """Cancel jobs of the same server still waiting, whose rule names this event in `cancel_on`."""
    if not event.server_id:
        return 0
    # Later actions first: each is cancelled in its own right before its chain is settled.
    waiting = session.scalars(
        select(ActionJob)
        .where(ActionJob.server_id == event.server_id)
        .where(ActionJob.status.in_((*CLAIMABLE, AWAITING_APPROVAL)))
        .where(ActionJob.event_id < event.id)
        .order_by(ActionJob.action_index.desc(), ActionJob.id)
        .with_for_update()
    ).all()
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
        elif misses < EXPLAINED_MISSES:
            misses += 1
        else:
            continue
        stored.append(evaluate(rule, fields).to_dict())
    rest = len(listening) - len(names) - misses
    if rest > 0:
        reason = (
            f"{rest} more rules listening for {name} did not match "
            "(not stored one by one; the rules of now are explained below)"
        )
        stored.append(Evaluation(f"({rest} more)", False, reason).to_dict())
    return stored


def process_event(
    session: Session, event: Event, ruleset: RuleSet, now: datetime, public_url: str = ""
) -> list[ActionJob]:
    """Enrich, learn, cancel, match and create jobs for one claimed event (caller commits)."""
    if event.source != SOURCE_LIFEGUARD:
        # Lifeguard's own events copy their fields from the event they concern.
        enrich_event(session, event)
        observe_event(session, event, now)
    cancelled = cancel_waiting_jobs(session, event, now)
    verify.confirm_by_event(session, event)
    fields = event.fields()
    matched = matching_rules(ruleset, fields)
    states = {
        s.name: s
        for s in session.scalars(
            select(RuleState).where(RuleState.name.in_([rule.name for rule in matched]))
        )
    }
    existing = set(
        session.scalars(select(ActionJob.idempotency_key).where(ActionJob.event_id == event.id))
    )
    created: list[ActionJob] = []
    for rule in matched:
        jobs = [
            j
            for j in jobs_for_rule(event, rule, states.get(rule.name), now, public_url)
            if j.idempotency_key not in existing
        ]
        settle_blocked_chain(jobs, now)
        session.add_all(jobs)
        created.extend(jobs)
    event.evaluations = stored_evaluations(ruleset, fields, matched)
    event.rules_version = ruleset.version
    event.processed_at = now
    session.flush()
    if created:
        notify(session, JOBS_CHANNEL)
    log.info(
        "event %s %s matched %d of %d rules, %d jobs, %d cancelled",
        event.id,
        event.name,
        len(matched),
        len(ruleset.rules_for(event.name)),
        len(created),
        cancelled,
    )
    return created
