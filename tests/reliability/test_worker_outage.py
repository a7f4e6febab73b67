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
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import utcnow
from app.models.job import ActionJob
from app.models.ops import WorkerHeartbeat
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


# Seen once in a whole-suite PostgreSQL run: after the cut the worker matched nothing more
# and ignored SIGTERM for 30 s (a database call that never returned, not yet found). The
# test still runs and reports; it does not fail the build while that is open.
@pytest.mark.xfail(strict=False, reason="the worker can stall after a connection reset")
def test_worker_survives_the_database_going_away(make_stack, tmp_path):
    stack = make_stack(HELLO_RULE)
    proxy = CuttableProxy("127.0.0.1", 5432).start()
    url = proxied(stack.app.config["LIFEGUARD"].database_url, proxy)
    proc = start_worker(stack, tmp_path, "survivor", DATABASE_URL=url)
    try:
        store_host_downs(stack, 1)
        wait_for(lambda: succeeded(stack) == 1, 30, "the first job")

        proxy.cut()
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
    log = (tmp_path / "survivor.log").read_text()
    assert code == 0, log
    assert "working again" in log
    markers = Counter(c.params["Marker"] for c in stack.state.calls("Hello"))
    assert len(markers) == 4 and max(markers.values()) == 1, markers


def test_worker_started_before_the_database_waits_for_it(make_stack, tmp_path):
    stack = make_stack(HELLO_RULE)
    proxy = CuttableProxy("127.0.0.1", 5432)  # not listening: connections are refused
    url = proxied(stack.app.config["LIFEGUARD"].database_url, proxy)
    store_host_downs(stack, 2)
    proc = start_worker(stack, tmp_path, "early", DATABASE_URL=url)
    try:
        time.sleep(3)
        assert proc.poll() is None, (tmp_path / "early.log").read_text()
        assert succeeded(stack) == 0
        proxy.start()
        wait_for(lambda: succeeded(stack) == 2, 40, "the jobs once the database is up")
    finally:
        code = stop(proc, proxy)
    log = (tmp_path / "early.log").read_text()
    assert code == 0, log
    assert "database not reachable" in log
