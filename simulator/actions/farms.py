"""Farm actions: FarmsList, FarmGetDetails, FarmLaunch, FarmTerminate."""

from __future__ import annotations

from typing import Any

from simulator.actions.common import V200, Context, Params, SimError, Spec, find_farm
from simulator.model import ACTIVE_STATUSES, FARM_RUNNING, FARM_TERMINATED


def farms_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List the environment's farms."""
    items = []
    for farm in ctx.state.farms.values():
        if farm.env_id != ctx.env.id:
            continue
        item: dict[str, Any] = {"ID": farm.id, "Name": farm.name}
        if ctx.version == (2, 0, 0):
            item["Region"] = ""
        item.update({"Status": farm.status, "Comments": farm.comments})
        items.append(item)
    return {"FarmSet": items}


def farm_get_details(ctx: Context, p: Params) -> dict[str, Any]:
    """Describe a farm's roles and every server row they have."""
    farm = find_farm(ctx, p["FarmID"])
    now = ctx.state.now()
    roles = []
    for role in ctx.state.farm_roles.values():
        if role.farm_id != farm.id:
            continue
        servers = [
            {
                "ServerID": s.server_id,
                "ExternalIP": s.public_ip,
                "InternalIP": s.internal_ip,
                "Status": s.status,
                "Index": s.index,
                "ScalarizrVersion": "0.21.4",
                "Uptime": int((now - s.added_at) // 60),  # minutes, as the code says
                "IsDbMaster": 0,
            }
            for s in ctx.state.servers.values()
            if s.farm_role_id == role.id
        ]
        item: dict[str, Any] = {
            "ID": role.id,
            "RoleID": role.role_id,
            "Name": role.role_name,
            "Platform": role.platform,
            "Category": "Base",
            "ScalingProperties": {
                "MinInstances": role.min_instances,
                "MaxInstances": role.max_instances,
            },
        }
        if ctx.version >= (2, 1, 0):
            item["CloudLocation"] = role.cloud_location
        if ctx.version >= (2, 3, 0):
            item["IsScalingEnabled"] = role.scaling_enabled
        item["ServerSet"] = servers
        roles.append(item)
    top: dict[str, Any] = {}
    if ctx.version >= (2, 3, 0):
        top = {"ID": farm.id, "Name": farm.name, "IsLocked": 0}
    return {**top, "FarmRoleSet": roles}


def farm_launch(ctx: Context, p: Params) -> dict[str, Any]:
    """Launch a farm and its minimum servers."""
    farm = find_farm(ctx, p["FarmID"])
    if farm.status == FARM_RUNNING:
        raise SimError("Farm already running")
    farm.status = FARM_RUNNING
    ctx.state.emit("FarmLaunched", farm_id=farm.id)
    for role in list(ctx.state.farm_roles.values()):
        if role.farm_id == farm.id:
            for _ in range(role.min_instances):
                ctx.state.launch_server(role.id)
    return {"Result": True}


def farm_terminate(ctx: Context, p: Params) -> dict[str, Any]:
    """Terminate a farm and all its servers."""
    farm = find_farm(ctx, p["FarmID"])
    if farm.status == FARM_TERMINATED:
        raise SimError("Farm already terminated")
    farm.status = FARM_TERMINATED
    for server in list(ctx.state.servers.values()):
        if server.farm_id == farm.id and server.status in ACTIVE_STATUSES:
            ctx.state.terminate_server(server)
    ctx.state.emit("FarmTerminated", farm_id=farm.id)
    return {"Result": True}


SPECS = {
    "FarmsList": Spec(V200, (), farms_list),
    "FarmGetDetails": Spec(V200, (("FarmID", True),), farm_get_details),
    "FarmLaunch": Spec(V200, (("FarmID", True),), farm_launch),
    "FarmTerminate": Spec(
        V200,
        (("FarmID", True), ("KeepEBS", True), ("KeepEIP", True), ("KeepDNSZone", True)),
        farm_terminate,
    ),
}
