"""`flask worker`: run the worker loop until SIGTERM."""

from __future__ import annotations

import signal

import click
from flask import current_app
from flask.cli import with_appcontext

from app import migrate
from app.config import Config
from app.rules.store import RulesStore
from app.services import get_services
from app.worker.loop import Worker


@click.command("worker")
@with_appcontext
@click.option(
    "--max-seconds", type=float, default=None, help="Stop after this long (tests, demos)."
)
def worker_command(max_seconds: float | None) -> None:
    """Match events, run due action jobs, retry, record; SIGTERM finishes the current job."""
    config: Config = current_app.config["LIFEGUARD"]
    store: RulesStore = get_services().rules
    problem = migrate.schema_problem(get_services().engine)
    if problem is not None:
        raise click.ClickException(problem)
    worker = Worker(config, get_services().session_factory, store)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    click.echo(f"worker {worker.id} running; rules from {store.path}")
    worker.run(max_seconds=max_seconds)
