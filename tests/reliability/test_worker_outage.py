"""The worker process outlives the database: cut it away, bring it back, work goes on.

A real `flask --app wsgi worker` process reaches PostgreSQL through a TCP
proxy that the test cuts (new connections refused, open ones reset). The
worker must stay alive, keep its heartbeat honest (stale while it cannot
write it), and match and run what arrived meanwhile, each job once.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from contextlib import suppress
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.db import make_engine, utcnow
from app.models.job import ActionJob
from app.models.ops import WorkerHeartbeat
from tests.reliability.figures import report
from tests.reliability.proxy import CuttableProxy
from tests.worker.test_processes import HELLO_RULE, start_worker, store_host_downs, wait_for

pytestmark = pytest.mark.postgres


def succeeded(stack) -> int:
    with stack.factory() as session:
        return session.scalar(
            select(func.count()).select_from(ActionJob).where(ActionJob.status == "succeeded")
        )


def last_beat(stack):
    with stack.factory() as session:
        return session.scalar(select(func.max(WorkerHeartbeat.last_beat_at)))


def stop(proc: subprocess.Popen, proxy: CuttableProxy) -> int | None:
    """SIGTERM the worker and wait; kill it if it hangs, so no process outlives the test."""
    try:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return None
    finally:
        proxy.stop()


def proxied(url: str, proxy: CuttableProxy) -> str:
    assert "127.0.0.1:5432" in url, url
    return url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")


def with_session_settings(url: str, **settings: str) -> str:
    """Add `-c name=value` session settings to a PostgreSQL URL's `options`."""
    parsed = make_url(url)
    options = parsed.query.get("options", "")
    assert isinstance(options, str)
    extra = " ".join(f"-c {name}={value}" for name, value in settings.items())
    return parsed.update_query_dict({"options": f"{options} {extra}".strip()}).render_as_string(
        hide_password=False
    )


# The stall once seen here: the cut left a server session open in a transaction (the
# proxy's reset never reached the server), holding the heartbeat row; after the database
# came back the worker's heartbeat waited behind it forever and ignored SIGTERM. So the
# cut below orphans the server's side of every session on purpose, and the test holds
# the heartbeat row in a transaction of its own through the proxy at the moment of the
# cut. The server must end that session (idle_in_transaction_session_timeout, set by
# app/db.py; shortened here so the test is quick) and the worker's lock wait must be
# bounded (lock_timeout), or no fresh heartbeat is ever written.
def test_worker_survives_the_database_going_away(make_stack, tmp_path):
    stack = make_stack(HELLO_RULE)
    proxy = CuttableProxy("127.0.0.1", 5432).start()
    url = with_session_settings(
        proxied(stack.app.config["LIFEGUARD"].database_url, proxy),
        idle_in_transaction_session_timeout="3s",
    )
    proc = start_worker(stack, tmp_path, "survivor", DATABASE_URL=url)
    orphan_engine = make_engine(url)
    orphan = orphan_engine.connect()
    try:
        store_host_downs(stack, 1)
        wait_for(lambda: succeeded(stack) == 1, 30, "the first job")
        wait_for(lambda: last_beat(stack) is not None, 10, "a first heartbeat")

        orphan.begin()
        held = orphan.execute(select(WorkerHeartbeat).with_for_update()).all()
        assert held, "no heartbeat row to hold"
        proxy.cut(orphan_server_sessions=True)
        cut_at = utcnow()
        store_host_downs(stack, 3)  # written straight to the database, past the proxy
        time.sleep(7)  # longer than a heartbeat interval
        assert proc.poll() is None, (tmp_path / "survivor.log").read_text()
        assert succeeded(stack) == 1
        beat = last_beat(stack)
        assert beat is not None and beat <= cut_at + timedelta(seconds=1)  # stale, honestly

        proxy.restore()
        restored_at = utcnow()
        wait_for(lambda: succeeded(stack) == 4, 40, "the jobs that arrived during the outage")
        wait_for(lambda: (last_beat(stack) or cut_at) >= restored_at, 20, "a fresh heartbeat")
        assert proc.poll() is None
    finally:
        code = stop(proc, proxy)
        with suppress(Exception):  # the cut broke it; closing it may say so
            orphan.close()
        orphan_engine.dispose()
    log = (tmp_path / "survivor.log").read_text()
    assert code == 0, log
    assert "working again" in log
    markers = Counter(c.params["Marker"] for c in stack.state.calls("Hello"))
    report(
        f"worker outage (database cut 7 s, a server session orphaned holding the heartbeat): "
        f"jobs expected 4, run {len(markers)}, "
        f"duplicated {sum(n - 1 for n in markers.values())}"
    )
    assert len(markers) == 4 and max(markers.values()) == 1, markers


def test_worker_started_before_the_database_waits_for_it(make_stack, tmp_path):
    stack = make_stack(HELLO_RULE)
    proxy = CuttableProxy("127.0.0.1", 5432)  # not listening: connections are refused
    url = proxied(stack.app.config["LIFEGUARD"].database_url, proxy)
    store_host_downs(stack, 2)
    proc = start_worker(stack, tmp_path, "early", DATABASE_URL=url)
    log_path = tmp_path / "early.log"
    try:
        # Wait for the worker to have tried (its start alone can take seconds on a busy host).
        wait_for(lambda: "database not reachable" in log_path.read_text(), 30, "a refused try")
        assert proc.poll() is None, log_path.read_text()
        assert succeeded(stack) == 0
        proxy.start()
        wait_for(lambda: succeeded(stack) == 2, 40, "the jobs once the database is up")
    finally:
        code = stop(proc, proxy)
    log = (tmp_path / "early.log").read_text()
    assert code == 0, log
    assert "database not reachable" in log
