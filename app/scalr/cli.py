"""`flask scalr ...`: call the Query API by hand and list the configured environments."""

from __future__ import annotations

import json
import re
from typing import Any

import click
from flask.cli import AppGroup

from app.scalr.client import build_client
from app.scalr.environments import ScalrEnvironments
from app.scalr.errors import ScalrConfigError, ScalrError
from app.services import get_services
from app.web import get_config

scalr_cli = AppGroup("scalr", help="Talk to the Scalr Query API.")

_PARAM = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)(?:\[(?P<key>[^\]]*)\])?=(?P<value>.*)$")


def parse_cli_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """Turn Name=value and Name[key]=value arguments into call parameters."""
    params: dict[str, Any] = {}
    for pair in pairs:
        match = _PARAM.match(pair)
        if match is None:
            raise click.BadParameter(f"{pair!r} is not Name=value or Name[key]=value")
        name, key, value = match.group("name", "key", "value")
        if key is None:
            params[name] = value
            continue
        existing = params.setdefault(name, {})
        if not isinstance(existing, dict):
            raise click.BadParameter(f"{name} given both as a value and as an array")
        existing[key] = value
    return params


def _environments() -> ScalrEnvironments:
    return ScalrEnvironments.read(get_config().environ)


@scalr_cli.command("call")
@click.argument("action")
@click.argument("params", nargs=-1)
@click.option("--env", "env_name", default="default", show_default=True, help="Environment.")
@click.option("--get", "use_get", is_flag=True, help="Send a GET instead of a POST form.")
def call_command(action: str, params: tuple[str, ...], env_name: str, use_get: bool) -> None:
    """Call ACTION with Name=value parameters and print the parsed answer as JSON."""
    factory = get_services().session_factory
    try:
        with build_client(env_name, _environments(), factory) as client:
            response = client.call(
                action, method="GET" if use_get else "POST", **parse_cli_params(params)
            )
    except (ScalrError, ScalrConfigError) as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        transaction_id = getattr(exc, "transaction_id", None)
        if transaction_id:
            click.echo(f"TransactionID: {transaction_id}", err=True)
        raise SystemExit(1) from None
    click.echo(json.dumps(response.to_dict(), indent=2, sort_keys=False))


@scalr_cli.command("environments")
def environments_command() -> None:
    """List the configured Scalr environments (never their secrets)."""
    try:
        environments = _environments().all()
    except ScalrConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    if not environments:
        click.echo("no Scalr environment configured (set SCALR_API_URL)")
        return
    for env in environments.values():
        click.echo(
            f"{env.name}\turl={env.api_url}\tkey_id={env.key_id}\tenv_id={env.env_id or '-'}"
            f"\tversion={env.version}\trequests_per_hour={env.requests_per_hour}"
        )
