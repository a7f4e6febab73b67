"""Two real worker processes on one PostgreSQL see a control change at once."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import requests

from app.models.job import ActionJob
from tests.conftest import API_TOKEN
from tests.worker.test_processes import start_worker, wait_for
from tests.worker.test_remediation_e2e import host_down

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
SERVERS = [f"{n}bbd72c5-908c-4535-a7ec-2fbf56486ff3" for n in range(1, 7)]
DELAYED = """
rules:
  - name: replace
    events: [HostDown]
    delay: 4s
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: 1978, IncreaseMaxInstances: 1}
"""
APPROVED = """
rules:
  - name: replace
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: 1978, IncreaseMaxInstances: 1}
        approve: {within: 30m}
"""


def api(stack, path: str) -> str:
    return f"http://127.0.0.1:{stack.web.port}/api/v1{path}"


def stop(workers: list) -> list[int]:
    for proc in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes = []
    for proc in workers:
        try:
            codes.append(proc.wait(timeout=30))
        except Exception:
            proc.kill()
            proc.wait(timeout=10)
            codes.append(-9)
    return codes


def started(tmp_path: Path, names: list[str]) -> None:
    """Wait until every worker process logs that its loop runs (they boot in seconds)."""

    def running() -> bool:
        logs = [tmp_path / f"{name}.log" for name in names]
        return all(log.exists() and "started" in log.read_text() for log in logs)

    wait_for(running, 60, "the worker processes to start")


def statuses(stack) -> list[str]:
    return [j.status for j in stack.jobs()]


@pytest.mark.postgres
def test_two_worker_processes_both_honour_the_kill_switch(make_stack, tmp_path: Path):
    stack = make_stack(DELAYED, api_token=API_TOKEN)
    workers = [start_worker(stack, tmp_path, f"k{i}") for i in range(2)]
    try:
        started(tmp_path, ["k0", "k1"])
        for server in SERVERS:
            host_down(stack, server)
        wait_for(lambda: statuses(stack) == ["scheduled"] * 6, 30, "six jobs waiting")
        engaged = requests.post(
            api(stack, "/kill-switch"),
            headers=BEARER,
            json={"engaged": True, "reason": "both workers must see it"},
            timeout=5,
        )
        assert engaged.status_code == 200, engaged.text
        wait_for(lambda: all(j.finished_at for j in stack.jobs()), 30, "every job settled")
    finally:
        codes = stop(workers)
    assert codes == [0, 0]
    jobs: list[ActionJob] = stack.jobs()
    assert [j.status for j in jobs] == ["skipped"] * 6, [(j.status, j.reason) for j in jobs]
    assert all(j.reason.endswith(": both workers must see it") for j in jobs)
    assert stack.state.calls("ServerLaunch") == []
    # The two processes claimed them between them (which one took which is up to the race).
    logs = "".join((tmp_path / f"k{i}.log").read_text() for i in range(2))
    assert logs.count("settled by a guard: skipped") == 6


@pytest.mark.postgres
def test_two_worker_processes_run_an_approved_job_once(make_stack, tmp_path: Path):
    stack = make_stack(APPROVED, api_token=API_TOKEN)
    workers = [start_worker(stack, tmp_path, f"a{i}") for i in range(2)]
    try:
        started(tmp_path, ["a0", "a1"])
        for server in SERVERS[:3]:
            host_down(stack, server)
        wait_for(lambda: statuses(stack) == ["awaiting_approval"] * 3, 30, "three awaiting")
        jobs = stack.jobs()
        for job in jobs[:2]:
            answer = requests.post(
                api(stack, f"/actions/{job.id}/approve"),
                headers=BEARER,
                json={"reason": "go"},
                timeout=5,
            )
            assert answer.status_code == 200, answer.text
        denied = requests.post(
            api(stack, f"/actions/{jobs[2].id}/deny"), headers=BEARER, json={}, timeout=5
        )
        assert denied.status_code == 200, denied.text
        wait_for(lambda: all(j.finished_at for j in stack.jobs()), 30, "every job settled")
    finally:
        codes = stop(workers)
    assert codes == [0, 0]
    assert statuses(stack) == ["succeeded", "succeeded", "cancelled"]
    calls = [c for c in stack.state.calls("ServerLaunch") if c.outcome == "ok"]
    assert len(calls) == 2
    assert all(j.attempts == 1 for j in stack.jobs()[:2])
