"""While event batches keep the worker busy and make no jobs, it looks for due jobs less often."""

from __future__ import annotations

from app.worker import loop
from tests.worker.test_batch_matching import match_batch
from tests.worker.test_remediation_e2e import host_down, launches, rules


def _server(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def test_a_busy_worker_looks_for_jobs_when_a_batch_made_some_or_the_last_look_found_one(
    make_stack, monkeypatch
):
    monkeypatch.setattr(loop, "JOBS_LOOK_SECONDS", 3600.0)
    stack = make_stack(rules())
    host_down(stack, _server(1))  # matches nothing: no farm role
    assert stack.worker.run_once() is True  # its first step always looks; nothing due
    # A job this worker's own batches did not make (another worker, say) falls due.
    host_down(stack, _server(2), "&farm_role_id=1978")
    assert match_batch(stack).jobs == 1
    host_down(stack, _server(3))
    assert stack.worker.run_once() is True
    assert launches(stack) == [], "a batch that made no jobs, within the interval: no look"
    host_down(stack, _server(4), "&farm_role_id=1978")
    stack.worker.run_once()  # this batch made a job: it looks, and runs the first due
    assert len(launches(stack)) == 1
    host_down(stack, _server(5))
    stack.worker.run_once()  # the last look found a job: look again, however busy
    assert len(launches(stack)) == 2
    assert stack.worker.run_once() is False  # idle: looks, finds nothing


def test_after_the_interval_a_busy_worker_looks_again(make_stack, monkeypatch):
    monkeypatch.setattr(loop, "JOBS_LOOK_SECONDS", 3600.0)
    stack = make_stack(rules())
    host_down(stack, _server(1))
    stack.worker.run_once()
    host_down(stack, _server(2), "&farm_role_id=1978")
    match_batch(stack)
    monkeypatch.setattr(loop, "JOBS_LOOK_SECONDS", 0.0)
    host_down(stack, _server(3))
    stack.worker.run_once()
    assert len(launches(stack)) == 1
