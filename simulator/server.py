"""Run the simulator on a loopback port in a background thread (tests, the demo)."""

from __future__ import annotations

import logging
import re
import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from simulator.app import create_sim_app
from simulator.state import SimState

log = logging.getLogger(__name__)
_SIGNATURE = re.compile(r"(Signature=)[^&\s\"]*")


class QuietRequestHandler(WSGIRequestHandler):
    """Log request lines at DEBUG with Signature values removed."""

    def log(self, type: str, message: str, *args: Any) -> None:
        text = _SIGNATURE.sub(r"\1[redacted]", message % args if args else message)
        log.debug("%s %s", self.address_string(), text)


class SimulatorServer:
    """`with SimulatorServer(state) as sim:` serves on 127.0.0.1; `sim.url` is the API URL."""

    def __init__(self, state: SimState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Return http://127.0.0.1:<port> of the running server."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def url(self) -> str:
        """Return the Query API endpoint, /api/api.php."""
        return f"{self.base_url}/api/api.php"

    def start(self) -> SimulatorServer:
        """Bind, start the state's threads and serve in a daemon thread."""
        self._server = make_server(
            self.host,
            self.port,
            create_sim_app(self.state),
            threaded=True,
            request_handler=QuietRequestHandler,
        )
        self.state.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="scalr-sim-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and stop the state's threads."""
        self.state.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.state.stop()
        self._server = None
        self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
