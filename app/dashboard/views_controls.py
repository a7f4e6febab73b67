"""The kill switch form and banner, and the audit page."""

from __future__ import annotations

import logging
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.audit import audit, audit_refusal
from app.dashboard import bp
from app.dashboard.auth import current_user, require_control
from app.jobs.control import ControlError
from app.jobs.kill_switch import engage_kill_switch, kill_switch_state, release_kill_switch
from app.models.controls import KillSwitch
from app.queries.audit import OUTCOMES, VIAS, AuditFilters, list_audit
from app.web import get_clock, get_session, get_session_factory, int_arg

log = logging.getLogger(__name__)
PAGE_SIZE = 50
ENGAGED_TEXT = "Kill switch engaged: every job that comes due is skipped until it is released."
RELEASED_TEXT = "Kill switch released. Jobs it skipped stay skipped; retry the ones still needed."


def engaged_kill_switch() -> KillSwitch | None:
    """Return the kill switch when it is engaged and someone is logged in (for the banner)."""
    try:
        if current_user() is None:
            return None
        row = kill_switch_state(get_session())
    except Exception:  # an error page must render even when the database is away
        log.debug("kill switch state unreadable for the banner", exc_info=True)
        return None
    return row if row is not None and row.engaged else None


bp.add_app_template_global(engaged_kill_switch, "engaged_kill_switch")


@bp.post("/health/kill-switch")
def kill_switch_view() -> Response:
    """Engage the kill switch (a reason and a confirmation are required) or release it."""
    engage = request.form.get("engaged") == "on"
    control = "kill_switch.engage" if engage else "kill_switch.release"
    actor = require_control(control, "kill_switch")
    reason = request.form.get("reason", "").strip()
    back = redirect(url_for("dashboard.health") + "#kill-switch", code=303)
    if request.form.get("confirm") != "yes":
        flash("Tick the confirmation box to change the kill switch.", "error")
        return back
    session = get_session()
    now = get_clock()()
    try:
        if engage:
            engage_kill_switch(session, actor.label, reason, now)
        else:
            release_kill_switch(session, actor.label, now)
    except ControlError as exc:
        audit_refusal(
            session, get_session_factory(), actor, control, "kill_switch", exc.code, reason=reason
        )
        flash(exc.message, "error")
        return back
    audit(session, actor, control, "kill_switch", reason=reason, now=now)
    session.commit()
    flash(ENGAGED_TEXT if engage else RELEASED_TEXT, "ok")
    return back


@bp.get("/audit")
def audit_page() -> str:
    """List what people did, newest first, filtered by actor, action, target, outcome, door."""
    f = AuditFilters(
        **{name: request.args.get(name, "").strip()[:200] for name in AuditFilters().__dict__}
    )
    errors = f.problems()
    if errors:
        f.outcome = f.via = ""
    page = list_audit(get_session(), f, int_arg("before"), PAGE_SIZE)
    args: dict[str, Any] = {**f.as_args(), "before": page.next_key}
    next_url = url_for("dashboard.audit_page", **args) if page.next_key else None
    return render_template(
        "dashboard/audit.html",
        entries=page.items,
        f=f,
        errors=errors,
        outcomes=OUTCOMES,
        vias=VIAS,
        next_url=next_url,
    )
