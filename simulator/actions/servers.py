"""Server actions: ServerLaunch, ServerTerminate, ServerReboot, ServerGetExtendedInformation."""

from __future__ import annotations

from typing import Any

from simulator.actions.common import (
    V200,
    V230,
    Context,
    LaunchFailed,
    Params,
    SimError,
    Spec,
    find_farm_role,
    find_server,
    php_date,
    truthy,
)
from simulator.model import INITIALIZING, RUNNING


def server_launch(ctx: Context, p: Params) -> dict[str, Any]:
    """Launch a server; <= 4.x may raise Max and Min instances as a side effect."""
    role = find_farm_role(ctx, p["FarmRoleID"])
    increase = truthy(p.get("IncreaseMaxInstances"))
    active = ctx.state.active_servers(role.id)
    running = [s for s in active if s.status in (INITIALIZING, RUNNING)]
    if len(active) >= role.max_instances:
        if not increase:
            raise SimError(
                "Max instances limit reached. Use 'IncreaseMaxInstances' parameter or increase "
                "max isntances settings in UI"
            )
        role.max_instances += 1
    if len(running) < role.min_instances or role.max_instances < role.min_instances:
        role.min_instances += 1
    if ctx.launch_fails:
        raise LaunchFailed
    return {"ServerID": ctx.state.launch_server(role.id).server_id}


def server_terminate(ctx: Context, p: Params) -> dict[str, Any]:
    """Terminate a server, lowering MinInstances only if asked and it is above 1."""
    server = find_server(ctx, p["ServerID"])
    role = ctx.state.farm_roles[server.farm_role_id]
    if truthy(p.get("DecreaseMinInstancesSetting")) and role.min_instances > 1:
        role.min_instances -= 1
    ctx.state.terminate_server(server)
    return {"Result": True}


def server_reboot(ctx: Context, p: Params) -> dict[str, Any]:
    """Reboot a server."""
    ctx.state.reboot_server(find_server(ctx, p["ServerID"]))
    return {"Result": True}


def server_get_extended_information(ctx: Context, p: Params) -> dict[str, Any]:
    """Describe one server."""
    server = find_server(ctx, p["ServerID"])
    role = ctx.state.farm_roles[server.farm_role_id]
    return {
        "ServerInfo": {
            "ServerID": server.server_id,
            "Platform": role.platform,
            "RemoteIP": server.public_ip,
            "LocalIP": server.internal_ip,
            "Status": server.status,
            "Index": server.index,
            "AddedAt": php_date(server.added_at),
        },
        "PlatformProperties": {
            "InstanceID": server.cloud_server_id,
            "AvailabilityZone": f"{role.cloud_location}a",
        },
        "ScalrProperties": {"FarmID": server.farm_id, "FarmRoleID": server.farm_role_id},
    }


SPECS = {
    "ServerLaunch": Spec(
        V200, (("FarmRoleID", True), ("IncreaseMaxInstances", False)), server_launch
    ),
    "ServerTerminate": Spec(
        V200, (("ServerID", True), ("DecreaseMinInstancesSetting", False)), server_terminate
    ),
    "ServerReboot": Spec(V200, (("ServerID", True),), server_reboot),
    "ServerGetExtendedInformation": Spec(
        V230, (("ServerID", True),), server_get_extended_information
    ),
}
