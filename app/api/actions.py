"""GET /api/v1/actions, /api/v1/actions/<id>; POST /api/v1/actions/<id>/retry|cancel|run,
and /approve|deny for a job awaiting approval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy.orm import Session

from app.api import bp, request_reason, require_control
from app.api.pagination import encode_cursor, page_json, read_after, read_limit
from app.audit import audit, audit_refusal
from app.errors import APIError
from app.jobs.approvals import DECISIONS, WITHIN_KEY, approval
from app.jobs.control import ControlError, apply_control
from app.models.job import ActionJob, JobAttempt
from app.queries.jobs import get_job, list_jobs, parse_job_filters
from app.redaction import redact_params
from app.users import Actor
from app.web import get_clock, get_session, get_session_factory


def _stamp(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def attempt_json(attempt: JobAttempt) -> dict[str, Any]:
    """Serialise one try of a job."""
    return {
        "number": attempt.number,
        "worker": attempt.worker,
        "started_at": _stamp(attempt.started_at),
        "finished_at": _stamp(attempt.finished_at),
        "duration_ms": attempt.duration_ms,
        "outcome": attempt.outcome,
        "transaction_id": attempt.transaction_id,
        "error": attempt.error,
    }


def job_json(job: ActionJob, attempts: bool = False) -> dict[str, Any]:
    """Serialise an action job with the fields DESIGN.md names (plus a few of ours)."""
    body: dict[str, Any] = {
        "id": job.id,
        "event_id": job.event_id,
        "rule": job.rule,
        "action_index": job.action_index,
        "kind": job.kind,
        "action": job.action,
        "params": redact_params(job.params or {}),
        "status": job.status,
        "reason": job.reason,
        "attempts": job.attempts,
        "run_at": _stamp(job.run_at),
        "started_at": _stamp(job.started_at),
        "finished_at": _stamp(job.finished_at),
        "transaction_id": job.transaction_id,
        "result": redact_params(job.result),
        "error": job.error,
        "environment": job.environment,
        "server_id": job.server_id,
        "dry_run": job.dry_run,
        "max_attempts": job.max_attempts,
        "blocked": job.blocked,
        "approve_within": (job.spec or {}).get(WITHIN_KEY),
        "approval": approval(job) or None,
    }
    if attempts:
        body["attempt_log"] = [attempt_json(a) for a in job.attempt_log]
    return body


@bp.get("/actions")
def list_actions() -> Response:
    """List action jobs newest first; filter by status, rule, server_id, event_id, since, until."""
    limit = read_limit(request.args)
    filters = parse_job_filters(request.args)
    if problems := filters.problems():
        raise APIError(400, "invalid_filter", problems[0])
    page = list_jobs(get_session(), filters, read_after(request.args), limit)
    return page_json(page, job_json, encode_cursor)


def _job_or_404(job_id: int) -> ActionJob:
    job = get_job(get_session(), job_id)
    if job is None:
        raise APIError(404, "not_found", f"No action job {job_id}.")
    return job


@bp.get("/actions/<int:job_id>")
def get_action(job_id: int) -> Response:
    """Return one job with every attempt."""
    return jsonify(job_json(_job_or_404(job_id), attempts=True))


@bp.post("/actions/<int:job_id>/<any(retry, cancel, run):operation>")
def control_action(job_id: int, operation: str) -> Response:
    """Retry a dead job, cancel a waiting one, or make a scheduled one due now."""
    control, target = f"job.{operation}", f"job:{job_id}"
    actor = require_control(control, target)
    _job_or_404(job_id)
    return _audited(
        actor,
        control,
        target,
        request_reason(),
        lambda session, reason: apply_control(session, job_id, operation, actor.label),
    )


def _audited(
    actor: Actor,
    control: str,
    target: str,
    reason: str,
    change: Callable[[Session, str], ActionJob],
) -> Response:
    """Audit a person's control of a job, make the change, answer the job (409 if refused)."""
    session = get_session()
    audit(session, actor, control, target, reason=reason)
    try:
        job = change(session, reason)
    except ControlError as exc:
        audit_refusal(
            session, get_session_factory(), actor, control, target, exc.code, reason=reason
        )
        raise APIError(409, exc.code, exc.message) from None
    session.commit()
    return jsonify(job_json(_job_or_404(job.id), attempts=True))


def _decision_reason() -> str:
    """Return the body's `reason` ('' when absent); a reason that is not text is refused."""
    body = request.get_json(silent=True)
    if body is None and request.get_data():
        raise APIError(400, "invalid_body", 'Send a JSON object: {"reason": "..."}.')
    if body is not None and not isinstance(body, dict):
        raise APIError(400, "invalid_body", 'Send a JSON object: {"reason": "..."}.')
    reason = (body or {}).get("reason", "")
    if reason is None:
        return ""
    if not isinstance(reason, str):
        raise APIError(400, "invalid_reason", "reason must be a string.")
    return reason.strip()


@bp.post("/actions/<int:job_id>/<any(approve, deny):decision>")
def decide_action(job_id: int, decision: str) -> Response:
    """Approve (it runs now, through every guard) or deny (cancelled) a job awaiting approval."""
    control, target = f"job.{decision}", f"job:{job_id}"
    actor = require_control(control, target)
    _job_or_404(job_id)
    decide = DECISIONS[decision]
    return _audited(
        actor,
        control,
        target,
        _decision_reason(),
        lambda session, reason: decide(session, job_id, actor.label, get_clock()(), reason),
    )
