"""The simulated Query API actions: parameters, side effects and answers (protocol section 4)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.model import (
    ACTIVE_STATUSES,
    FARM_RUNNING,
    FARM_TERMINATED,
    INITIALIZING,
    RUNNING,
    ApiKey,
    DNSRecord,
    Farm,
    FarmRole,
    LogRecord,
    Server,
    SimEnvironment,
)
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


def truthy(value: Any) -> bool:
    """Read a flag with PHP truthiness: "" and "0" are false, even "false" is true."""
    return value not in (None, "", "0")


def _int(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return -1


def _farm(ctx: Context, farm_id: Any) -> Farm:
    farm = ctx.state.farms.get(_int(farm_id))
    if farm is None or farm.env_id != ctx.env.id:
        raise SimError(f"Farm #{farm_id} not found")
    return farm


def _farm_role(ctx: Context, farm_role_id: Any) -> FarmRole:
    role = ctx.state.farm_roles.get(_int(farm_role_id))
    if role is None or ctx.state.farms[role.farm_id].env_id != ctx.env.id:
        raise SimError(f"Farm Role ID #{farm_role_id} not found")
    return role


def _server(ctx: Context, server_id: Any) -> Server:
    server = ctx.state.servers.get(str(server_id))
    if server is None:
        raise SimError(f"Server ID#{server_id} not found in database")
    if ctx.state.farms[server.farm_id].env_id != ctx.env.id:
        raise SimError(f"Server ID #{server_id} not found")
    return server


def _paged(p: Params, items: list[Any], set_name: str) -> dict[str, Any]:
    start = max(0, _int(p.get("StartFrom") or 0))
    limit = _int(p.get("RecordsLimit") or 20)
    limit = 20 if limit < 0 else limit
    return {
        "TotalRecords": len(items),
        "StartFrom": start,
        "RecordsLimit": limit,
        set_name: items[start : start + limit],
    }


def server_launch(ctx: Context, p: Params) -> dict[str, Any]:
    """Launch a server; <= 4.x may raise Max and Min instances as a side effect."""
    role = _farm_role(ctx, p["FarmRoleID"])
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
    server = _server(ctx, p["ServerID"])
    role = ctx.state.farm_roles[server.farm_role_id]
    if truthy(p.get("DecreaseMinInstancesSetting")) and role.min_instances > 1:
        role.min_instances -= 1
    ctx.state.terminate_server(server)
    return {"Result": True}


def server_reboot(ctx: Context, p: Params) -> dict[str, Any]:
    """Reboot a server."""
    ctx.state.reboot_server(_server(ctx, p["ServerID"]))
    return {"Result": True}


def server_get_extended_information(ctx: Context, p: Params) -> dict[str, Any]:
    """Describe one server."""
    server = _server(ctx, p["ServerID"])
    role = ctx.state.farm_roles[server.farm_role_id]
    return {
        "ServerInfo": {
            "ServerID": server.server_id,
            "Platform": role.platform,
            "RemoteIP": server.public_ip,
            "LocalIP": server.internal_ip,
            "Status": server.status,
            "Index": server.index,
            "AddedAt": _date(server.added_at),
        },
        "PlatformProperties": {
            "InstanceID": server.cloud_server_id,
            "AvailabilityZone": f"{role.cloud_location}a",
        },
        "ScalrProperties": {"FarmID": server.farm_id, "FarmRoleID": server.farm_role_id},
    }


def _date(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment))


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
    farm = _farm(ctx, p["FarmID"])
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
    farm = _farm(ctx, p["FarmID"])
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
    farm = _farm(ctx, p["FarmID"])
    if farm.status == FARM_TERMINATED:
        raise SimError("Farm already terminated")
    farm.status = FARM_TERMINATED
    for server in list(ctx.state.servers.values()):
        if server.farm_id == farm.id and server.status in ACTIVE_STATUSES:
            ctx.state.terminate_server(server)
    ctx.state.emit("FarmTerminated", farm_id=farm.id)
    return {"Result": True}


def scripts_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List scripts."""
    return {
        "ScriptSet": [
            {
                "ID": s.id,
                "Name": s.name,
                "Description": s.description,
                "LatestRevision": max(s.revisions, default=1),
            }
            for s in ctx.state.scripts.values()
        ]
    }


