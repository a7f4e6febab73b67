"""GET /api/v1/audit: who did what, when, on what, from where; filtered, newest first."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from app.api import bp
from app.api.pagination import encode_cursor, page_json, read_after, read_limit
from app.errors import APIError
from app.models.controls import AuditEntry
from app.queries.audit import AuditFilters, list_audit
from app.web import get_session


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """Serialise one audit entry."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "role": entry.role,
        "via": entry.via,
        "action": entry.action,
        "target": entry.target,
        "address": entry.address,
        "reason": entry.reason,
        "outcome": entry.outcome,
        "detail": entry.detail or {},
    }


@bp.get("/audit")
def list_audit_entries() -> Response:
    """List audit entries newest first; filter by actor, action, target, outcome, via."""
    limit = read_limit(request.args)
    filters = AuditFilters(
        **{name: request.args.get(name, "").strip()[:200] for name in AuditFilters().__dict__}
    )
    if problems := filters.problems():
        raise APIError(400, "invalid_filter", problems[0])
    page = list_audit(get_session(), filters, read_after(request.args), limit)
    return page_json(page, audit_json, encode_cursor)
