"""Fixtures: a simulated Scalr on loopback, a client for it, and a tiny capturing receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.scalr.client import ScalrClient
from app.scalr.environments import ScalrEnvironment
from simulator import SimState, SimulatorServer, build_state, demo_config

# The made-up key of protocol section 6.5.
KEY_ID = "5d0e16f7498c41cc"
SECRET_KEY = "q2Jx1M0aZ3e1oV8bT1nR7wK4yP6uH9sD2fG5jL0c"
ENV_ID = 3
FAST_TIMINGS = {
    "pending_seconds": 1,
    "initializing_seconds": 2,
    "terminating_seconds": 1,
    "reboot_seconds": 2,
    "tick_seconds": 0,
}


def make_state(**options: object) -> SimState:
    """Return the demo installation with small timings and no ticker thread."""
    config = demo_config(KEY_ID, SECRET_KEY)
    config["timings"] = FAST_TIMINGS
    options.setdefault("autotick", False)
    options.setdefault("seed", 7)
    return build_state(config, **options)


@pytest.fixture
def sim_state() -> SimState:
    """A fresh simulator state: farm 1439 "prod" with web (1978) and db (1979)."""
    return make_state()


@pytest.fixture
def sim(sim_state: SimState) -> Iterator[SimulatorServer]:
    """The simulator serving on 127.0.0.1."""
    with SimulatorServer(sim_state) as server:
        yield server


@pytest.fixture
def scalr_env(sim: SimulatorServer) -> ScalrEnvironment:
    """The environment of the demo key at the simulator, with a short timeout."""
    return ScalrEnvironment(
        name="default",
        api_url=sim.url,
        key_id=KEY_ID,
        secret_key=SECRET_KEY,
        env_id=ENV_ID,
        timeout_seconds=2.0,
    )


@pytest.fixture
def scalr_client(scalr_env: ScalrEnvironment) -> Iterator[ScalrClient]:
    """A client of the simulator, closed afterwards."""
    with ScalrClient(scalr_env) as client:
        yield client


@dataclass
class Captured:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Receiver:
    """A loopback HTTP server that records requests and answers a fixed body."""

    url: str
    requests: list[Captured] = field(default_factory=list)
    answer: bytes = b""
    answer_type: str = "text/plain"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Captured]:
        """Wait until `count` requests arrived and return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return self.requests
            time.sleep(0.01)
        raise AssertionError(f"expected {count} requests, got {len(self.requests)}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A capturing HTTP server on 127.0.0.1."""
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            rec = state["receiver"]
            rec.requests.append(
                Captured(
                    self.command,
                    self.path,
                    dict(self.headers.items()),
                    list(self.headers.items()),
                    body,
                )
            )
            self.send_response(200)
            self.send_header("Content-Type", rec.answer_type)
            self.send_header("Content-Length", str(len(rec.answer)))
            self.end_headers()
            self.wfile.write(rec.answer)

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_port}")
    try:
        yield state["receiver"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
