"""What the operator controls said at a moment: the kill switch, silences, maintenance windows.

The backtest asks it for every job it would have made (at the job's due
time), the explanation for one event (at its arrival and now). The kill
switch's history is read from the audit trail (every engage and release is
there); silences keep their start and end; windows are computed. The reason
texts are the claim's own (`app.jobs.policy`).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobs import policy
from app.jobs.kill_switch import kill_switch_state
from app.jobs.policy import Verdict
from app.jobs.silences import matching_silence
from app.models.controls import AuditEntry, Silence
from app.rules.maintenance import MaintenanceWindow, active_window

OK = "ok"  # app.audit.OK: a control that applied (app.audit reaches Werkzeug, so not imported)
KILL_SWITCH = "kill_switch"
SILENCE = "silence"
MAINTENANCE = "maintenance"


@dataclass(frozen=True)
class ControlVerdict:
    """A control that would hold a job back: which one, and the job's reason text."""

    control: str  # kill_switch | silence | maintenance
    reason: str

    def to_dict(self) -> dict[str, str]:
        """Return the verdict as JSON-ready data."""
        return {"control": self.control, "reason": self.reason}


@dataclass
class ControlHistory:
    """The controls over a stretch of time, read once, asked many times."""

    windows: Sequence[MaintenanceWindow] = ()
    silences: list[Silence] = field(default_factory=list)
    # (when, engaged, who, why) in time order, from the audit trail.
    switches: list[tuple[datetime, bool, str, str | None]] = field(default_factory=list)

    def kill_switch_at(self, moment: datetime) -> Verdict | None:
        """Return the kill switch's verdict at `moment`, from its engage and release entries."""
        index = bisect.bisect_right([s[0] for s in self.switches], moment) - 1
        if index < 0:
            return None
        at, engaged, who, why = self.switches[index]
        return policy.kill_switch(engaged, who, at, why)

    def verdict(self, moment: datetime, fields: Mapping[str, Any]) -> ControlVerdict | None:
        """Return the first control that would skip a job of the event `fields` due at `moment`."""
        if (verdict := self.kill_switch_at(moment)) is not None:
            return ControlVerdict(KILL_SWITCH, verdict.reason)
        live = [s for s in self.silences if s.starts_at <= moment < s.ends_at]
        if live and (silence := matching_silence(live, fields)) is not None:
            found = policy.silenced(silence.id, silence.comment)
            assert found is not None
            return ControlVerdict(SILENCE, found.reason)
        if (window := active_window(self.windows, fields, moment)) is not None:
            found = policy.in_maintenance(window.name)
            assert found is not None
            return ControlVerdict(MAINTENANCE, found.reason)
        return None


def _label(via: str, actor: str) -> str:
    """Name who switched it as the job reasons do (`Actor.label`)."""
    return "api" if via == "api" and actor == "api" else f"{via}:{actor}"


def control_history(
    session: Session, since: datetime, until: datetime, windows: Sequence[MaintenanceWindow]
) -> ControlHistory:
    """Read the silences and kill switch changes that bear on [since, until]."""
    silences = list(
        session.scalars(
            select(Silence)
            .where(Silence.starts_at <= until)
            .where(Silence.ends_at > since)
            .order_by(Silence.id)
        )
    )
    entries = session.execute(
        select(
            AuditEntry.at, AuditEntry.action, AuditEntry.actor, AuditEntry.via, AuditEntry.reason
        )
        .where(AuditEntry.action.in_(("kill_switch.engage", "kill_switch.release")))
        .where(AuditEntry.outcome == OK)
        .where(AuditEntry.at <= until)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    switches = [
        (at, action == "kill_switch.engage", _label(via, actor), reason)
        for at, action, actor, via, reason in entries
    ]
    if not switches:
        # Engaged before the audit trail kept it (or by hand): the row is all there is.
        row = kill_switch_state(session)
        if row is not None and row.engaged and row.engaged_at is not None:
            switches = [(row.engaged_at, True, row.engaged_by or "", row.reason)]
    return ControlHistory(windows=windows, silences=silences, switches=switches)


def controls_now(
    session: Session, fields: Mapping[str, Any], now: datetime, windows: Sequence[MaintenanceWindow]
) -> ControlVerdict | None:
    """Return the control that would hold back a job of the event `fields` coming due now."""
    return control_history(session, now, now, windows).verdict(now, fields)
