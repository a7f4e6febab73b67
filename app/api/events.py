"""GET /api/v1/events and /api/v1/events/<id>."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from app.api import bp
from app.api.pagination import encode_cursor, page_json, read_after, read_limit
from app.errors import APIError
from app.limits import MAX_ID, positive_int
from app.models.event import Event
from app.queries.events import EventFilters, search_events
from app.queries.events import get_event as find_event
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
    """List events newest first; filter by name, server_id, farm_id."""
    limit = read_limit(request.args)
    after = read_after(request.args)
    f = EventFilters(
        name=request.args.get("name") or "", server=request.args.get("server_id") or ""
    )
    if (farm := request.args.get("farm_id")) is not None:
        f.farm = positive_int(farm) if farm else None
        if farm and f.farm is None:
            raise APIError(
                400, "invalid_filter", f"farm_id must be a whole number between 1 and {MAX_ID}"
            )
    page = search_events(get_session(), f, after, limit)
    return page_json(page, event_json, encode_cursor)


@bp.get("/events/<int:event_id>")
def get_event(event_id: int) -> Response:
    """Return one event with its raw delivery and rule explanations."""
    event = find_event(get_session(), event_id)
    if event is None:
        raise APIError(404, "not_found", f"No event {event_id}.")
    return jsonify(event_json(event, full=True))
