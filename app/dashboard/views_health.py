"""The health page: database, schema, workers, queue, Scalr environments, breakers."""

from __future__ import annotations

import logging
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.audit import audit, audit_refusal
from app.dashboard import bp
from app.dashboard.auth import require_control
from app.health import current_spool, readiness
from app.jobs.control import ControlError, close_breaker
from app.jobs.ingest_gap import open_gaps
from app.models.ops import Breaker, PeriodicTask, WorkerHeartbeat
from app.queries.stats import queued_jobs
from app.services import get_services
from app.web import get_clock, get_rules_store, get_session, get_session_factory

log = logging.getLogger(__name__)


def scalr_checks() -> list[dict[str, Any]] | None:
    """Run the injected Scalr environment check; None when none is wired."""
    check = get_services().scalr_check
    if check is None:
        return None
    try:
        return [
            {
                "name": str(r.get("name")),
                "ok": bool(r.get("ok")),
                "detail": str(r.get("detail", "")),
            }
            for r in check()
        ]
    except Exception as exc:
        log.exception("Scalr environment check failed")
        return [
            {
                "name": "(all)",
                "ok": False,
                "detail": f"the check itself failed: {type(exc).__name__}",
            }
        ]


@bp.get("/health")
def health() -> str:
    """Show whether every part Lifeguard depends on is working."""
    session = get_session()
    now = get_clock()()
    ready, checks = readiness(
        get_services().engine,
        get_services().session_factory,
        current_spool(),
    )
    queue_due, queue_all = queued_jobs(session, now)
    heartbeats = list(
        session.scalars(
            select(WorkerHeartbeat).order_by(WorkerHeartbeat.last_beat_at.desc()).limit(50)
        )
    )
    store = get_rules_store()
    return render_template(
        "dashboard/health.html",
        ready=ready,
        checks=checks,
        queue_due=queue_due,
        queue_all=queue_all,
        o={"heartbeats": heartbeats, "now": now},
        breakers=list(session.scalars(select(Breaker).order_by(Breaker.environment))),
        scalr=scalr_checks(),
        rules=store.status(),
        inventory_sync=session.get(PeriodicTask, "inventory_sync"),
        gaps=open_gaps(session),
        gap_check=session.get(PeriodicTask, "ingest_gap"),
        table_stats=session.get(PeriodicTask, "table_stats"),
    )


@bp.post("/health/breakers/<environment>/close")
def close_breaker_view(environment: str) -> Response:
    """Close an open remediation breaker."""
    target = f"breaker:{environment}"
    actor = require_control("breaker.close", target)
    reason = request.form.get("reason", "").strip()
    if not reason:
        flash("Say why: closing a breaker needs a reason.", "error")
        return redirect(url_for("dashboard.health"), code=303)
    session = get_session()
    try:
        close_breaker(session, environment, actor.label, reason)
        audit(session, actor, "breaker.close", target, reason=reason)
        session.commit()
        flash(f"Breaker of {environment} closed; Scalr actions there may run again.", "ok")
    except ControlError as exc:
        audit_refusal(session, get_session_factory(), actor, "breaker.close", target, exc.code)
        flash(exc.message, "error")
    return redirect(url_for("dashboard.health"), code=303)
