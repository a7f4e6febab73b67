"""The claim: due order, SKIP LOCKED between workers, the guards' facts, leases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select, text

from app.db import utcnow
from app.jobs.claim import claim_job, next_due_at, reap_expired_leases
from app.models.job import JobAttempt
from app.models.ops import Breaker
from app.rules.loader import load_rules
from tests.dashboard.helpers import gen_job
from tests.factories import gen_event
from tests.jobs.helpers import WORKER, claim, config, matched, record, two_steps

ONE_WEBHOOK = {"rule": "two-steps", "kind": "webhook", "action": "webhook", "params": {}}


@pytest.fixture
def event_id(db_session) -> int:
    return gen_event(db_session).id


def test_claims_the_earliest_due_job_first_and_ties_by_id(db_session, event_id):
    now = utcnow()
    late = gen_job(db_session, event_id, run_at=now - timedelta(seconds=10), **ONE_WEBHOOK)
    tie_a = gen_job(db_session, event_id, run_at=now - timedelta(minutes=1), **ONE_WEBHOOK)
    tie_b = gen_job(db_session, event_id, run_at=now - timedelta(minutes=1), **ONE_WEBHOOK)
    gen_job(db_session, event_id, run_at=now + timedelta(minutes=1), **ONE_WEBHOOK)
    gen_job(db_session, event_id, run_at=now - timedelta(hours=1), blocked=True, **ONE_WEBHOOK)
    gen_job(db_session, event_id, run_at=now - timedelta(hours=1), status="dead", **ONE_WEBHOOK)
    rules = two_steps()
    order = [claim(db_session, rules, now).id for _ in range(3)]
    assert order == [tie_a.id, tie_b.id, late.id]
    assert claim(db_session, rules, now) is None


def test_a_retrying_job_is_claimable_when_due(db_session, event_id):
    now = utcnow()
    job = gen_job(db_session, event_id, status="retrying", attempts=1, run_at=now, **ONE_WEBHOOK)
    assert claim(db_session, two_steps(), now).id == job.id


def test_claim_marks_running_with_a_lease(db_session, event_id):
    now = utcnow()
    job = gen_job(db_session, event_id, run_at=now, **ONE_WEBHOOK)
    claimed = claim(db_session, two_steps(), now, worker_lease_seconds=30)
    assert claimed.id == job.id
    assert (claimed.status, claimed.attempts, claimed.locked_by) == ("running", 1, WORKER)
    assert claimed.started_at == now and claimed.fired_at == now
    assert claimed.lease_expires_at == now + timedelta(seconds=30)


def test_next_due_at_is_the_earliest_waiting_unblocked_job(db_session, event_id):
    assert next_due_at(db_session) is None
    now = utcnow()
    gen_job(db_session, event_id, run_at=now + timedelta(minutes=5), **ONE_WEBHOOK)
    gen_job(db_session, event_id, run_at=now + timedelta(minutes=1), blocked=True, **ONE_WEBHOOK)
    gen_job(db_session, event_id, run_at=now, status="succeeded", **ONE_WEBHOOK)
    assert next_due_at(db_session) == now + timedelta(minutes=5)


@pytest.mark.postgres
def test_two_workers_skip_each_others_locked_rows(session_factory, db_session, event_id):
    now = utcnow()
    first = gen_job(db_session, event_id, run_at=now - timedelta(minutes=2), **ONE_WEBHOOK)
    second = gen_job(db_session, event_id, run_at=now - timedelta(minutes=1), **ONE_WEBHOOK)
    rules, cfg = two_steps(), config()
    with session_factory() as a, session_factory() as b:
        got_a = claim_job(a, rules, cfg, "worker-a", now)  # holds its row lock until commit
        got_b = claim_job(b, rules, cfg, "worker-b", now)
        assert (got_a.id, got_b.id) == (first.id, second.id)
        assert claim_job(b, rules, cfg, "worker-b", now) is None
        a.commit()
        b.commit()
    db_session.expire_all()
    assert claim(db_session, rules, now) is None


def test_an_expired_lease_goes_back_to_the_queue(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    start = utcnow()
    claim(db_session, rules, start, worker_lease_seconds=60)
    assert reap_expired_leases(db_session, start + timedelta(seconds=30)) == 0
    later = start + timedelta(seconds=61)
    assert reap_expired_leases(db_session, later) == 1
    db_session.commit()
    db_session.refresh(first)
    assert (first.status, first.reason) == ("retrying", "lease of w1 expired; taken again")
    assert (first.run_at, first.locked_by, first.lease_expires_at) == (later, None, None)
    lost = db_session.scalars(select(JobAttempt).where(JobAttempt.job_id == first.id)).one()
    assert (lost.outcome, lost.number) == ("lost", 1)
    assert lost.error == "lease of w1 expired before it recorded an outcome"
    # The vanished worker's late outcome is dropped; the next claim tries again.
    assert record(db_session, first.id, "succeeded") is None
    again = claim(db_session, rules, later)
    assert (again.id, again.attempts) == (first.id, 2)


THROTTLED = """
rules:
  - name: two-steps
    events: [HostDown]
    throttle: {key: "{{ event.server_id }}", max: 1, per: 1h}
    actions:
      - webhook: https://chat.example/first
