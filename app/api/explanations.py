"""GET /api/v1/events/<id>/explanation: why each rule did or did not fire, and the jobs made."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from sqlalchemy import select

from app.api import bp
from app.api.actions import job_json
from app.errors import APIError
from app.models.event import Event
from app.models.job import ActionJob
from app.rules.matching import explain_all
from app.services import get_services
from app.web import get_session


@bp.get("/events/<int:event_id>/explanation")
def explain_event(event_id: int) -> Response:
    """Return the stored verdicts, the verdicts of the rules running now, and the jobs."""
    session = get_session()
    event = session.get(Event, event_id) if event_id <= 2**63 - 1 else None
    if event is None:
        raise APIError(404, "not_found", f"No event {event_id}.")
    jobs = session.scalars(
        select(ActionJob).where(ActionJob.event_id == event_id).order_by(ActionJob.id)
    )
    body: dict[str, Any] = {
        "event_id": event.id,
        "name": event.name,
        "processed_at": event.processed_at.isoformat() if event.processed_at else None,
        "rules_version": event.rules_version,
        "evaluations": event.evaluations or [],
        "jobs": [job_json(j) for j in jobs],
        "current": None,
    }
    store = get_services().rules
    if store.status().loaded_at is not None:
        ruleset = store.current
        body["current"] = {
            "rules_version": ruleset.version,
            "evaluations": [e.to_dict() for e in explain_all(ruleset, event.fields())],
        }
    return jsonify(body)
