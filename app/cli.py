"""The `flask` console commands: schema migrations and the demo setup."""

from __future__ import annotations

import functools
import secrets
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from app import migrate, retention, rollup
from app.db import transaction
from app.models.event import Event
from app.rules.durations import DurationError, parse_duration
from app.services import get_services
from app.web import get_config

db_cli = AppGroup("db", help="Database schema migrations.")
demo_cli = AppGroup("demo", help="The zero-configuration demo that `make run` starts.")
events_cli = AppGroup("events", help="Stored events: retention, the overview's hourly counts.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the database schema up to REVISION (default: head)."""
    migrate.upgrade(get_config().database_url, revision)
    click.echo(f"schema at {revision}")


@db_cli.command("downgrade")
@click.argument("revision", default="base")
def db_downgrade(revision: str) -> None:
    """Take the database schema down to REVISION (default: base, which drops everything)."""
    migrate.downgrade(get_config().database_url, revision)
    click.echo(f"schema at {revision}")


@db_cli.command("current")
def db_current() -> None:
    """Print the schema revision of the database and of the code."""
    current = migrate.current_revision(get_services().engine)
    click.echo(f"database: {current or '(empty)'}\ncode:     {migrate.head_revision()}")


@events_cli.command("prune")
@click.option(
    "--older-than", "older_than", default="90d", show_default=True, help="Age: 30d, 12h, ..."
)
@click.option("--yes", "really", is_flag=True, help="Delete; without it, only count.")
@click.option("--batch", default=retention.DEFAULT_BATCH, show_default=True, type=int)
def events_prune(older_than: str, really: bool, batch: int) -> None:
    """Delete events older than --older-than with their finished jobs (a dry run without --yes)."""
    try:
        seconds = parse_duration(older_than, minimum=retention.MIN_AGE_SECONDS)
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    if batch < 1:
        raise click.BadParameter("must be at least 1", param_hint="--batch")
    services = get_services()
    result = retention.prune_events(
        services.session_factory, seconds, services.clock(), dry_run=not really, batch=batch
    )
    click.echo(result.summary())
    if result.dry_run:
        click.echo("dry run: nothing deleted; add --yes to delete")


@events_cli.command("fold")
@click.option(
    "--wait", is_flag=True, help="Keep folding until every event stored before now is folded."
)
def events_fold(wait: bool) -> None:
    """Fold settled new events into the overview's hourly counts, as the worker does."""
    services = get_services()
    with services.session_factory() as session:
        target = session.scalar(select(func.max(Event.id))) or 0
    while True:
        with transaction(services.session_factory) as session:
            result = rollup.fold_events(session, services.clock(), rollup.SETTLE_SECONDS)
        click.echo(result.summary())
        if not wait or result.folded_id >= target:
            return
        time.sleep(rollup.SETTLE_SECONDS / 12)


DEMO_PORTS = {"WEB_PORT": 5000, "SIM_PORT": 8400, "SMTP_PORT": 8025}


def write_demo_env(
    path: Path, port: int | None, sim_port: int | None, smtp_port: int | None = None
) -> dict[str, str]:
    """Create the demo's secrets and settings file once; return its values.

    Secrets are generated once and kept. A port given now replaces the one kept in the
    file (`make run DEMO_ARGS="--port 5001"` after a first `make run` moves the demo);
    a port not given keeps the file's, or the default.
    """
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    given = {"WEB_PORT": port, "SIM_PORT": sim_port, "SMTP_PORT": smtp_port}
    before = dict(values)
    for key, number in given.items():
        if number is not None:
            values[key] = str(number)
    port = int(values.get("WEB_PORT", DEMO_PORTS["WEB_PORT"]))
    sim_port = int(values.get("SIM_PORT", DEMO_PORTS["SIM_PORT"]))
    values["SMTP_PORT"] = values.get("SMTP_PORT", str(DEMO_PORTS["SMTP_PORT"]))
    # Settings derived from the ports follow them.
    values["BIND"] = f"127.0.0.1:{port}"
    values["SCALR_API_URL"] = f"http://127.0.0.1:{sim_port}/api/api.php"
    defaults = {
        "LIFEGUARD_DEMO": "1",
        "INGEST_TOKEN": secrets.token_urlsafe(24),
        "API_TOKEN": secrets.token_urlsafe(24),
        "ADMIN_USER": "admin",
        "ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "RULES_FILE": "rules.example.yml",
        # Not PORT: honcho gives every process its own PORT.
        "WEB_PORT": str(port),
        "SIM_PORT": str(sim_port),
        "SMTP_HOST": "127.0.0.1",
        "WEBHOOK_ALLOWED_URLS": "http://127.0.0.1:",
        "INVENTORY_SYNC_SECONDS": "60",
        "SCALR_KEY_ID": "demo" + secrets.token_hex(6),
        "SCALR_SECRET_KEY": secrets.token_urlsafe(30),
        "SCALR_ENV_ID": "3",
    }
    changed = values != before
    for key, value in defaults.items():
        if key not in values:
            values[key] = value
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        body = "".join(f"{k}={v}\n" for k, v in values.items())
        path.write_text("# Generated by `flask demo init` for `make run`. Never commit.\n" + body)
    return values


@demo_cli.command("init")
@click.option("--port", type=int, help="Dashboard and ingest port (kept from before, else 5000).")
@click.option("--sim-port", type=int, help="Scalr simulator port (kept from before, else 8400).")
@click.option("--smtp-port", type=int, help="Mail sink port (kept from before, else 8025).")
def demo_init(port: int | None, sim_port: int | None, smtp_port: int | None) -> None:
    """Generate the demo's tokens in instance/demo.env and print how to try it."""
    path = get_config().instance_path / "demo.env"
    values = write_demo_env(path, port, sim_port, smtp_port)
    base = f"http://127.0.0.1:{values['WEB_PORT']}"
    message = (
        "Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+%2854.211.17.89%29"
        "+Internal+IP%3A+10.183.42.7+terminated"
    )
    post_url = shlex.quote(f"{base}/events?token={values['INGEST_TOKEN']}&farm_id=1439")
    click.echo(f"Demo settings and secrets: {path}")
    click.echo(f"Dashboard: {base}/")
    click.echo(f"  log in as {values['ADMIN_USER']} / {values['ADMIN_PASSWORD']}  (kept in {path})")
    click.echo(
        f"Mail sink (the demo's e-mails are printed by its `mail` process): "
        f"{values['SMTP_HOST']}:{values['SMTP_PORT']}"
    )
    click.echo(
        f"Scalr simulator: http://127.0.0.1:{values['SIM_PORT']}/_sim/state; Ctrl-C stops all"
    )
    click.echo("\nPost a HostDown exactly the way Scalr does:")
    click.echo(f"  curl -i -X POST {post_url} --data 'event=OnHostDown&message={message}'")
    click.echo("Read it back:")
    click.echo(f"  curl -s -H 'Authorization: Bearer {values['API_TOKEN']}' {base}/api/v1/events")


def _answer_missing_schema(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Turn "no such table" inside a command into one line naming `db upgrade`, exit 1."""

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except DBAPIError as exc:
            if not migrate.is_missing_schema(exc):
                raise
            engine = get_services().engine
            hint = f"a table is missing: {migrate.UPGRADE_HINT}"
            problem = migrate.schema_problem(engine) or hint
            raise click.ClickException(problem) from None

    guarded.schema_guarded = True  # type: ignore[attr-defined]
    return guarded


def guard_schema(command: click.Command) -> None:
    """Give `command` and every command below it the missing-schema answer."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            guard_schema(sub)
    elif command.callback is not None and not getattr(command.callback, "schema_guarded", False):
        # Commands are module-level objects: every create_app() sees the same ones.
        command.callback = _answer_missing_schema(command.callback)


def register(app: Flask) -> None:
    """Attach every command group to `app`."""
    from app.config_check import config_cli
    from app.controls_cli import actions_cli, kill_switch_cli, users_cli
    from app.dashboard.cli import seed_events_command
    from app.jobs.cli import holds_cli
    from app.rules.cli import rules_cli
    from app.scalr.cli import scalr_cli
    from app.worker.cli import worker_command
    from simulator.cli import scalr_sim_command

    demo_cli.add_command(seed_events_command)
    app.cli.add_command(config_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(events_cli)
    app.cli.add_command(holds_cli)
    app.cli.add_command(rules_cli)
    app.cli.add_command(scalr_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(kill_switch_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(actions_cli)
    app.cli.add_command(scalr_sim_command, "scalr-sim")
    for command in (
        db_cli, demo_cli, events_cli, holds_cli, rules_cli, scalr_cli, worker_command,
        kill_switch_cli, users_cli, actions_cli,
    ):  # fmt: skip
        guard_schema(command)
