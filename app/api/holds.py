"""GET /api/v1/holds; POST /api/v1/holds/<id>/clear (release or cancel the held jobs)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from app.api import bp, request_reason, require_control
from app.audit import audit, audit_refusal
from app.errors import APIError
from app.jobs.control import ControlError
from app.jobs.holds import RELEASE, clear_hold, list_holds
from app.models.loop import Hold
from app.web import get_session, get_session_factory


def hold_json(hold: Hold) -> dict[str, Any]:
    """Serialise a hold."""
    return {
        "id": hold.id,
        "rule": hold.rule,
        "throttle_key": hold.throttle_key,
        "kind": hold.kind,
        "farm_id": hold.farm_id,
        "farm_role_id": hold.farm_role_id,
        "reason": hold.reason,
        "job_id": hold.job_id,
        "event_id": hold.event_id,
        "created_at": hold.created_at.isoformat() if hold.created_at else None,
        "cleared_at": hold.cleared_at.isoformat() if hold.cleared_at else None,
        "cleared_by": hold.cleared_by,
    }


@bp.get("/holds")
def list_holds_api() -> Response:
    """List the holds in force, newest first (`?all=1` adds the cleared ones)."""
    everything = request.args.get("all", "") in ("1", "true", "yes")
    holds = list_holds(get_session(), include_cleared=everything)
    return jsonify(items=[hold_json(h) for h in holds], next_cursor=None)


@bp.post("/holds/<int:hold_id>/clear")
def clear_hold_api(hold_id: int) -> Response:
    """Clear a hold: held_jobs `release` (the default) runs them now, `cancel` ends them."""
    target = f"hold:{hold_id}"
    actor = require_control("hold.clear", target)
    body = request.get_json(silent=True) or {}
    choice = body.get("held_jobs", RELEASE) if isinstance(body, dict) else RELEASE
    session = get_session()
    audit(
        session,
        actor,
        "hold.clear",
        target,
        reason=request_reason(),
        detail={"held_jobs": str(choice)},
    )
    try:
        hold, jobs = clear_hold(session, hold_id, actor.label, str(choice))
    except ControlError as exc:
        audit_refusal(
            session, get_session_factory(), actor, "hold.clear", target, exc.code,
            reason=request_reason(),
        )  # fmt: skip
        status = {"not_found": 404, "bad_request": 400}.get(exc.code, 409)
        raise APIError(status, exc.code, exc.message) from None
    session.commit()
    return jsonify({**hold_json(hold), "held_jobs": [j.id for j in jobs], "done": str(choice)})
