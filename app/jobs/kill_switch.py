"""The kill switch: one row every process reads on every claim; a person engages or releases it.

Engaging holds back every job that comes due (the claim skips it with who,
when and why) and every retry of an attempt that ends meanwhile; ingest and
matching go on. Releasing runs nothing by itself: skipped jobs stay skipped
until a person retries them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.jobs import own_events, policy
from app.jobs.control import ControlError
from app.jobs.policy import Verdict
from app.models.controls import KILL_SWITCH_ROW, KillSwitch

MAX_REASON = 2000


def kill_switch_state(session: Session) -> KillSwitch | None:
    """Return the stored kill switch, or None when nobody ever touched it."""
    return session.get(KillSwitch, KILL_SWITCH_ROW)


def kill_switch_verdict(session: Session) -> Verdict | None:
    """Ask the policy whether the kill switch holds every job back now."""
    row = kill_switch_state(session)
    if row is None:
        return None
    return policy.kill_switch(row.engaged, row.engaged_by, row.engaged_at, row.reason)


def _locked_row(session: Session) -> KillSwitch:
    row = session.get(KillSwitch, KILL_SWITCH_ROW, with_for_update=True)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = KillSwitch(id=KILL_SWITCH_ROW, engaged=False)
            session.add(row)
    except IntegrityError:
        # Another process created the row at the same moment: take theirs, locked.
        row = session.get(KillSwitch, KILL_SWITCH_ROW, with_for_update=True, populate_existing=True)
        assert row is not None
    return row


def engage_kill_switch(session: Session, who: str, reason: str, now: datetime) -> KillSwitch:
    """Engage the kill switch with a reason (caller commits); ControlError if it already is."""
    reason = reason.strip()
    if not reason:
        raise ControlError("reason_required", "Say why the kill switch is engaged.")
    row = _locked_row(session)
    if row.engaged:
        raise ControlError(
            "already_engaged", f"The kill switch is already engaged by {row.engaged_by}."
        )
    row.engaged = True
    row.reason = reason[:MAX_REASON]
    row.engaged_by = who
    row.engaged_at = now
    row.released_by = None
    row.released_at = None
    _emit_engaged(session, row, now)
    return row


def _emit_engaged(session: Session, row: KillSwitch, now: datetime) -> None:
    """Emit `KillSwitchEngaged` with who and why, so a rule can tell people (same transaction)."""
    own_events.emit_event(
        session,
        "KillSwitchEngaged",
        f"kill switch engaged by {row.engaged_by}: {row.reason}",
        now,
        data={"engaged_by": row.engaged_by, "reason": row.reason, "engaged_at": now.isoformat()},
    )


def release_kill_switch(session: Session, who: str, now: datetime) -> KillSwitch:
    """Release the kill switch (caller commits); nothing held back runs by itself."""
    row = _locked_row(session)
    if not row.engaged:
        raise ControlError("not_engaged", "The kill switch is not engaged.")
    row.engaged = False
    row.released_by = who
    row.released_at = now
    return row


def kill_switch_json(row: KillSwitch | None) -> dict[str, object]:
    """Describe the kill switch for the API, the console and the pages."""

    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    if row is None:
        return {"engaged": False, "reason": None, "engaged_by": None, "engaged_at": None,
                "released_by": None, "released_at": None}  # fmt: skip
    return {
        "engaged": row.engaged,
        "reason": row.reason,
        "engaged_by": row.engaged_by,
        "engaged_at": stamp(row.engaged_at),
        "released_by": row.released_by,
        "released_at": stamp(row.released_at),
    }
