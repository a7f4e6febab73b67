"""GET /api/v1/events and /api/v1/events/<id>."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from app.api import bp
from app.api.pagination import encode_cursor, page_json, read_after, read_limit
from app.errors import APIError
from app.models.event import Event
from app.queries.events import get_event as find_event
from app.queries.events import parse_filters, search_events
from app.web import get_session


def event_json(event: Event, full: bool = False) -> dict[str, Any]:
    """Serialise an event; `full` adds the raw delivery and the rule explanations."""
    body = event.fields()
    body["processed_at"] = event.processed_at.isoformat() if event.processed_at else None
    if full:
        body["raw"] = event.raw
        body["remote_addr"] = event.remote_addr
        body["rules_version"] = event.rules_version
        body["evaluations"] = event.evaluations
    return body


@bp.get("/events")
def list_events() -> Response:
    """List events newest first, filtered by the dashboard's filter names (text ignores case)."""
    limit = read_limit(request.args)
    after = read_after(request.args)
    f = parse_filters(request.args)
    if f.errors:
        raise APIError(400, "invalid_filter", f.errors[0])
    page = search_events(get_session(), f, after, limit)
    return page_json(page, event_json, encode_cursor)


@bp.get("/events/<int:event_id>")
def get_event(event_id: int) -> Response:
    """Return one event with its raw delivery and rule explanations."""
    event = find_event(get_session(), event_id)
    if event is None:
        raise APIError(404, "not_found", f"No event {event_id}.")
    return jsonify(event_json(event, full=True))
