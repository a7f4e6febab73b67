"""Scalr away for two minutes: connections refused, then 5xx. Every job succeeds afterwards.

Simulated time: the worker runs on a clock the test advances one second at a time,
doing all the work due at each tick, so the production backoff (RETRY_BASE_SECONDS 5,
RETRY_CAP_SECONDS 600, RETRY_WINDOW_SECONDS 900) plays out over two simulated minutes
in a few real seconds, whatever the machine's speed.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from app.db import utcnow
from app.models.job import DEAD, FINISHED, SKIPPED, SUCCEEDED
from app.models.ops import Breaker
from app.worker.loop import Worker
from simulator import Fault
from tests.reliability.figures import report
from tests.reliability.proxy import CuttableProxy
from tests.worker.test_processes import LAUNCH_RULE, store_host_downs

JOBS = 10
REFUSED_FOR = 60  # simulated seconds of refused connections ...
ERRORS_FOR = 60  # ... then of 503 answers
MAX_ATTEMPTS = 5  # the default of a scalr action


def test_every_job_succeeds_after_scalr_comes_back(make_stack):
    stack = make_stack(
        LAUNCH_RULE,
        retry_base_seconds=5.0,
        retry_cap_seconds=600.0,
        retry_window_seconds=900.0,
        budget_max=JOBS,  # exactly one first attempt each: a retry that spent budget shows
    )
    sim_port = int(stack.sim.base_url.rsplit(":", 1)[1])
    proxy = CuttableProxy("127.0.0.1", sim_port)  # not listening yet: Scalr refuses
    config = stack.app.config["LIFEGUARD"]
    environ = dict(config.environ, SCALR_API_URL=f"http://127.0.0.1:{proxy.port}/api/api.php")
    now = [utcnow()]
    worker = Worker(
        config.with_overrides(environ=environ),
        stack.factory,
        stack.worker.rules,
        worker_id="w",
        clock=lambda: now[0],
    )

    def tick(seconds: int) -> None:
        for _ in range(seconds):
            for _ in range(10 * JOBS):  # all that is due now, then a simulated second
                if not worker.run_once():
                    break
            now[0] += timedelta(seconds=1)

    try:
        store_host_downs(stack, JOBS)
        tick(REFUSED_FOR)
        proxy.start()
        stack.state.add_fault(Fault("status", status=503))
        tick(ERRORS_FOR)
        stack.state.faults.clear()
        for _ in range(1200):  # back: at most twenty simulated minutes more
            if all(job.status in FINISHED for job in stack.jobs()):
                break
            tick(1)
    finally:
        worker.clients.close()
        worker.http.close()
        proxy.stop()

    jobs = stack.jobs()
    statuses = Counter(job.status for job in jobs)
    calls = stack.state.calls("ServerLaunch")
    outcomes = Counter(call.outcome for call in calls)
    with stack.factory() as session:
        breakers = session.scalar(select(func.count()).select_from(Breaker)) or 0
    attempts = sum(job.attempts for job in jobs)
    report(
        f"scalr away ({REFUSED_FOR} s refused, {ERRORS_FOR} s of 503, simulated): "
        f"jobs expected {JOBS}, run {statuses[SUCCEEDED]}, dead {statuses[DEAD]}, "
        f"skipped {statuses[SKIPPED]}, attempts {attempts} "
        f"(per job {min(j.attempts for j in jobs)}-{max(j.attempts for j in jobs)}), "
        f"calls refused {attempts - len(calls)}, answered 503 {outcomes['http 503']}, "
        f"succeeded {outcomes['ok']}, duplicated {outcomes['ok'] - statuses[SUCCEEDED]}, "
        f"breakers opened {breakers}"
    )
    assert len(jobs) == JOBS
    assert statuses == {SUCCEEDED: JOBS}, [(j.id, j.status, j.reason) for j in jobs]
    # Each failed its max_attempts before Scalr was back: without the retry window, dead.
    assert all(job.attempts > MAX_ATTEMPTS for job in jobs), [j.attempts for j in jobs]
    assert outcomes["http 503"] > 0 and outcomes["ok"] == JOBS
    assert breakers == 0  # the budget counted first attempts only: no breaker opened