def script_get_details(ctx: Context, p: Params) -> dict[str, Any]:
    """Describe a script's revisions."""
    script = ctx.state.scripts.get(_int(p["ScriptID"]))
    if script is None:
        raise SimError(f"Script ID: {p['ScriptID']} not found in our database (1)")
    show = truthy(p.get("ShowContent"))
    revisions = []
    for number, body in sorted(script.revisions.items()):
        item: dict[str, Any] = {"Revision": number, "Date": _date(ctx.state.now())}
        if show:
            item["Content"] = base64.b64encode(body.encode()).decode()
        item["ConfigVariables"] = []
        revisions.append(item)
    return {"ScriptID": script.id, "ScriptRevisionSet": revisions}


def script_execute(ctx: Context, p: Params) -> dict[str, Any]:
    """Run a script on a server, a farm role or a farm (only Initializing/Running servers)."""
    farm = _farm(ctx, p["FarmID"])
    script = ctx.state.scripts.get(_int(p["ScriptID"]))
    if script is None:
        raise SimError(f"Script ID: {p['ScriptID']} not found in our database (1)")
    targets = [
        s
        for s in ctx.state.servers.values()
        if s.farm_id == farm.id and s.status in (INITIALIZING, RUNNING)
    ]
    if p.get("ServerID"):
        targets = [s for s in targets if s.server_id == p["ServerID"]]
    elif p.get("FarmRoleID"):
        role = ctx.state.farm_roles.get(_int(p["FarmRoleID"]))
        if role is None or role.farm_id != farm.id:
            raise SimError(f"FarmRole #{p['FarmRoleID']} not found on farm #{farm.id}")
        targets = [s for s in targets if s.farm_role_id == role.id]
    mode = "async" if p.get("Async") == "1" else "sync"
    for server in targets:
        ctx.state.logs.append(
            LogRecord(
                farm.id,
                server.server_id,
                f"Script '{script.name}' executed ({mode})",
                2,
                ctx.state.now(),
                "ScriptExecute",
            )
        )
    return {"Result": True}


def _scope(p: Params) -> tuple[str, str]:
    for name in ("ServerID", "FarmRoleID", "FarmID", "RoleID"):
        if truthy(p.get(name)):
            return (name, str(p[name]))
    return ("Environment", "")


def global_variable_set(ctx: Context, p: Params) -> dict[str, Any]:
    """Set a global variable on a farm role or farm (4.x needs one of them)."""
    if not truthy(p.get("FarmID")) and not truthy(p.get("FarmRoleID")):
        raise SimError("FarmID or FarmRoleID should be specitied")
    if truthy(p.get("FarmRoleID")):
        _farm_role(ctx, p["FarmRoleID"])
        scope = ("FarmRoleID", str(p["FarmRoleID"]))
    else:
        _farm(ctx, p["FarmID"])
        scope = ("FarmID", str(p["FarmID"]))
    ctx.state.global_variables.setdefault(scope, {})[str(p["ParamName"])] = str(p["ParamValue"])
    return {"Result": True}


def global_variables_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List the variables of the first scope given."""
    values = ctx.state.global_variables.get(_scope(p), {})
    return {"VariableSet": [{"Name": k, "Value": v} for k, v in values.items()]}


def events_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List a farm's events, newest first (Message empty, as in 3.6)."""
    farm = _farm(ctx, p["FarmID"])
    items = [
        {"ID": e.id, "Type": e.type, "Timestamp": int(e.timestamp), "Message": ""}
        for e in reversed(ctx.state.events)
        if e.farm_id == farm.id
    ]
    return _paged(p, items, "EventSet")


def logs_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List a farm's log lines."""
    farm = _farm(ctx, p["FarmID"])
    items = [
        {
            "ServerID": r.server_id,
            "Message": r.message,
            "Severity": r.severity,
            "Timestamp": int(r.timestamp),
            "Source": r.source,
        }
        for r in reversed(ctx.state.logs)
        if r.farm_id == farm.id and (not p.get("ServerID") or r.server_id == p["ServerID"])
    ]
    return _paged(p, items, "LogSet")


def environments_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List the environments of the caller."""
    envs = [ctx.state.environments[i] for i in ctx.key.env_ids if i in ctx.state.environments]
    return {"EnvironmentSet": [{"ID": e.id, "Name": e.name} for e in envs]}


def _zone(ctx: Context, name: Any) -> Any:
    zone = ctx.state.dns_zones.get(str(name))
    if zone is None:
        raise SimError(f"Zone '{name}' not found in database")
    return zone


def dns_zone_records_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List a zone's records."""
    zone = _zone(ctx, p["ZoneName"])
    return {
        "ZoneRecordSet": [
            {
                "ID": r.id,
                "Type": r.type,
                "TTL": r.ttl,
                "Priority": r.priority,
                "Name": r.name,
                "Value": r.value,
                "Weight": r.weight,
                "Port": r.port,
                "IsSystem": int(r.is_system),
            }
            for r in zone.records
        ]
    }


