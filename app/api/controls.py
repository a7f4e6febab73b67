"""GET/POST /api/v1/kill-switch: hold back every action job, or let them go again."""

from __future__ import annotations

from flask import Response, jsonify, request

from app.api import bp, require_control
from app.audit import audit, audit_refusal
from app.errors import APIError
from app.jobs.control import ControlError
from app.jobs.kill_switch import (
    engage_kill_switch,
    kill_switch_json,
    kill_switch_state,
    release_kill_switch,
)
from app.web import get_clock, get_session, get_session_factory


@bp.get("/kill-switch")
def get_kill_switch() -> Response:
    """Say whether the kill switch is engaged, by whom, since when and why."""
    return jsonify(kill_switch_json(kill_switch_state(get_session())))


@bp.post("/kill-switch")
def set_kill_switch() -> Response:
    """Engage (`{"engaged": true, "reason": "..."}`) or release (`{"engaged": false}`) it."""
    body = request.get_json(silent=True)
    engaged = body.get("engaged") if isinstance(body, dict) else None
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(engaged, bool) or not isinstance(reason, str | None):
        raise APIError(400, "invalid_body", 'Send JSON {"engaged": true|false, "reason": "why"}.')
    control = "kill_switch.engage" if engaged else "kill_switch.release"
    actor = require_control(control, "kill_switch")
    session = get_session()
    now = get_clock()()
    try:
        if engaged:
            row = engage_kill_switch(session, actor.label, reason or "", now)
        else:
            row = release_kill_switch(session, actor.label, now)
    except ControlError as exc:
        audit_refusal(
            session, get_session_factory(), actor, control, "kill_switch", exc.code, reason=reason
        )
        status = 400 if exc.code == "reason_required" else 409
        raise APIError(status, exc.code, exc.message) from None
    audit(session, actor, control, "kill_switch", reason=reason, now=now)
    session.commit()
    return jsonify(kill_switch_json(row))
