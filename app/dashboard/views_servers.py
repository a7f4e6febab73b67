"""The server inventory and each server's timeline."""

from __future__ import annotations

from flask import abort, render_template, request

from app.dashboard import bp
from app.queries.servers import find_server, recent_servers
from app.queries.timeline import server_timeline
from app.web import get_session, whole_number

LIMIT = 500


@bp.get("/servers")
def servers() -> str:
    """List the servers Lifeguard knows, most recently seen first."""
    farm_raw = request.args.get("farm", "").strip()
    farm = whole_number(farm_raw)
    status = request.args.get("status", "").strip()[:32]
    rows = recent_servers(get_session(), farm, status, LIMIT + 1)
    return render_template(
        "dashboard/servers.html",
        servers=rows[:LIMIT],
        more=len(rows) > LIMIT,
        farm=farm_raw,
        status=status,
    )


@bp.get("/servers/<server_id>")
def server(server_id: str) -> str:
    """Show a server and its story: events and actions, interleaved by time."""
    session = get_session()
    row = find_server(session, server_id)
    entries = server_timeline(session, server_id)
    if row is None and not entries:
        abort(404, f"Lifeguard knows nothing of server {server_id}.")
    return render_template(
        "dashboard/server.html", server=row, server_id=server_id, entries=entries
    )
