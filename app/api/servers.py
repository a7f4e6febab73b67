"""GET /api/v1/servers and /api/v1/servers/<id> with its timeline."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from app.api import bp
from app.api.pagination import decode_key, encode_key, page_json, read_limit
from app.errors import APIError
from app.models.inventory import Server
from app.queries.servers import find_server, servers_page
from app.queries.timeline import server_timeline
from app.web import get_session, whole_number


def server_json(server: Server) -> dict[str, Any]:
    """Serialise one inventory row."""
    return {
        "server_id": server.server_id,
        "farm_id": server.farm_id,
        "farm_role_id": server.farm_role_id,
        "role_name": server.role_name,
        "env_id": server.env_id,
        "environment": server.environment,
        "public_ip": server.public_ip,
        "internal_ip": server.internal_ip,
        "status": server.status,
        "source": server.source,
        "first_seen_at": server.first_seen_at.isoformat() if server.first_seen_at else None,
        "last_seen_at": server.last_seen_at.isoformat() if server.last_seen_at else None,
        "last_event_id": server.last_event_id,
    }


@bp.get("/servers")
def list_servers() -> Response:
    """List inventory servers by id; filter by farm_id and status."""
    limit = read_limit(request.args)
    cursor = request.args.get("cursor")
    after = decode_key("s1", cursor) if cursor else None
    farm_id = None
    if (farm := request.args.get("farm_id")) is not None:
        farm_id = whole_number(farm)
        if farm_id is None:
            raise APIError(400, "invalid_filter", "farm_id must be a whole number.")
    page = servers_page(get_session(), farm_id, request.args.get("status") or "", after, limit)
    return page_json(page, server_json, lambda key: encode_key("s1", key))


@bp.get("/servers/<server_id>")
def get_server(server_id: str) -> Response:
    """Return a server and its timeline of events and jobs, oldest first."""
    session = get_session()
    server = find_server(session, server_id)
    entries = server_timeline(session, server_id)
    if server is None and not entries:
        raise APIError(404, "not_found", f"Lifeguard knows nothing of server {server_id}.")
    return jsonify(
        server_id=server_id,
        server=server_json(server) if server is not None else None,
        timeline=[entry.to_dict() for entry in entries],
    )
