"""What every action shares: its context, its errors, the lookups it answers "not found" with."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.model import ApiKey, Farm, FarmRole, Server, SimEnvironment
from simulator.state import SimState

Params = dict[str, Any]


class SimError(Exception):
    """An application error Scalr reports as an <Error> answer."""


class LaunchFailed(Exception):
    """The simulated cloud refused to start the server (<= 4.x answers <ServerID/>)."""


@dataclass
class Context:
    """What an action sees: the state, the caller's environment and key, the Version."""

    state: SimState
    env: SimEnvironment
    key: ApiKey
    version: tuple[int, ...]
    launch_fails: bool = False


Handler = Callable[[Context, Params], dict[str, Any]]


@dataclass(frozen=True)
class Spec:
    """An action: the Version that defines it, its parameters in PHP order, its handler."""

    since: tuple[int, ...]
    params: tuple[tuple[str, bool], ...]
    handler: Handler


V200, V230 = (2, 0, 0), (2, 3, 0)


def truthy(value: Any) -> bool:
    """Read a flag with PHP truthiness: "" and "0" are false, even "false" is true."""
    return value not in (None, "", "0")


def to_int(value: Any) -> int:
    """Read a whole number; anything else is -1."""
    try:
        return int(str(value).strip())
    except ValueError:
        return -1


def php_date(moment: float) -> str:
    """Format a moment as Scalr's UTC "Y-m-d H:i:s"."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment))


def find_farm(ctx: Context, farm_id: Any) -> Farm:
    """Return a farm of the caller's environment, or fail as Scalr does."""
    farm = ctx.state.farms.get(to_int(farm_id))
    if farm is None or farm.env_id != ctx.env.id:
        raise SimError(f"Farm #{farm_id} not found")
    return farm


def find_farm_role(ctx: Context, farm_role_id: Any) -> FarmRole:
    """Return a farm role of the caller's environment, or fail as Scalr does."""
    role = ctx.state.farm_roles.get(to_int(farm_role_id))
    if role is None or ctx.state.farms[role.farm_id].env_id != ctx.env.id:
        raise SimError(f"Farm Role ID #{farm_role_id} not found")
    return role


def find_server(ctx: Context, server_id: Any) -> Server:
    """Return a server of the caller's environment; the two misses have different texts."""
    server = ctx.state.servers.get(str(server_id))
    if server is None:
        raise SimError(f"Server ID#{server_id} not found in database")
    if ctx.state.farms[server.farm_id].env_id != ctx.env.id:
        raise SimError(f"Server ID #{server_id} not found")
    return server


def paged(p: Params, items: list[Any], set_name: str) -> dict[str, Any]:
    """Answer one page of a list, by StartFrom and RecordsLimit (20 when absent or negative)."""
    start = max(0, to_int(p.get("StartFrom") or 0))
    limit = to_int(p.get("RecordsLimit") or 20)
    limit = 20 if limit < 0 else limit
    return {
        "TotalRecords": len(items),
        "StartFrom": start,
        "RecordsLimit": limit,
        set_name: items[start : start + limit],
    }
