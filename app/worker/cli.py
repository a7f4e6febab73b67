"""`flask worker`: run the worker loop until SIGTERM."""

from __future__ import annotations

import signal

import click
from flask import current_app

from app.config import Config
from app.rules.store import RulesStore
from app.worker.loop import Worker


@click.command("worker")
@click.option(
    "--max-seconds", type=float, default=None, help="Stop after this long (tests, demos)."
)
def worker_command(max_seconds: float | None) -> None:
    """Match events, run due action jobs, retry, record; SIGTERM finishes the current job."""
    config: Config = current_app.config["LIFEGUARD"]
    store: RulesStore = current_app.extensions["lifeguard.rules"]
    worker = Worker(config, current_app.extensions["lifeguard.session_factory"], store)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    click.echo(f"worker {worker.id} running; rules from {store.path}")
    worker.run(max_seconds=max_seconds)
