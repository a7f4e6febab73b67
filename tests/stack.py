"""A whole Lifeguard on loopback: the web app, a worker, the Scalr simulator and a rules file.

Import the `make_stack` fixture into a conftest or test module to use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from app import create_app
from app.config import Config
from app.ingest.service import ingest_of
from app.models.job import ActionJob
from app.services import services_of
from app.worker.loop import Worker
from simulator import SimulatorServer
from tests.conftest import INGEST_TOKEN
from tests.scalr.conftest import KEY_ID, SECRET_KEY, make_state


class LifeguardServer:
    """The Lifeguard web app served for real on 127.0.0.1."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events?token={INGEST_TOKEN}"

    def __enter__(self) -> LifeguardServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@dataclass
class Stack:
    """Everything a test drives."""

    app: Any
    web: LifeguardServer
    sim: SimulatorServer
    worker: Worker
    factory: sessionmaker[Session]
    rules_path: Path

    @property
    def state(self) -> Any:
        return self.sim.state

    def jobs(self) -> list[ActionJob]:
        with self.factory() as session:
            return list(session.scalars(select(ActionJob).order_by(ActionJob.id)))

    def drain(self, until: Callable[[], bool] | None = None, timeout: float = 10.0) -> None:
        """Run worker steps until `until()` holds (or no work is left when no condition)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = self.worker.run_once()
            if until is not None and until():
                return
            if until is None and not busy:
                return
            if not busy:
                time.sleep(0.02)
        raise AssertionError("worker did not reach the expected state in time")

    def write_rules(self, text: str) -> None:
        self.rules_path.write_text(text)
        self.worker.rules.reload_if_changed(force=True)
        assert self.worker.rules.status().ok, self.worker.rules.status().to_dict()


@pytest.fixture
def make_stack(
    database_url: str, session_factory, tmp_path: Path
) -> Iterator[Callable[..., Stack]]:
    """Build a stack with a rules file text and config overrides."""
    opened: list[Any] = []

    def _make(rules: str, state_options: dict[str, Any] | None = None, **overrides: Any) -> Stack:
        state = make_state(**(state_options or {}))
        sim = SimulatorServer(state).start()
        opened.append(sim)
        rules_path = tmp_path / "rules.yml"
        rules_path.write_text(rules)
        environ = {
            "SCALR_API_URL": sim.url,
            "SCALR_KEY_ID": KEY_ID,
            "SCALR_SECRET_KEY": SECRET_KEY,
            "SCALR_ENV_ID": "3",
        }
        settings: dict[str, Any] = {
            "database_url": database_url,
            "instance_path": tmp_path / "instance",
            "testing": True,
            "secret_key": "test",
            "ingest_token": INGEST_TOKEN,
            "rules_file": str(rules_path),
            "retry_base_seconds": 0.01,
            "retry_cap_seconds": 0.05,
            # max_attempts alone ends a job's retries, as the tests count on; the window
            # that carries jobs through an outage has its own scenario (test_scalr_away).
            "retry_window_seconds": 0.0,
            "worker_poll_seconds": 0.05,
            "inventory_sync_seconds": 0,
            "webhook_allowed_urls": ("http://127.0.0.1:",),
        }
        settings.update(overrides)
        config = Config.from_env(environ).with_overrides(**settings)
        app = create_app(config)
        opened.append(app)
        web = LifeguardServer(app).__enter__()
        opened.append(web)
        state.notifier.config.default_url = web.events_url
        factory = services_of(app).session_factory
        worker = Worker(config, factory, services_of(app).rules, worker_id="test-worker")
        opened.append(worker)
        assert worker.rules.status().ok, worker.rules.status().to_dict()
        return Stack(app, web, sim, worker, factory, rules_path)

    yield _make
    for thing in reversed(opened):
        if isinstance(thing, Worker):
            thing.stop()  # a sync still running stops between farms
            assert thing.join_background(10) == [], "a housekeeping look outlived its test"
            thing.clients.close()
            thing.http.close()
        elif isinstance(thing, LifeguardServer):
            thing.__exit__()
        elif isinstance(thing, SimulatorServer):
            thing.stop()
        else:
            ingest_of(thing).stop()
            services_of(thing).engine.dispose()
