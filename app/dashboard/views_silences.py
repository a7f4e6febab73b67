"""The silences page: what is silenced now, a form for a new silence, an expire button,
and the rules file's maintenance windows (read-only)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.audit import audit, audit_refusal
from app.dashboard import bp
from app.dashboard.auth import require_control
from app.jobs.control import ControlError
from app.jobs.silences import (
    SILENCE_FIELDS,
    create_silence,
    expire_silence,
    silence_state,
    silence_window,
)
from app.queries.silences import STATES, list_silences
from app.web import get_clock, get_rules_store, get_session, get_session_factory, int_arg

PAGE_SIZE = 50
INTEGER_FIELDS = frozenset({"farm_id", "farm_role_id"})


def form_matchers() -> dict[str, Any]:
    """Read the form's matcher fields: a value or a glob each, the ids as numbers."""
    matchers: dict[str, Any] = {}
    for name in SILENCE_FIELDS:
        value = request.form.get(name, "").strip()[:255]
        if value:
            matchers[name] = int(value) if name in INTEGER_FIELDS and value.isdigit() else value
    return matchers


@bp.get("/silences")
def silences() -> str:
    """List silences newest first (active, pending or expired) with the form for a new one."""
    state = request.args.get("state", "")
    if state not in STATES:
        state = ""
    now = get_clock()()
    page = list_silences(get_session(), state, now, int_arg("before"), PAGE_SIZE)
    args: dict[str, Any] = {"before": page.next_key, **({"state": state} if state else {})}
    next_url = url_for("dashboard.silences", **args) if page.next_key else None
    return render_template(
        "dashboard/silences.html",
        rows=[(s, silence_state(s, now)) for s in page.items],
        state=state,
        states=STATES,
        fields=SILENCE_FIELDS,
        next_url=next_url,
        windows=[(w, w.active_at(now)) for w in get_rules_store().current.maintenance],
    )


@bp.post("/silences")
def create_silence_view() -> Response:
    """Create a silence from the form."""
    actor = require_control("silence.create")
    session = get_session()
    now = get_clock()()
    matchers = form_matchers()
    comment = request.form.get("comment", "")
    try:
        start, end = silence_window(now, None, None, request.form.get("duration", "").strip())
        silence = create_silence(session, actor.label, matchers, start, end, comment, now)
    except ControlError as exc:
        audit_refusal(session, get_session_factory(), actor, "silence.create", None, exc.code)
        flash(exc.message, "error")
        return redirect(url_for("dashboard.silences"), code=303)
    audit(
        session, actor, "silence.create", f"silence:{silence.id}", reason=silence.comment,
        detail={"matchers": silence.matchers, "ends_at": silence.ends_at.isoformat()}, now=now,
    )  # fmt: skip
    session.commit()
    flash(f"Silence #{silence.id} active until {silence.ends_at:%Y-%m-%d %H:%M} UTC.", "ok")
    return redirect(url_for("dashboard.silences"), code=303)


@bp.post("/silences/<int:silence_id>/expire")
def expire_silence_view(silence_id: int) -> Response:
    """End a silence now."""
    target = f"silence:{silence_id}"
    actor = require_control("silence.expire", target)
    session = get_session()
    now = get_clock()()
    try:
        expire_silence(session, silence_id, actor.label, now)
    except ControlError as exc:
        audit_refusal(session, get_session_factory(), actor, "silence.expire", target, exc.code)
        flash(exc.message, "error")
        return redirect(url_for("dashboard.silences"), code=303)
    audit(session, actor, "silence.expire", target, now=now)
    session.commit()
    flash(f"Silence #{silence_id} expired; the jobs it skipped stay skipped.", "ok")
    return redirect(url_for("dashboard.silences"), code=303)
