"""GET /api/v1/events/<id>/explanation: why each rule did or did not fire, and the jobs made."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from app.api import bp
from app.api.actions import job_json
from app.errors import APIError
from app.queries.explanations import explain_event as explain
from app.web import get_clock, get_config, get_rules_store, get_session


@bp.get("/events/<int:event_id>/explanation")
def explain_event(event_id: int) -> Response:
    """Return the stored verdicts, the verdicts of the rules running now, and the jobs."""
    found = explain(get_session(), get_rules_store(), event_id, get_config(), get_clock()())
    if found is None:
        raise APIError(404, "not_found", f"No event {event_id}.")
    event, current = found.event, found.current
    body: dict[str, Any] = {
        "event_id": event.id,
        "name": event.name,
        "processed_at": event.processed_at.isoformat() if event.processed_at else None,
        "rules_version": event.rules_version,
        "evaluations": found.stored,
        "jobs": [job_json(j) for j in found.jobs],
        "loop": found.loop,
        "current": (
            {"rules_version": current.rules_version, "evaluations": current.evaluations}
            if current is not None
            else None
        ),
    }
    return jsonify(body)
