"""The server inventory: fill events from what we know, learn from every event.

A legacy HostDown names the server but not its farm role (scalr-protocol.md
1.6), yet ServerLaunch needs the FarmRoleID. Every event that carries a
server's farm, farm role or role teaches the inventory; every event that
lacks them is filled from it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import planned_in
from app.models.event import Event
from app.models.inventory import Server

ENRICHED = ("farm_id", "farm_role_id", "role_name", "env_id")

# What an event says about the state of its server.
STATUS_AFTER = {
    "BeforeInstanceLaunch": "Pending launch",
    "HostInit": "Initializing",
    "BeforeHostUp": "Initializing",
    "HostUp": "Running",
    "RebootBegin": "Rebooting",
    "RebootComplete": "Running",
    "BeforeHostTerminate": "Pending terminate",
    "HostDown": "Terminated",
    "HostCrash": "Crashed",
}


def servers_for_update(session: Session, server_ids: set[str]) -> dict[str, Server]:
    """Lock and return the known servers among these ids (a batch's events learn about them)."""
    if not server_ids:
        return {}
    # In id order, as every batch locks them: two workers' batches cannot deadlock here.
    # Planned for each batch: see planned_in.
    query = (
        select(Server)
        .where(planned_in(session, Server.server_id, server_ids))
        .order_by(Server.server_id)
        .with_for_update()
    )
    return {server.server_id: server for server in session.scalars(query)}


def enrich_event(event: Event, server: Server | None) -> list[str]:
    """Fill the event's unknown farm fields from its server's record; return the names filled."""
    if not event.server_id or server is None:
        return []
    filled = []
    for name in ENRICHED:
        if getattr(event, name) is None and getattr(server, name) is not None:
            setattr(event, name, getattr(server, name))
            filled.append(name)
    if filled:
        event.enriched_fields = sorted({*(event.enriched_fields or []), *filled})
    return filled


def observe_event(
    session: Session, event: Event, now: datetime, server: Server | None
) -> Server | None:
    """Record what the event tells about its server (its locked record, or a new one)."""
    if not event.server_id:
        return None
    if server is None:
        server = Server(server_id=event.server_id, first_seen_at=now)
        session.add(server)
    learned_from_delivery = [n for n in ENRICHED if n not in (event.enriched_fields or [])]
    for name in learned_from_delivery:
        value = getattr(event, name)
        if value is not None:
            setattr(server, name, value)
    if event.name == "IPAddressChanged":
        if event.new_ip:
            server.public_ip = event.new_ip
    else:
        if event.public_ip:
            server.public_ip = event.public_ip
        if event.internal_ip:
            server.internal_ip = event.internal_ip
    if event.name in STATUS_AFTER:
        server.status = STATUS_AFTER[event.name]
    server.source = event.source if event.source == "webhook" else "event"
    server.last_seen_at = now
    server.last_event_id = event.id
    return server


def record_server(
    session: Session,
    server_id: str,
    now: datetime,
    *,
    source: str,
    environment: str | None = None,
    **fields: object,
) -> Server:
    """Insert or update one server from a source other than an event (the periodic sync)."""
    server = session.get(Server, server_id, with_for_update=True)
    if server is None:
        server = Server(server_id=server_id, first_seen_at=now)
        session.add(server)
    for name, value in fields.items():
        if value is not None:
            setattr(server, name, value)
    if environment is not None:
        server.environment = environment
    server.source = source
    server.last_seen_at = now
    return server
