"""POST /events (legacy RESTEventObserver) and POST /webhooks/scalr (5.x webhooks)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from app.errors import APIError
from app.ingest import auth, service
from app.services import get_services
from app.web import get_clock, get_config, get_session

bp = Blueprint("ingest", __name__)


def _admit() -> str | None:
    """Apply the address allow-list and the flood limit; return the client address."""
    config = get_config()
    address = request.remote_addr
    if not auth.address_allowed(address, config.ingest_allowed_ips):
        raise APIError(403, "address_not_allowed", f"Posts from {address} are not allowed.")
    allowed, retry_after = get_services().flood_limiter.allow(address)
    if not allowed:
        raise APIError(
            429,
            "too_many_requests",
            "Too many posts from this address; slow down.",
            {"Retry-After": str(retry_after)},
        )
    return address


def _delivery(address: str | None, query: dict[str, list[str]] | None = None) -> service.Delivery:
    return service.Delivery(
        method=request.method,
        path=request.path,
        query_string=request.query_string,
        body=request.get_data(cache=True),
        content_type=request.headers.get("Content-Type"),
        headers={k: v for k, v in request.headers.items()},
        remote_addr=address,
        query=query,
    )


@bp.post("/events")
def receive_event() -> tuple[Response, int]:
    """Store a RESTEventObserver notification (form body, query string or JSON)."""
    address = _admit()
    query = service.decode_form(request.query_string, "query string")
    auth.check_ingest_token(
        get_config(), auth.presented_token(query, request.headers.get("Authorization"))
    )
    event = service.receive_observer(get_session(), _delivery(address, query))
    return jsonify(id=event.id), 202


@bp.post("/webhooks/scalr")
def receive_webhook() -> tuple[Response, int]:
    """Store a signed Scalr 5.x webhook; a repeated eventId answers 200."""
    address = _admit()
    event, duplicate = service.receive_webhook(
        get_session(), _delivery(address), get_config(), get_clock()()
    )
    if duplicate:
        return jsonify(id=event.id, duplicate=True), 200
    return jsonify(id=event.id), 202
