"""Real worker processes: several at once, one killed mid-job, one asked to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import utcnow
from app.models.event import Event
from app.models.job import ActionJob, JobAttempt
from simulator import Fault
from tests.scalr.conftest import KEY_ID, SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent.parent

HELLO_RULE = """
rules:
  - name: say-hello
    events: [HostDown]
    actions:
      - scalr: Hello
        params: {Marker: "{{ event.id }}"}
"""

LAUNCH_RULE = """
rules:
  - name: replace
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "1978", IncreaseMaxInstances: 1}
"""


def start_worker(stack, tmp_path: Path, name: str, **extra: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=stack.app.config["LIFEGUARD"].database_url,
        RULES_FILE=str(stack.rules_path),
        SCALR_API_URL=stack.sim.url,
        SCALR_KEY_ID=KEY_ID,
        SCALR_SECRET_KEY=SECRET_KEY,
        SCALR_ENV_ID="3",
        LIFEGUARD_INSTANCE_PATH=str(tmp_path / "instance"),
        INVENTORY_SYNC_SECONDS="0",
        WORKER_POLL_SECONDS="0.05",
        RETRY_BASE_SECONDS="0.05",
        SECRET_KEY="x",
    )
    env.update(extra)
    with (tmp_path / f"{name}.log").open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--max-seconds", "120"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def store_host_downs(stack, count: int) -> None:
    now = utcnow()
    with stack.factory() as session:
        session.add_all(
            Event(
                name="HostDown",
                message="m",
                server_id=f"00000000-0000-4000-8000-{i:012d}",
                source="observer",
                received_at=now,
                data={},
                enriched_fields=[],
                raw={},
            )
            for i in range(count)
        )
        session.commit()


@pytest.mark.postgres
def test_three_workers_thousand_jobs_no_call_twice(make_stack, tmp_path):
    stack = make_stack(HELLO_RULE)
    store_host_downs(stack, 1000)
    workers = [start_worker(stack, tmp_path, f"w{i}") for i in range(3)]
    try:

        def done() -> bool:
            with stack.factory() as session:
                finished = session.scalar(
                    select(func.count())
                    .select_from(ActionJob)
                    .where(ActionJob.status == "succeeded")
                )
            return finished == 1000

        wait_for(done, 240, "1000 succeeded jobs")
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=30) for proc in workers]
    assert codes == [0, 0, 0]
    markers = Counter(c.params["Marker"] for c in stack.state.calls("Hello"))
    assert len(markers) == 1000
    assert max(markers.values()) == 1, [m for m, n in markers.items() if n > 1][:5]
    with stack.factory() as session:
        jobs = session.scalar(select(func.count()).select_from(ActionJob))
        attempts = session.scalar(select(func.sum(ActionJob.attempts)))
    assert jobs == 1000 and attempts == 1000
    logs = "".join((tmp_path / f"w{i}.log").read_text() for i in range(3))
    assert SECRET_KEY not in logs


def test_killed_worker_job_completes_after_lease(make_stack, tmp_path):
    stack = make_stack(LAUNCH_RULE, worker_lease_seconds=2)
    stack.state.add_fault(Fault(kind="latency", latency=4.0, action="ServerLaunch", remaining=1))
    store_host_downs(stack, 1)
    proc = start_worker(stack, tmp_path, "doomed", WORKER_LEASE_SECONDS="2")
    try:
        wait_for(lambda: [j.status for j in stack.jobs()] == ["running"], 30, "a running job")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    job = stack.jobs()[0]
    assert job.status == "running" and job.locked_by != stack.worker.id
    # Another worker takes the job back once the dead one's lease has expired.
    time.sleep(2.2)
    stack.worker._last["reap"] = 0
    stack.drain(until=lambda: stack.jobs()[0].status == "succeeded", timeout=20)
    job = stack.jobs()[0]
    assert job.attempts == 2
    assert job.locked_by is None
    with stack.factory() as session:
        attempts = session.execute(
            select(JobAttempt.number, JobAttempt.outcome)
            .where(JobAttempt.job_id == job.id)
            .order_by(JobAttempt.number)
        ).all()
    assert [tuple(a) for a in attempts] == [(1, "lost"), (2, "succeeded")]


def test_sigterm_finishes_the_current_job_then_exits(make_stack, tmp_path):
    stack = make_stack(LAUNCH_RULE)
    stack.state.add_fault(Fault(kind="latency", latency=1.5, action="ServerLaunch", remaining=1))
    store_host_downs(stack, 1)
    proc = start_worker(stack, tmp_path, "polite")
    try:
        wait_for(lambda: [j.status for j in stack.jobs()] == ["running"], 30, "a running job")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [j.status for j in stack.jobs()] == ["succeeded"]
    assert len([c for c in stack.state.calls("ServerLaunch") if c.outcome == "ok"]) == 1
