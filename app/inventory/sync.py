"""Refresh the server inventory from Scalr: FarmsList, then FarmGetDetails per farm."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.inventory import record_server
from app.scalr.environments import ScalrEnvironments
from app.scalr.errors import ScalrConfigError, ScalrError

log = logging.getLogger(__name__)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def sync_environment(
    factory: sessionmaker[Session],
    client: Any,
    name: str,
    env_id: int | None,
    now: datetime,
    stopping: threading.Event | None = None,
) -> int:
    """Record every server Scalr lists for one environment; return how many.

    Stops between farms once `stopping` is set. A farm's servers are written in one
    transaction, locked in server id order as the worker's event batches lock them
    (`servers_for_update`): the two may run at once and must not deadlock.
    """
    farms = client.farms_list().get("FarmSet") or []
    seen = 0
    for farm in farms:
        if stopping is not None and stopping.is_set():
            break
        farm_id = _int((farm or {}).get("ID"))
        if farm_id is None:
            continue
        details = client.farm_get_details(farm_id)
        found: dict[str, dict[str, Any]] = {}
        for role in details.get("FarmRoleSet") or []:
            for server in (role or {}).get("ServerSet") or []:
                server_id = (server or {}).get("ServerID")
                if not server_id:
                    continue
                found[str(server_id)] = {
                    "farm_id": farm_id,
                    "farm_role_id": _int(role.get("ID")),
                    "role_name": role.get("Name") or None,
                    "env_id": env_id,
                    "public_ip": server.get("ExternalIP") or server.get("PublicIP") or None,
                    "internal_ip": server.get("InternalIP") or server.get("PrivateIP") or None,
                    "status": server.get("Status") or None,
                }
        with transaction(factory) as session:
            for server_id in sorted(found):
                record_server(
                    session, server_id, now, source="sync", environment=name, **found[server_id]
                )
                seen += 1
    return seen


def sync_all(
    factory: sessionmaker[Session],
    clients: Any,
    environments: ScalrEnvironments | Mapping[str, str],
    clock: Callable[[], datetime],
    stopping: threading.Event | None = None,
) -> dict[str, int | str]:
    """Sync every configured environment; a failing one is logged and the rest go on."""
    results: dict[str, int | str] = {}
    try:
        by_name = ScalrEnvironments.of(environments).all()
    except ScalrConfigError as exc:
        log.error("inventory sync: %s", exc)
        return results
    for name, env in by_name.items():
        try:
            results[name] = sync_environment(
                factory, clients.get(name), name, env.env_id, clock(), stopping
            )
        except ScalrError as exc:
            log.warning("inventory sync of %s failed: %s", name, exc.message)
            results[name] = f"failed: {exc.message}"
    return results
