"""Start the product's own processes for a test: gunicorn with the project's gunicorn.conf.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(log_file: Path, **env: str) -> Iterator[str]:
    """Run `gunicorn -c gunicorn.conf.py wsgi:app` on a free loopback port; yield its base URL.

    `env` is added to this process's environment (DATABASE_URL, INGEST_TOKEN, ...);
    the log goes to `log_file`. Stopped with SIGTERM, as a supervisor stops it.
    """
    port = free_port()
    environ = {**os.environ, "BIND": f"127.0.0.1:{port}", **env}
    with log_file.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.RequestException:  # not listening yet, or slow to answer at first
                assert proc.poll() is None, log_file.read_text()
                assert time.monotonic() < deadline, log_file.read_text()
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
