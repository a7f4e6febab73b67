"""Storms: the facts the claim gathers for `policy.storm`, one hold and `StormDetected` per episode.

More than `share` of a farm role's known servers (the inventory's, plus the
ones that just went down) going down within `per` holds every `ServerLaunch`
for that farm role: launching more of a broken image only burns money. The
first launch found in a storm places a hold of kind `storm` on the farm role
(rule "", every rule) and emits `StormDetected`; later launches join the same
hold until a person clears it (app.jobs.holds: release or cancel). Clearing
starts the window afresh from then, so the released launches run through the
other guards instead of being held again by the servers already counted.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Config
from app.jobs import own_events, policy
from app.models.event import SOURCE_LIFEGUARD, Event
from app.models.inventory import Server
from app.models.job import ActionJob
from app.models.loop import Hold
from app.rules.model import RuleSet

if TYPE_CHECKING:
    from app.jobs.claim_reads import ClaimReads

log = logging.getLogger(__name__)

STORM = "storm"
DOWN_STATUSES = ("Terminated", "Crashed", "Pending terminate")
MAX_LISTED = 100


def limits(ruleset: RuleSet, rule_name: str, config: Config) -> tuple[float, int]:
    """Return the rule's (share, per): its `storm:`, else STORM_SHARE, STORM_WINDOW_SECONDS."""
    rule = ruleset.get(rule_name)
    if rule is not None and rule.storm is not None:
        return rule.storm.share, rule.storm.per
    return config.storm_share, config.storm_window_seconds


def storm_hold(session: Session, farm_role_id: int) -> Hold | None:
    """Return the storm hold in force on a farm role, if any."""
    return session.scalars(
        select(Hold)
        .where(Hold.kind == STORM)
        .where(Hold.farm_role_id == farm_role_id)
        .where(Hold.cleared_at.is_(None))
        .order_by(Hold.id)
        .limit(1)
    ).first()


def last_cleared(session: Session, farm_role_id: int) -> datetime | None:
    """Return when a person last cleared a storm hold of the farm role."""
    return session.scalar(
        select(func.max(Hold.cleared_at))
        .where(Hold.kind == STORM)
        .where(Hold.farm_role_id == farm_role_id)
    )


def down_servers(session: Session, farm_role_id: int, since: datetime) -> list[str]:
    """Return the servers of a farm role that Scalr reported down since `since`."""
    return sorted(
        session.scalars(
            select(Event.server_id)
            .where(Event.farm_role_id == farm_role_id)
            .where(Event.name.in_(policy.STORM_DOWN))
            .where(Event.source != SOURCE_LIFEGUARD)
            .where(Event.server_id.is_not(None))
            .where(Event.received_at >= since)
            .distinct()
        )
    )


def known_servers(session: Session, farm_role_id: int, down: list[str]) -> int:
    """Count a farm role's known servers: the inventory's live ones plus the ones just down."""
    alive = session.scalar(
        select(func.count())
        .select_from(Server)
        .where(Server.farm_role_id == farm_role_id)
        .where(Server.status.is_(None) | Server.status.not_in(DOWN_STATUSES))
        .where(Server.server_id.not_in(down) if down else Server.server_id.is_not(None))
    )
    return (alive or 0) + len(down)


def storm_verdict(reads: ClaimReads, job: ActionJob) -> tuple[policy.Verdict, Hold] | None:
    """Hold a launch for a farm role in a storm; place the hold and emit `StormDetected` once."""
    if job.kind != "scalr" or job.action != "ServerLaunch" or (job.spec or {}).get("manual"):
        return None
    session, now = reads.session, reads.now
    rule = reads.ruleset.get(job.rule)
    if rule is not None and rule.storm is not None and rule.storm.share <= 0:
        return None  # `storm: false`: this rule's launches ignore storms, even a held one
    trigger = reads.event(job.event_id)
    if trigger is None or trigger.source == SOURCE_LIFEGUARD or trigger.farm_role_id is None:
        return None
    farm_role_id = trigger.farm_role_id
    # A storm found by any rule holds every rule's launches for the farm role.
    hold = reads.storm_hold(farm_role_id)
    if hold is not None:
        return policy.held(hold.id, hold.reason), hold
    share, per = limits(reads.ruleset, job.rule, reads.config)
    if share <= 0:
        return None
    # Another claim may have placed a hold while this one waited for the lock: look again.
    # Once held, the lock keeps every other claim from placing one until this one commits.
    if reads.lock("storm", str(farm_role_id)):
        hold = reads.storm_hold(farm_role_id, fresh=True)
        if hold is not None:
            return policy.held(hold.id, hold.reason), hold
    down, known = reads.storm_counts(farm_role_id, per)
    verdict = policy.storm(farm_role_id, len(down), known, share, per)
    if verdict is None:
        return None
    hold = Hold(
        rule="",
        throttle_key="",
        kind=STORM,
        reason=policy.storm_hold_reason(farm_role_id, verdict.reason),
        job_id=job.id,
        created_at=now,
        farm_id=trigger.farm_id,
        farm_role_id=farm_role_id,
    )
    session.add(hold)
    session.flush()
    reads.placed_storm_hold(hold)
    emitted = own_events.emit_event(
        session,
        "StormDetected",
        verdict.reason,
        now,
        about=trigger,
        job=job,
        data={
            "status": verdict.status,
            "reason": verdict.reason,
            "hold_id": hold.id,
            "job_ids": [job.id],
            "down": len(down),
            "known": known,
            "down_servers": down[:MAX_LISTED],
            "share": share,
            "per_seconds": per,
        },
    )
    hold.event_id = emitted.id if emitted is not None else None
    log.warning("farm role %s in a storm (hold #%s): %s", farm_role_id, hold.id, verdict.reason)
    return policy.held(hold.id, hold.reason), hold
