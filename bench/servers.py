"""Start and stop the servers the ingest benchmark loads: gunicorn apps, webhook, the worker.

Every process is started here, on a loopback port, and stopped by its own pid.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import text

from app import migrate
from app.db import make_engine, normalise_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("BENCH_VENV", ROOT / ".venv")) / "bin"
TOKEN = "bench-token-0123456789"


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Return the resident set size of process `pid` in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """Return the pids of the direct children of `pid`."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


@dataclass
class Running:
    """A started server: where to post, and the process behind it."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes] | None = None

    def web_rss(self) -> float:
        """Return the largest resident size among the web worker processes, MiB."""
        pids = children(self.process.pid) or [self.process.pid]
        return max(rss_mib(pid) for pid in pids)

    def worker_rss(self) -> float | None:
        """Return the worker process's resident size, MiB (None without a worker)."""
        return rss_mib(self.worker.pid) if self.worker is not None else None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait_ready(process: subprocess.Popen[bytes], probe: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{probe}: server exited; see {log}:\n{log.read_text()[-2000:]}")
        try:
            requests.get(probe, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{probe} did not answer within 60 s; see {log}")


def _spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    try:
        return subprocess.Popen(  # noqa: S603 -- our own fixed commands
            argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    finally:
        handle.close()


def _gunicorn(app: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = {**env, "BIND": f"127.0.0.1:{port}"}
    return _spawn([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", app], env, log)


@contextmanager
def bare_flask(workdir: Path) -> Iterator[Running]:
    """Serve bench/bare.py under the project's gunicorn settings."""
    port, log = free_port(), workdir / "bare.log"
    process = _gunicorn("bench.bare:app", port, dict(os.environ), log)
    try:
        _wait_ready(process, f"http://127.0.0.1:{port}/healthz", log)
        yield Running("bare Flask", f"http://127.0.0.1:{port}/events?token={TOKEN}", process)
    finally:
        _stop(process)


@contextmanager
def adnanh_webhook(workdir: Path) -> Iterator[Running]:
    """Serve one hook with adnanh/webhook that runs a command and waits for it."""
    port, log = free_port(), workdir / "webhook.log"
    script = workdir / "hook.sh"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$1" >> "$HOOK_LOG"\n')
    script.chmod(0o755)
    hooks = workdir / "hooks.json"
    hook = {
        "id": "scalr",
        "execute-command": str(script),
        "pass-arguments-to-command": [{"source": "payload", "name": "message"}],
        "include-command-output-in-response": True,
        "success-http-response-code": 202,
        "http-methods": ["POST"],
    }
    hooks.write_text(json.dumps([hook]))
    env = {**os.environ, "HOOK_LOG": str(workdir / "hook-output.log")}
    argv = ["webhook", "-hooks", str(hooks), "-ip", "127.0.0.1", "-port", str(port)]
    process = _spawn(argv, env, log)
    try:
        _wait_ready(process, f"http://127.0.0.1:{port}/", log)
        yield Running("webhook", f"http://127.0.0.1:{port}/hooks/scalr?token={TOKEN}", process)
    finally:
        _stop(process)


def fresh_database(base_url: str | None, workdir: Path, label: str) -> tuple[str, str | None]:
    """Return a migrated, empty database (SQLite file or PostgreSQL schema) and its schema."""
    if not base_url:
        url = f"sqlite:///{workdir / f'{label}-{uuid.uuid4().hex[:6]}.db'}"
        migrate.upgrade(url)
        return url, None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = make_engine(base_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    base = normalise_url(base_url)
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    migrate.upgrade(url)
    return url, schema


def drop_schema(base_url: str, schema: str) -> None:
    """Drop a scratch schema made by `fresh_database`."""
    engine = make_engine(base_url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def lifeguard_env(url: str, workdir: Path, rules: Path, scalr: dict[str, str]) -> dict[str, str]:
    """Return the environment of a Lifeguard web or worker process for the benchmark."""
    instance = workdir / "instance"
    instance.mkdir(exist_ok=True)
    return {
        **os.environ,
        **scalr,
        "DATABASE_URL": url,
        "LIFEGUARD_INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench-secret",
        "INGEST_TOKEN": TOKEN,
        "INGEST_RATE_PER_MINUTE": "0",  # the flood limit would refuse the load itself
        "RULES_FILE": str(rules),
        "INVENTORY_SYNC_SECONDS": "0",
    }


@contextmanager
def lifeguard(
    name: str, url: str, workdir: Path, rules: Path, scalr: dict[str, str], with_worker: bool
) -> Iterator[Running]:
    """Serve Lifeguard (wsgi:app) under gunicorn.conf.py, with a worker process if asked."""
    port, log = free_port(), workdir / f"{name.replace(' ', '-')}.log"
    env = lifeguard_env(url, workdir, rules, scalr)
    process = _gunicorn("wsgi:app", port, env, log)
    worker: subprocess.Popen[bytes] | None = None
    try:
        _wait_ready(process, f"http://127.0.0.1:{port}/healthz", log)
        if with_worker:
            # Its metrics port answers once the worker loop runs: load only a working worker.
            metrics = free_port()
            env = {**env, "WORKER_METRICS_PORT": str(metrics)}
            worker = _spawn([str(BIN / "flask"), "--app", "wsgi", "worker"], env, log)
            _wait_ready(worker, f"http://127.0.0.1:{metrics}/metrics", log)
        yield Running(name, f"http://127.0.0.1:{port}/events?token={TOKEN}", process, worker)
    finally:
        if worker is not None:
            _stop(worker)
        _stop(process)


def count_rows(url: str) -> tuple[int, int, int]:
    """Return (events stored, distinct messages, events the worker has processed)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT count(*), count(DISTINCT message), count(processed_at) FROM events")
            ).one()
    finally:
        engine.dispose()
    return int(row[0]), int(row[1]), int(row[2])
