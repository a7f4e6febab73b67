"""Global variable actions: GlobalVariableSet, GlobalVariablesList."""

from __future__ import annotations

from typing import Any

from simulator.actions.common import (
    V230,
    Context,
    Params,
    SimError,
    Spec,
    find_farm,
    find_farm_role,
    truthy,
)


def scope_of(p: Params) -> tuple[str, str]:
    """Return the first scope given, narrowest first; none given is the environment."""
    for name in ("ServerID", "FarmRoleID", "FarmID", "RoleID"):
        if truthy(p.get(name)):
            return (name, str(p[name]))
    return ("Environment", "")


def global_variable_set(ctx: Context, p: Params) -> dict[str, Any]:
    """Set a global variable on a farm role or farm (4.x needs one of them)."""
    if not truthy(p.get("FarmID")) and not truthy(p.get("FarmRoleID")):
        raise SimError("FarmID or FarmRoleID should be specitied")
    if truthy(p.get("FarmRoleID")):
        find_farm_role(ctx, p["FarmRoleID"])
        scope = ("FarmRoleID", str(p["FarmRoleID"]))
    else:
        find_farm(ctx, p["FarmID"])
        scope = ("FarmID", str(p["FarmID"]))
    ctx.state.global_variables.setdefault(scope, {})[str(p["ParamName"])] = str(p["ParamValue"])
    return {"Result": True}


def global_variables_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List the variables of the first scope given."""
    values = ctx.state.global_variables.get(scope_of(p), {})
    return {"VariableSet": [{"Name": k, "Value": v} for k, v in values.items()]}


SPECS = {
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
}
