"""The audit trail as the dashboard and the API read it: a filtered keyset list, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.controls import AuditEntry
from app.queries.pagination import Page, keyset_page

OUTCOMES = ("ok", "refused", "denied")
VIAS = ("dashboard", "api", "console")


@dataclass
class AuditFilters:
    """What the audit list may be narrowed to: exact values, or a prefix for `action`/`target`."""

    actor: str = ""
    action: str = ""
    target: str = ""
    outcome: str = ""
    via: str = ""

    def problems(self) -> list[str]:
        """Return what is wrong with the filters."""
        if self.outcome and self.outcome not in OUTCOMES:
            return [f"outcome must be one of {', '.join(OUTCOMES)}."]
        if self.via and self.via not in VIAS:
            return [f"via must be one of {', '.join(VIAS)}."]
        return []

    def as_args(self) -> dict[str, str]:
        """Return the filters that are set, for links to the next page."""
        return {k: v for k, v in vars(self).items() if v}


def _prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_audit(
    session: Session, f: AuditFilters, before: int | None, limit: int
) -> Page[AuditEntry, int]:
    """Return the newest entries below id `before` passing `f`, and the next page's `before`."""
    query = select(AuditEntry)
    if f.actor:
        query = query.where(AuditEntry.actor == f.actor)
    if f.action:
        query = query.where(AuditEntry.action.like(_prefix(f.action), escape="\\"))
    if f.target:
        query = query.where(AuditEntry.target.like(_prefix(f.target), escape="\\"))
    if f.outcome:
        query = query.where(AuditEntry.outcome == f.outcome)
    if f.via:
        query = query.where(AuditEntry.via == f.via)
    return keyset_page(session, query, AuditEntry.id, before, limit)
