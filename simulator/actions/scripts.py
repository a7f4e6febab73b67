"""Script actions: ScriptsList, ScriptGetDetails, ScriptExecute."""

from __future__ import annotations

import base64
from typing import Any

from simulator.actions.common import (
    V200,
    Context,
    Params,
    SimError,
    Spec,
    find_farm,
    php_date,
    to_int,
    truthy,
)
from simulator.model import INITIALIZING, RUNNING, LogRecord, Script


def find_script(ctx: Context, script_id: Any) -> Script:
    """Return a script, or fail as Scalr does."""
    script = ctx.state.scripts.get(to_int(script_id))
    if script is None:
        raise SimError(f"Script ID: {script_id} not found in our database (1)")
    return script


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
    script = find_script(ctx, p["ScriptID"])
    show = truthy(p.get("ShowContent"))
    revisions = []
    for number, body in sorted(script.revisions.items()):
        item: dict[str, Any] = {"Revision": number, "Date": php_date(ctx.state.now())}
        if show:
            item["Content"] = base64.b64encode(body.encode()).decode()
        item["ConfigVariables"] = []
        revisions.append(item)
    return {"ScriptID": script.id, "ScriptRevisionSet": revisions}


def script_execute(ctx: Context, p: Params) -> dict[str, Any]:
    """Run a script on a server, a farm role or a farm (only Initializing/Running servers)."""
    farm = find_farm(ctx, p["FarmID"])
    script = find_script(ctx, p["ScriptID"])
    targets = [
        s
        for s in ctx.state.servers.values()
        if s.farm_id == farm.id and s.status in (INITIALIZING, RUNNING)
    ]
    if p.get("ServerID"):
        targets = [s for s in targets if s.server_id == p["ServerID"]]
    elif p.get("FarmRoleID"):
        role = ctx.state.farm_roles.get(to_int(p["FarmRoleID"]))
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


SPECS = {
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
}