"""


def test_throttle_counts_earlier_fires_of_the_same_key(db_session):
    rules = load_rules(THROTTLED)
    [first] = matched(db_session, rules)
    [second] = matched(db_session, rules)
    assert claim(db_session, rules).id == first.id
    skipped = claim(db_session, rules)
    assert skipped.id == second.id and skipped.status == "skipped"
    assert skipped.reason == (
        "throttled: rule fired 1 times in the last 1h for key "
        "'5bbd72c5-908c-4535-a7ec-2fbf56486ff3' (max 1)"
    )
    [other_key] = matched(db_session, rules, server_id="i-other")
    assert claim(db_session, rules).id == other_key.id


BUDGETED = """
rules:
  - name: relaunch
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "1978"}
"""


def test_budget_spent_opens_the_breaker_and_the_breaker_skips_the_next(db_session):
    rules = load_rules(BUDGETED)
    jobs = [matched(db_session, rules)[0] for _ in range(3)]
    assert claim(db_session, rules, budget_max=1).status == "running"
    spent = claim(db_session, rules, budget_max=1)
    assert (spent.id, spent.status) == (jobs[1].id, "skipped")
    assert spent.reason.startswith("budget spent: 1 Scalr actions in 1h in environment 'default'")
    breaker = db_session.get(Breaker, "default")
    assert breaker.is_open and breaker.reason == spent.reason
    blocked = claim(db_session, rules, budget_max=1)
    assert blocked.reason == (
        f"remediation breaker of environment 'default' is open: {spent.reason}"
    )


def test_an_open_breaker_stops_a_retry_and_a_persons_retry_too(db_session):
    from app.jobs.control import retry_job

    rules = load_rules(BUDGETED)
    [job] = matched(db_session, rules)
    running = claim(db_session, rules)
    assert running.id == job.id and running.status == "running"
    # The attempt failed and the job was given up; meanwhile the breaker opened.
    running.status, running.finished_at = "dead", utcnow()
    db_session.add(Breaker(environment="default", is_open=True, reason="budget spent: test"))
    db_session.commit()
    retry_job(db_session, job.id, "ops@example")
    db_session.commit()
    again = claim(db_session, rules)
    assert (again.id, again.status) == (job.id, "skipped")
    assert (
        again.reason == "remediation breaker of environment 'default' is open: budget spent: test"
    )


def test_settling_guard_stopped_jobs_stops_after_its_time_and_leaves_the_rest_due(monkeypatch):
    """A backlog of jobs a guard ends is settled a slice of time at a time, never none."""
    from types import SimpleNamespace

    from app.jobs import claim as claim_module

    clock = [100.0]
    taken: list[int] = []
    chunks: list[int] = []

    def locks(reads, limit):
        chunks.append(limit)
        return [(SimpleNamespace(id=len(taken) + n), False) for n in range(limit)]

    def settles_one(reads, job, has_followers, worker, recheck=False):
        taken.append(job.id)
        clock[0] += 0.04  # each job's guards take 40 ms
        return SimpleNamespace(id=job.id, status="skipped")

    monkeypatch.setattr(claim_module, "_claim_due", locks)
    monkeypatch.setattr(claim_module, "_decide", settles_one)
    monkeypatch.setattr(claim_module.time, "monotonic", lambda: clock[0])
    settled, job = claim_module.claim_jobs(None, None, None, "w", None, 100, 0.1)
    assert job is None and len(settled) == 3  # 0.04, 0.08, 0.12 s: the third crosses 0.1 s
    assert chunks == [1, 1, 2]  # one job first, then as many as were settled: one is left
    taken.clear()
    settled, job = claim_module.claim_jobs(None, None, None, "w", None, 100, 0.0)
    assert len(settled) == 1  # however short the time, one job is settled
    taken.clear()
    chunks.clear()
    settled, _ = claim_module.claim_jobs(None, None, None, "w", None, 5)
    assert len(settled) == 5  # no time given: only the limit counts
    assert chunks == [1, 1, 2, 1]  # never more locked than the limit leaves


@pytest.mark.postgres
def test_the_claim_queries_can_use_the_claimable_index(db_session, event_id):
    """Their WHERE implies the partial index's (`NOT blocked`), whatever the statistics say."""
    gen_job(db_session, event_id, run_at=utcnow(), **ONE_WEBHOOK)
    sent: list[tuple[str, object]] = []

    def note(_conn, _cursor, statement, parameters, *_args) -> None:
        if "blocked" in statement.rpartition("FROM action_jobs")[2]:  # the two due queries
            sent.append((statement, parameters))

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", note)
    try:
        claim_job(db_session, two_steps(), config(), WORKER, utcnow())
        next_due_at(db_session)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    db_session.rollback()
    assert len(sent) == 2
    db_session.execute(text("SET LOCAL enable_seqscan = off"))
    for statement, parameters in sent:
        plan = db_session.connection().exec_driver_sql(f"EXPLAIN {statement}", parameters)
        assert "ix_action_jobs_claimable" in "\n".join(row[0] for row in plan), statement
