"""The live preconditions of changing Scalr actions, asked of Scalr just before the call.

Each guard reads what Scalr reports now (not the inventory, which may be
minutes old) and lets `app.jobs.policy` decide. They are on by default for
the actions they protect (`DEFAULT_GUARDS`); `guard: none` turns one off.
Every attempt asks again, so a person's retry of a dead `ServerReboot`
re-checks that the server still runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.jobs import policy
from app.scalr.actions import version_tuple

if TYPE_CHECKING:
    from app.scalr.client import ScalrClient

SERVER_RUNNING = "server_running"
FARM_TERMINATED = "farm_terminated"
TARGETS_RUNNING = "targets_running"
NO_GUARD = "none"

# The guard each changing action gets when its rule names none.
DEFAULT_GUARDS: dict[str, str] = {
    "ServerReboot": SERVER_RUNNING,
    "ServerTerminate": SERVER_RUNNING,
    "FarmLaunch": FARM_TERMINATED,
    "ScriptExecute": TARGETS_RUNNING,
}


def effective_guard(action: str, written: str | None) -> str | None:
    """Return the guard a job runs: the one written, else the action's default; `none` is none."""
    guard = written or DEFAULT_GUARDS.get(action)
    return None if guard == NO_GUARD else guard


def _whole(value: Any) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isdigit() else None


def _farm_servers(client: ScalrClient, farm_id: int) -> list[tuple[str, str, str]]:
    """Return (farm role id, server id, status) of every server row of a farm."""
    details = client.farm_get_details(farm_id)
    rows = []
    for role in details.get("FarmRoleSet") or []:
        for server in (role or {}).get("ServerSet") or []:
            server = server or {}
            status = str(server.get("Status") or "")
            rows.append((str(role.get("ID")), str(server.get("ServerID")), status))
    return rows


def server_status(client: ScalrClient, server_id: str, farm_id: int | None) -> str | None:
    """Ask Scalr for a server's status (ServerGetExtendedInformation, or the farm before 2.3.0)."""
    if version_tuple(client.environment.version) >= (2, 3, 0):
        info = client.server_get_extended_information(server_id).get("ServerInfo") or {}
        return str(info["Status"]) if info.get("Status") else None
    if farm_id is None:
        return None
    return next((s for _, sid, s in _farm_servers(client, farm_id) if sid == server_id), None)


def check_guard(
    guard: str, client: ScalrClient, action: str, params: dict[str, Any], farm_id: int | None
) -> policy.Verdict | None:
    """Ask Scalr what the guard needs to know and return the policy's verdict (None: go on)."""
    if guard == SERVER_RUNNING:
        server_id = str(params.get("ServerID") or "")
        if not server_id:
            return policy.guard_cannot_check(guard, "no ServerID")
        return policy.server_not_running(
            guard, action, server_id, server_status(client, server_id, farm_id)
        )
    if guard == FARM_TERMINATED:
        farm = str(params.get("FarmID") or "")
        farms = client.farms_list().get("FarmSet") or []
        status = next((f.get("Status") for f in farms if str(f.get("ID")) == farm), None)
        return policy.farm_not_terminated(guard, farm, _whole(status))
    if guard == TARGETS_RUNNING:
        farm_id = _whole(params.get("FarmID"))
        if farm_id is None:
            return policy.guard_cannot_check(
                guard, f"FarmID {params.get('FarmID')!r} is no farm id"
            )
        if params.get("ServerID"):
            server_id = str(params["ServerID"])
            status = server_status(client, server_id, farm_id)
            return policy.no_running_targets(
                guard, f"server {server_id}", [status] if status else []
            )
        rows = _farm_servers(client, farm_id)
        role = str(params.get("FarmRoleID") or "")
        target = f"farm role {role}" if role else f"farm {farm_id}"
        return policy.no_running_targets(
            guard, target, [s for r, _, s in rows if not role or r == role]
        )
    return None
