"""The actions list and action pages, with retry, cancel and run-now buttons."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.audit import audit, audit_refusal
from app.dashboard import bp
from app.dashboard.auth import require_control
from app.jobs.control import CONTROLS, ControlError, apply_control
from app.jobs.holds import CANCEL, RELEASE, clear_hold, hold_of_job
from app.models.job import STATUSES
from app.queries.events import get_event
from app.queries.jobs import get_job, list_jobs, parse_job_filters
from app.web import get_session, get_session_factory, int_arg

PAGE_SIZE = 50
CONTROL_DONE = {"retry": "queued to run again", "cancel": "cancelled", "run": "due now"}


@bp.get("/actions")
def actions() -> str:
    """List action jobs newest first, filtered by status, rule, server, event or time."""
    f = parse_job_filters(request.args)
    errors = f.problems()
    if f.status and f.status not in STATUSES:
        f.status = ""
    page = list_jobs(get_session(), f, int_arg("before"), PAGE_SIZE)
    raw: dict[str, Any] = dict(f.raw())
    next_url = url_for("dashboard.actions", before=page.next_key, **raw) if page.next_key else None
    return render_template(
        "dashboard/actions.html",
        jobs=page.items,
        f=f,
        raw=raw,
        errors=errors,
        statuses=STATUSES,
        next_url=next_url,
    )


@bp.get("/actions/<int:job_id>")
def action(job_id: int) -> str:
    """Show one job: parameters, attempts, the Scalr TransactionID, the answer or the error."""
    session = get_session()
    job = get_job(session, job_id)
    if job is None:
        abort(404, f"No action job {job_id}.")
    event = get_event(session, job.event_id)
    confirming = get_event(session, job.verified_event_id) if job.verified_event_id else None
    hold = hold_of_job(session, job)
    return render_template(
        "dashboard/action.html", job=job, event=event, confirming=confirming, hold=hold
    )


@bp.post("/actions/<int:job_id>/clear-hold")
def clear_action_hold(job_id: int) -> Response:
    """Clear the hold on a job (its rule and key, or its farm role's storm); release or cancel."""
    actor = require_control("hold.clear", f"job:{job_id}")
    session = get_session()
    job = get_job(session, job_id)
    if job is None:
        abort(404, f"No action job {job_id}.")
    hold = hold_of_job(session, job)
    if hold is None:
        flash("No hold is in force for this job.", "error")
        return redirect(url_for("dashboard.action", job_id=job_id), code=303)
    choice = CANCEL if request.form.get("held_jobs") == CANCEL else RELEASE
    reason = request.form.get("reason", "").strip()
    audit(
        session, actor, "hold.clear", f"hold:{hold.id}", reason=reason, detail={"held_jobs": choice}
    )
    try:
        _, jobs = clear_hold(session, hold.id, actor.label, choice)
    except ControlError as exc:
        audit_refusal(
            session, get_session_factory(), actor, "hold.clear", f"hold:{hold.id}", exc.code,
            reason=reason,
        )  # fmt: skip
        flash(exc.message, "error")
    else:
        session.commit()
        done = "cancelled" if choice == CANCEL else "released"
        flash(f"Hold #{hold.id} cleared; {len(jobs)} held jobs {done}.", "ok")
    return redirect(url_for("dashboard.action", job_id=job_id), code=303)


@bp.post("/actions/<int:job_id>/<any(retry, cancel, run):operation>")
def control_action(job_id: int, operation: str) -> Response:
    """Retry, cancel or run a job now; say what happened on the job's page."""
    assert operation in CONTROLS
    control, target = f"job.{operation}", f"job:{job_id}"
    actor = require_control(control, target)
    session = get_session()
    if get_job(session, job_id) is None:
        abort(404, f"No action job {job_id}.")
    reason = request.form.get("reason", "").strip()
    if operation in ("cancel", "run") and not reason:
        flash("Say why: a cancel or a run now needs a reason.", "error")
        return redirect(url_for("dashboard.action", job_id=job_id), code=303)
    audit(session, actor, control, target, reason=reason)
    try:
        job = apply_control(session, job_id, operation, actor.label, reason or None)
    except ControlError as exc:
        audit_refusal(
            session, get_session_factory(), actor, control, target, exc.code, reason=reason
        )
        flash(exc.message, "error")
    else:
        flash(f"Action {job.id} {CONTROL_DONE[operation]} (status {job.status}).", "ok")
    return redirect(url_for("dashboard.action", job_id=job_id), code=303)
