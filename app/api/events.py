"""GET /api/v1/events and /api/v1/events/<id>."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import select

from app.api import bp
from app.api.pagination import encode_cursor, keyset_page, read_after, read_limit
from app.errors import APIError
from app.limits import MAX_ID, positive_int
from app.models.event import Event
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
    query = select(Event).order_by(Event.id.desc())
    if after is not None:
        query = query.where(Event.id < after)
    if name := request.args.get("name"):
        query = query.where(Event.name == name)
    if server_id := request.args.get("server_id"):
        query = query.where(Event.server_id == server_id)
    if (farm := request.args.get("farm_id")) is not None:
        farm_id = positive_int(farm) if farm else None
        if farm and farm_id is None:
            raise APIError(
                400, "invalid_filter", f"farm_id must be a whole number between 1 and {MAX_ID}"
            )
        query = query.where(Event.farm_id == farm_id)
    return keyset_page(get_session(), query, limit, event_json, lambda e: encode_cursor(e.id))


@bp.get("/events/<int:event_id>")
def get_event(event_id: int) -> Response:
    """Return one event with its raw delivery and rule explanations."""
    event = get_session().get(Event, event_id) if event_id <= MAX_ID else None
    if event is None:
        raise APIError(404, "not_found", f"No event {event_id}.")
    return jsonify(event_json(event, full=True))