def dns_zone_record_add(ctx: Context, p: Params) -> dict[str, Any]:
    """Add a record to a zone."""
    zone = _zone(ctx, p["ZoneName"])
    if p["Type"] not in ("A", "MX", "CNAME", "NS", "TXT", "SRV"):
        raise SimError(f"Unknown record type '{p['Type']}'")
    zone.records.append(
        DNSRecord(
            id=ctx.state.next_id("record"),
            type=str(p["Type"]),
            ttl=_int(p["TTL"]),
            name=str(p["Name"]),
            value=str(p["Value"]),
            priority=_int(p.get("Priority") or 0),
            weight=_int(p.get("Weight") or 0),
            port=_int(p.get("Port") or 0),
        )
    )
    return {"Result": True}


def dns_zone_record_remove(ctx: Context, p: Params) -> dict[str, Any]:
    """Remove a record from a zone."""
    zone = _zone(ctx, p["ZoneName"])
    for record in zone.records:
        if str(record.id) == str(p["RecordID"]) and not record.is_system:
            zone.records.remove(record)
            return {"Result": True}
    raise SimError(f"Record ID '{p['RecordID']}' for zone '{zone.name}' not found in database")


def hello(ctx: Context, p: Params) -> dict[str, Any]:
    """Answer an authenticated ping."""
    return {"Result": True}


Handler = Callable[[Context, Params], dict[str, Any]]


@dataclass(frozen=True)
class Spec:
    """An action: the Version that defines it, its parameters in PHP order, its handler."""

    since: tuple[int, ...]
    params: tuple[tuple[str, bool], ...]
    handler: Handler


V200, V230 = (2, 0, 0), (2, 3, 0)
SPECS: dict[str, Spec] = {
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
    "FarmsList": Spec(V200, (), farms_list),
    "FarmGetDetails": Spec(V200, (("FarmID", True),), farm_get_details),
    "FarmLaunch": Spec(V200, (("FarmID", True),), farm_launch),
    "FarmTerminate": Spec(
        V200,
        (("FarmID", True), ("KeepEBS", True), ("KeepEIP", True), ("KeepDNSZone", True)),
        farm_terminate,
    ),
    "ScriptsList": Spec(V200, (), scripts_list),
    "ScriptGetDetails": Spec(
        V200, (("ScriptID", True), ("ShowContent", False)), script_get_details
    ),
    "ScriptExecute": Spec(
        V200,
        (
            ("ScriptID", True),
            ("Timeout", True),
            ("Async", True),
            ("FarmID", True),
            ("FarmRoleID", False),
            ("ServerID", False),
            ("Revision", False),
            ("ConfigVariables", False),
        ),
        script_execute,
    ),
    "GlobalVariableSet": Spec(
        V230,
        (("ParamName", True), ("ParamValue", True), ("FarmRoleID", False), ("FarmID", False)),
        global_variable_set,
    ),
    "GlobalVariablesList": Spec(
        V230,
        (("ServerID", False), ("FarmID", False), ("FarmRoleID", False), ("RoleID", False)),
        global_variables_list,
    ),
    "EventsList": Spec(
        V200, (("FarmID", True), ("StartFrom", False), ("RecordsLimit", False)), events_list
    ),
    "LogsList": Spec(
        V200,
        (("FarmID", True), ("ServerID", False), ("StartFrom", False), ("RecordsLimit", False)),
        logs_list,
    ),
    "EnvironmentsList": Spec(V230, (), environments_list),
    "DNSZoneRecordsList": Spec(V200, (("ZoneName", True),), dns_zone_records_list),
    "DNSZoneRecordAdd": Spec(
        V200,
        (
            ("ZoneName", True),
            ("Type", True),
            ("TTL", True),
            ("Name", True),
            ("Value", True),
            ("Priority", False),
            ("Weight", False),
            ("Port", False),
        ),
        dns_zone_record_add,
    ),
    "DNSZoneRecordRemove": Spec(
        V200, (("ZoneName", True), ("RecordID", True)), dns_zone_record_remove
    ),
    "Hello": Spec(V200, (), hello),
}


def find_spec(action: str, version: tuple[int, ...]) -> tuple[str, Spec] | None:
    """Find an action the way PHP finds a method: case-insensitively, in this Version's class."""
    for name, spec in SPECS.items():
        if name.lower() == action.lower() and version >= spec.since:
            return name, spec
    return None
