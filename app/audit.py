"""The audit trail: every human action, written in the transaction of the action itself.

Flask-free: the dashboard, the API and the console pass an `Actor` (who, role,
door, address). A control that does not apply is recorded as `refused`, one
the role may not use as `denied`, each in its own short transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction, utcnow
from app.models.controls import AuditEntry
from app.users import Actor

OK = "ok"
REFUSED = "refused"
DENIED = "denied"
MAX_REASON = 2000


def audit(
    session: Session,
    actor: Actor,
    action: str,
    target: str | None = None,
    *,
    reason: str | None = None,
    outcome: str = OK,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Add one audit entry to `session` (the caller commits it with the action)."""
    entry = AuditEntry(
        at=now or utcnow(),
        actor=actor.name[:128],
        role=actor.role,
        via=actor.via,
        action=action,
        target=target[:200] if target else None,
        address=actor.address[:45] if actor.address else None,
        reason=reason[:MAX_REASON] if reason else None,
        outcome=outcome,
        detail=detail or {},
    )
    session.add(entry)
    return entry


def audit_alone(
    factory: sessionmaker[Session],
    actor: Actor,
    action: str,
    target: str | None = None,
    **fields: Any,
) -> None:
    """Write one audit entry in a transaction of its own (a refusal, a failed login)."""
    with transaction(factory) as session:
        audit(session, actor, action, target, **fields)


def audit_refusal(
    session: Session,
    factory: sessionmaker[Session],
    actor: Actor,
    action: str,
    target: str | None,
    code: str,
    *,
    reason: str | None = None,
) -> None:
    """Undo a refused control's work in `session` and record the refusal on its own."""
    session.rollback()
    audit_alone(
        factory, actor, action, target, reason=reason, outcome=REFUSED, detail={"error": code}
    )
