"""`flask worker`: run the worker loop until SIGTERM."""

from __future__ import annotations

import logging
import signal

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import DBAPIError

from app import migrate
from app.services import get_services
from app.worker.loop import MAX_BACKOFF_SECONDS, Worker

log = logging.getLogger(__name__)


def wait_for_schema(worker: Worker) -> str | None:
    """Wait until the database answers; return its schema problem (None: ready) or None if
    the worker was asked to stop meanwhile."""
    delay = 0.5
    engine = get_services().engine
    while not worker.stopping.is_set():
        try:
            return migrate.schema_problem(engine)
        except DBAPIError as exc:
            log.warning(
                "database not reachable (%s); the worker waits %.1fs and tries again",
                type(exc).__name__,
                delay,
            )
            worker.stopping.wait(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)
    return None


@click.command("worker")
@with_appcontext
@click.option(
    "--max-seconds", type=float, default=None, help="Stop after this long (tests, demos)."
)
def worker_command(max_seconds: float | None) -> None:
    """Match events, run due action jobs, retry, record; SIGTERM finishes the current job."""
    services = get_services()
    worker = Worker(services.config, services.session_factory, services.rules)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    # A database that is not up yet is waited for; one without our schema is a mistake.
    problem = wait_for_schema(worker)
    if problem is not None:
        raise click.ClickException(problem)
    if worker.stopping.is_set():
        return
    if services.config.worker_metrics_port:
        from prometheus_client import start_http_server

        from app.metrics import process_registry

        config = services.config
        start_http_server(
            config.worker_metrics_port, config.worker_metrics_addr, registry=process_registry()
        )
        click.echo(f"worker metrics on {config.worker_metrics_addr}:{config.worker_metrics_port}")
    click.echo(f"worker {worker.id} running; rules from {services.rules.path}")
    worker.run(max_seconds=max_seconds)
