"""A farm's history: EventsList and LogsList."""

from __future__ import annotations

from typing import Any

from simulator.actions.common import V200, Context, Params, Spec, find_farm, paged


def events_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List a farm's events, newest first (Message empty, as in 3.6)."""
    farm = find_farm(ctx, p["FarmID"])
    items = [
        {"ID": e.id, "Type": e.type, "Timestamp": int(e.timestamp), "Message": ""}
        for e in reversed(ctx.state.events)
        if e.farm_id == farm.id
    ]
    return paged(p, items, "EventSet")


def logs_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List a farm's log lines."""
    farm = find_farm(ctx, p["FarmID"])
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
    return paged(p, items, "LogSet")


SPECS = {
    "EventsList": Spec(
        V200, (("FarmID", True), ("StartFrom", False), ("RecordsLimit", False)), events_list
    ),
    "LogsList": Spec(
        V200,
        (("FarmID", True), ("ServerID", False), ("StartFrom", False), ("RecordsLimit", False)),
        logs_list,
    ),
}
