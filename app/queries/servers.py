"""The server inventory as the dashboard and the API read it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.inventory import Server
from app.queries.pagination import Page, keyset_page

MAX_SERVER_ID = 64  # the column's length: a longer id names no server


def find_server(session: Session, server_id: str) -> Server | None:
    """Return the inventory row of `server_id`, if any."""
    return session.get(Server, server_id) if len(server_id) <= MAX_SERVER_ID else None


def recent_servers(session: Session, farm_id: int | None, status: str, limit: int) -> list[Server]:
    """Return inventory servers, most recently seen first."""
    query = select(Server).order_by(Server.last_seen_at.desc(), Server.server_id).limit(limit)
    if farm_id is not None:
        query = query.where(Server.farm_id == farm_id)
    if status:
        query = query.where(Server.status == status)
    return list(session.scalars(query))


def servers_page(
    session: Session, farm_id: int | None, status: str, after: str | None, limit: int
) -> Page[Server, str]:
    """Return inventory servers in server id order, after id `after`."""
    query = select(Server)
    if farm_id is not None:
        query = query.where(Server.farm_id == farm_id)
    if status:
        query = query.where(Server.status == status)
    return keyset_page(session, query, Server.server_id, after, limit, descending=False)
