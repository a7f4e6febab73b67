"""The caller's own view: EnvironmentsList, and Hello to ping with a signed call."""

from __future__ import annotations

from typing import Any

from simulator.actions.common import V200, V230, Context, Params, Spec


def environments_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List the environments of the caller."""
    envs = [ctx.state.environments[i] for i in ctx.key.env_ids if i in ctx.state.environments]
    return {"EnvironmentSet": [{"ID": e.id, "Name": e.name} for e in envs]}


def hello(ctx: Context, p: Params) -> dict[str, Any]:
    """Answer an authenticated ping."""
    return {"Result": True}


SPECS = {
    "EnvironmentsList": Spec(V230, (), environments_list),
    "Hello": Spec(V200, (), hello),
}
