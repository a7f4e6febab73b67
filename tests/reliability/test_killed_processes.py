"""Killed processes: SIGKILL gunicorn workers and worker processes during thousands of deliveries.

A real gunicorn (the project's gunicorn.conf.py, two workers; its arbiter respawns a
killed one) takes deliveries at a steady rate on loopback while the test SIGKILLs,
at random moments, a gunicorn worker or one of two `flask worker` processes (each
restarted at once, as a supervisor would). Afterwards:

- every acknowledged (202) delivery is stored (directly, or through a spool a killed
  process left behind);
- every job ends, succeeded;
- a Scalr call is made twice only for a job whose worker died between making it and
  recording it (the job shows a `lost` attempt for each repeat); the repeats are counted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from contextlib import suppress
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from app.models.event import Event
from app.models.job import SUCCEEDED, ActionJob, JobAttempt
from tests.conftest import INGEST_TOKEN
from tests.reliability.figures import report
from tests.reliability.test_ingest_outage import _wait_healthy, start_gunicorn
from tests.test_metrics import free_port
from tests.worker.test_processes import start_worker, wait_for

pytestmark = pytest.mark.postgres

RULE = """
rules:
  - name: greet
    events: [HostDown]
    actions:
      - scalr: Hello
        params: {Marker: "{{ event.server_id }}"}
"""
RATE, SECONDS, SENDERS = 100, 15.0, 8
KILLS = 8  # half of them gunicorn workers, half worker processes
LEASE = "5"  # seconds: a killed worker's job is taken back soon, a live one's never


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def test_nothing_acknowledged_is_lost_and_repeats_are_explained(make_stack, tmp_path):
    rng = random.Random()
    stack = make_stack(RULE)
    url = stack.app.config["LIFEGUARD"].database_url
    port = free_port()
    web = start_gunicorn(tmp_path, url, port)
    base = f"http://127.0.0.1:{port}"
    extra = {"WORKER_LEASE_SECONDS": LEASE, "RETRY_WINDOW_SECONDS": "0"}
    workers = [start_worker(stack, tmp_path, f"w{i}", **extra) for i in range(2)]
    started_workers = 2
    kills: Counter[str] = Counter()
    acked: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    total = int(RATE * SECONDS)
    try:
        _wait_healthy(base, tmp_path)
        started = time.monotonic()

        def send(index: int) -> None:
            for n in range(index, total, SENDERS):
                time.sleep(max(0.0, started + n / RATE - time.monotonic()))
                marker = str(uuid.uuid4())
                message = f"Instance {marker} (54.211.17.89) Internal IP: 10.0.0.7 terminated"
                try:
                    answer = requests.post(
                        f"{base}/events?token={INGEST_TOKEN}",
                        data={"event": "OnHostDown", "message": message},
                        timeout=15,
                    )
                    ok = answer.status_code == 202
                except requests.RequestException:
                    ok = False  # a killed gunicorn worker cannot answer: reset
                with lock:
                    (acked if ok else refused).append(marker)

        senders = [threading.Thread(target=send, args=(i,)) for i in range(SENDERS)]
        for thread in senders:
            thread.start()
        moments = sorted(rng.uniform(1.0, SECONDS - 1.0) for _ in range(KILLS))
        targets = ["web", "worker"] * (KILLS // 2)
        rng.shuffle(targets)
        for moment, target in zip(moments, targets, strict=True):
            time.sleep(max(0.0, started + moment - time.monotonic()))
            if target == "web":
                children = _children(web.pid)
                if children:
                    _kill(rng.choice(children))
                    kills["web"] += 1
            else:
                index = rng.randrange(len(workers))
                workers[index].send_signal(signal.SIGKILL)
                workers[index].wait(timeout=10)
                kills["worker"] += 1
                workers[index] = start_worker(stack, tmp_path, f"w{started_workers}", **extra)
                started_workers += 1
        for thread in senders:
            thread.join(timeout=60)

        def stored() -> set[str]:
            with stack.factory() as session:
                return set(session.scalars(select(Event.server_id)))

        wait_for(lambda: set(acked) <= stored(), 60, "every acknowledged delivery stored")

        def ended() -> bool:
            with stack.factory() as session:
                events = session.scalar(select(func.count()).select_from(Event))
                done = session.scalar(
                    select(func.count()).select_from(ActionJob).where(ActionJob.status == SUCCEEDED)
                )
            return done == events

        wait_for(ended, 150, "every job succeeded")
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            _wait_or_kill(proc)
        web.terminate()
        _wait_or_kill(web)

    rows = stored()
    with stack.factory() as session:
        jobs = {
            job.params["Marker"]: job
            for job in session.scalars(select(ActionJob).where(ActionJob.rule == "greet"))
        }
        lost_attempts = Counter(
            session.scalars(select(JobAttempt.job_id).where(JobAttempt.outcome == "lost"))
        )
        events = session.scalar(select(func.count()).select_from(Event))
    calls = Counter(call.params["Marker"] for call in stack.state.calls("Hello"))
    repeated = {marker: n for marker, n in calls.items() if n > 1}
    unexplained = {
        marker: n
        for marker, n in repeated.items()
        if n - 1 > lost_attempts[jobs[marker].id]  # a repeat without a worker that died
    }
    lost = [m for m in acked if m not in rows]
    report(
        f"killed processes ({kills['web']} gunicorn workers, {kills['worker']} worker "
        f"processes SIGKILLed): sent {total}, acknowledged {len(acked)}, refused "
        f"{len(refused)} (connection reset by a killed process), stored {events}, lost "
        f"{len(lost)}; jobs expected {events}, run {len(calls)}, duplicated "
        f"{sum(n - 1 for n in repeated.values())} (each after a worker died between its "
        f"call and its record; {len(lost_attempts)} jobs taken back from a killed worker)"
    )
    assert len(acked) + len(refused) == total
    assert lost == []
    assert len(jobs) == events and set(jobs) == rows
    assert all(job.status == SUCCEEDED for job in jobs.values())
    assert set(calls) == set(jobs)  # every job called Scalr
    assert unexplained == {}, unexplained
    assert len(lost_attempts) <= kills["worker"]  # one job in flight per killed worker
    assert kills["web"] and kills["worker"]


def _kill(pid: int) -> None:
    with suppress(ProcessLookupError):  # it may have ended meanwhile
        os.kill(pid, signal.SIGKILL)


def _wait_or_kill(proc: subprocess.Popen) -> None:
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
