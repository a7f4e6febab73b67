"""Scalr away for two minutes: connections refused, then 5xx. Every job succeeds afterwards.

Simulated time: every retry delay of the worker is scaled down by SCALE from
production's (RETRY_BASE_SECONDS 5 s, RETRY_CAP_SECONDS 600 s), through the same
configuration an operator sets, so one real second of outage stands for SCALE seconds
and each job makes the attempts it would make in a real two-minute outage.
"""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import func, select

from app.models.job import DEAD, FINISHED, SKIPPED, SUCCEEDED
from app.models.ops import Breaker
from app.worker.loop import Worker
from simulator import Fault
from tests.reliability.figures import report
from tests.reliability.proxy import CuttableProxy
from tests.worker.test_processes import LAUNCH_RULE, store_host_downs

SCALE = 60.0
JOBS = 10
REFUSED_FOR = 60.0  # simulated seconds of refused connections ...
ERRORS_FOR = 60.0  # ... then of 503 answers


def test_every_job_succeeds_after_scalr_comes_back(make_stack):
    stack = make_stack(
        LAUNCH_RULE,
        retry_base_seconds=5.0 / SCALE,
        retry_cap_seconds=600.0 / SCALE,
        retry_window_seconds=900.0 / SCALE,
        budget_max=JOBS,  # exactly one first attempt each: a retry that spent budget shows
    )
    sim_port = int(stack.sim.base_url.rsplit(":", 1)[1])
    proxy = CuttableProxy("127.0.0.1", sim_port)  # not listening yet: Scalr refuses
    config = stack.app.config["LIFEGUARD"]
    environ = dict(config.environ, SCALR_API_URL=f"http://127.0.0.1:{proxy.port}/api/api.php")
    worker = Worker(
        config.with_overrides(environ=environ), stack.factory, stack.worker.rules, worker_id="w"
    )
    try:
        store_host_downs(stack, JOBS)
        _work(worker, REFUSED_FOR / SCALE)
        proxy.start()
        stack.state.add_fault(Fault("status", status=503))
        _work(worker, ERRORS_FOR / SCALE)
        stack.state.faults.clear()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _all_ended(stack):
            if not worker.run_once():
                time.sleep(0.01)
    finally:
        worker.clients.close()
        worker.http.close()
        proxy.stop()

    jobs = stack.jobs()
    statuses = Counter(job.status for job in jobs)
    outcomes = Counter(call.outcome for call in stack.state.calls("ServerLaunch"))
    launched = Counter(
        call.transaction_id for call in stack.state.calls("ServerLaunch") if call.outcome == "ok"
    )
    with stack.factory() as session:
        breakers = session.scalar(select(func.count()).select_from(Breaker)) or 0
    attempts = sum(job.attempts for job in jobs)
    report(
        f"scalr away ({REFUSED_FOR:g} s refused, {ERRORS_FOR:g} s of 503, simulated): "
        f"jobs expected {JOBS}, run {statuses[SUCCEEDED]}, dead {statuses[DEAD]}, "
        f"skipped {statuses[SKIPPED]}, attempts {attempts}, "
        f"calls refused {attempts - sum(outcomes.values())}, "
        f"answered 503 {outcomes['http 503']}, succeeded {outcomes['ok']}, "
        f"duplicated {outcomes['ok'] - len(jobs)}, breakers opened {breakers}"
    )
    assert len(jobs) == JOBS
    assert statuses == {SUCCEEDED: JOBS}, [(j.id, j.status, j.reason) for j in jobs]
    assert all(job.attempts > 2 for job in jobs)  # each met the outage more than once
    assert outcomes["http 503"] > 0 and outcomes["ok"] == JOBS and len(launched) == JOBS
    assert breakers == 0  # the budget counted first attempts only: no breaker opened


def _work(worker: Worker, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not worker.run_once():
            time.sleep(0.01)


def _all_ended(stack) -> bool:
    return all(job.status in FINISHED for job in stack.jobs())
