"""Housekeeping that can take long runs beside the worker's loop, not in it.

The inventory sync asks Scalr for every farm's details; with Scalr slow to answer, the
loop used to wait for the whole sync before it matched the next event or ran a job.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from app.models.inventory import Server
from app.models.ops import PeriodicTask
from app.worker import loop
from app.worker.loop import SYNC_LOOK
from simulator.faults import Fault
from tests.worker.test_remediation_e2e import host_down, launches, rules

SLOW = 2.0  # seconds each FarmGetDetails takes while the fault is in force


def _server(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _sync(worker, every: float = 300):
    """Start the inventory sync beside the loop, as housekeeping does when it is due."""
    return worker.in_background(SYNC_LOOK, lambda: worker.sync_inventory(every))


def test_a_slow_inventory_sync_holds_up_no_event_or_job(make_stack, monkeypatch):
    stack = make_stack(rules(), inventory_sync_seconds=300)
    used = []
    real_sync = loop.sync_all

    def recorded(factory, clients, *rest):
        used.append(clients)
        return real_sync(factory, clients, *rest)

    monkeypatch.setattr(loop, "sync_all", recorded)
    stack.state.add_fault(Fault("latency", action="FarmGetDetails", latency=SLOW))
    began = time.monotonic()
    stack.worker.housekeeping()  # the sync is due: it starts beside the loop
    assert time.monotonic() - began < SLOW, "housekeeping waited for Scalr"
    sync = stack.worker._background[SYNC_LOOK]
    assert sync.is_alive()
    assert _sync(stack.worker) is None, "a second sync beside the first"
    host_down(stack, _server(1), "&farm_role_id=1978")
    stack.drain(until=lambda: len(launches(stack)) == 1, timeout=SLOW)
    assert sync.is_alive(), "the replacement waited for the sync to end"
    sync.join(30)
    assert not sync.is_alive()
    with stack.factory() as session:
        task = session.get(PeriodicTask, "inventory_sync")
        assert task is not None and task.last_result.startswith("default: ")
        synced = session.scalar(
            select(func.count()).select_from(Server).where(Server.source == "sync")
        )
    assert synced == len(stack.state.servers)
    # The sync called Scalr through clients of its own, closed when it ended; the loop's
    # stay the loop's.
    assert len(used) == 1 and used[0] is not stack.worker.clients
    assert used[0]._clients == {}
    assert stack.worker.clients_for() is stack.worker.clients


def test_a_failing_sync_is_logged_and_the_next_one_runs(make_stack, monkeypatch, caplog):
    stack = make_stack(rules(), inventory_sync_seconds=300)
    calls = []

    def broken(*args, **kwargs):
        calls.append(threading.current_thread().name)
        raise RuntimeError("database went away mid-sync")

    monkeypatch.setattr(loop, "sync_all", broken)
    caplog.set_level("WARNING", logger="app.worker.loop")
    first = _sync(stack.worker)
    assert first is not None
    first.join(10)
    assert calls == [SYNC_LOOK]
    assert any(
        f"{SYNC_LOOK} look failed" in r.getMessage() and "database went away" in r.getMessage()
        for r in caplog.records
    )
    second = _sync(stack.worker, 0)  # the interval passed: another look
    assert second is not None
    second.join(10)
    assert calls == [SYNC_LOOK, SYNC_LOOK]


def test_a_stopping_worker_waits_for_a_sync_and_the_sync_stops_between_farms(make_stack):
    stack = make_stack(rules(), inventory_sync_seconds=300)
    stack.state.add_fault(Fault("latency", action="FarmGetDetails", latency=0.5))
    farms = len(stack.state.farms)
    assert farms >= 2, "the demo state must have farms enough to stop between"
    sync = _sync(stack.worker)
    assert sync is not None
    time.sleep(0.2)  # within the first FarmGetDetails
    stack.worker.stop()
    assert stack.worker.join_background(10) == []
    assert len(stack.state.calls("FarmGetDetails")) < farms, "the sync went on after the stop"


def test_a_long_retention_pass_holds_up_no_event(make_stack, monkeypatch):
    stack = make_stack(rules(), retention_days=30)
    release, started = threading.Event(), threading.Event()
    real = loop.prune_events

    def slow_prune(*args, **kwargs):
        started.set()
        assert release.wait(10), "the test never let the pass finish"
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "prune_events", slow_prune)
    stack.worker.housekeeping()
    assert started.wait(5)
    host_down(stack, _server(7), "&farm_role_id=1978")
    stack.drain(until=lambda: len(launches(stack)) == 1, timeout=5)
    with stack.factory() as session:
        assert session.get(PeriodicTask, "retention").last_result is None  # still running
    release.set()
    assert stack.worker.join_background(10) == []
    with stack.factory() as session:
        assert session.get(PeriodicTask, "retention").last_result is not None


def test_the_end_of_a_run_stops_the_sync_it_started(make_stack):
    stack = make_stack(rules(), inventory_sync_seconds=300)
    stack.state.add_fault(Fault("latency", action="FarmGetDetails", latency=0.5))
    farms = len(stack.state.farms)
    began = time.monotonic()
    stack.worker.run(max_seconds=0.3)  # its first step starts the sync
    # The FarmGetDetails the sync is in when the run ends, and no other.
    assert time.monotonic() - began < 0.3 + 2 * 0.5, "the run waited out the whole sync"
    assert stack.worker.join_background(0) == []
    assert len(stack.state.calls("FarmGetDetails")) < farms


def test_the_sync_writes_a_farms_servers_in_server_id_order(make_stack, monkeypatch):
    """Event batches lock servers in id order (servers_for_update); the sync, which may run
    beside them, must take its row locks in the same order or the two can deadlock."""
    from app.inventory import sync as sync_module

    stack = make_stack(rules())
    written: list[tuple[int | None, str]] = []
    real = sync_module.record_server

    def recorded(session, server_id, now, **fields):
        written.append((fields.get("farm_id"), server_id))
        return real(session, server_id, now, **fields)

    monkeypatch.setattr(sync_module, "record_server", recorded)
    stack.worker.sync_inventory(300)
    assert len(written) == len(stack.state.servers)
    for farm in {farm for farm, _ in written}:
        ids = [server for f, server in written if f == farm]
        assert ids == sorted(ids), f"farm {farm}'s servers written out of id order"
