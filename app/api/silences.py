"""POST/GET /api/v1/silences, DELETE /api/v1/silences/<id> (expire it now), and
GET /api/v1/maintenance (the rules file's windows, read-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, request

from app.api import bp, require_control
from app.api.pagination import encode_cursor, page_json, read_after, read_limit
from app.audit import audit, audit_refusal
from app.errors import APIError
from app.jobs.control import ControlError
from app.jobs.silences import create_silence, expire_silence, silence_json, silence_window
from app.models.controls import Silence
from app.queries.silences import STATES, list_silences
from app.users import Actor
from app.web import get_clock, get_rules_store, get_session, get_session_factory


def _time(body: dict[str, Any], name: str) -> datetime | None:
    raw = body.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise APIError(
            400, "invalid_window", f"{name} must be an ISO 8601 time with its zone (…Z, +00:00)."
        )
    return value


def _refused(actor: Actor, control: str, target: str | None, exc: ControlError) -> APIError:
    audit_refusal(get_session(), get_session_factory(), actor, control, target, exc.code)
    status = 404 if exc.code == "not_found" else 409 if exc.code == "not_active" else 400
    return APIError(status, exc.code, exc.message)


@bp.post("/silences")
def post_silence() -> tuple[Response, int]:
    """Silence the events the matchers describe, from now (or `starts_at`) for a while."""
    actor = require_control("silence.create")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise APIError(400, "invalid_body", "Send a JSON object: matchers, duration, comment.")
    comment = body.get("comment")
    if not isinstance(comment, str):
        raise APIError(400, "comment_required", "comment must be text saying why.")
    session = get_session()
    now = get_clock()()
    try:
        start, end = silence_window(
            now, _time(body, "starts_at"), _time(body, "ends_at"), body.get("duration")
        )
        silence = create_silence(
            session, actor.label, body.get("matchers"), start, end, comment, now
        )
    except ControlError as exc:
        raise _refused(actor, "silence.create", None, exc) from None
    audit(
        session, actor, "silence.create", f"silence:{silence.id}", reason=silence.comment,
        detail={"matchers": silence.matchers, "ends_at": silence.ends_at.isoformat()}, now=now,
    )  # fmt: skip
    session.commit()
    return jsonify(silence_json(silence, now)), 201


@bp.get("/silences")
def get_silences() -> Response:
    """List silences newest first; `?state=active|pending|expired`."""
    state = request.args.get("state", "")
    if state and state not in STATES:
        raise APIError(400, "invalid_filter", f"state must be one of {', '.join(STATES)}.")
    now = get_clock()()
    page = list_silences(
        get_session(), state, now, read_after(request.args), read_limit(request.args)
    )
    return page_json(page, lambda s: silence_json(s, now), encode_cursor)


@bp.delete("/silences/<int:silence_id>")
def delete_silence(silence_id: int) -> Response:
    """Expire a silence now; the jobs it skipped stay skipped."""
    target = f"silence:{silence_id}"
    actor = require_control("silence.expire", target)
    session = get_session()
    now = get_clock()()
    try:
        silence: Silence = expire_silence(session, silence_id, actor.label, now)
    except ControlError as exc:
        raise _refused(actor, "silence.expire", target, exc) from None
    audit(session, actor, "silence.expire", target, now=now)
    session.commit()
    return jsonify(silence_json(silence, now))


@bp.get("/maintenance")
def list_maintenance() -> Response:
    """List the rules file's maintenance windows, each saying whether it is open now."""
    now = get_clock()()
    windows = get_rules_store().current.maintenance
    return jsonify({"items": [w.to_dict(now) for w in windows], "next_cursor": None})
