"""Settling in chunks with shared reads: a fraction of the statements, the same decisions.

`claim_jobs` locks due jobs a chunk at a time and reads what they share once a
claim (app/jobs/claim_reads.py). These tests hold it to `claim_job` one job a
transaction: the same statuses, reasons and order, and on PostgreSQL no job
settled or run by two workers at once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Config
from app.db import Base, transaction, utcnow
from app.jobs.claim import SETTLE_BATCH, SETTLE_SECONDS, claim_job, claim_jobs
from app.jobs.control import set_rule_paused
from app.jobs.create import claim_events, process_events
from app.jobs.outcome import record_outcome
from app.jobs.silences import create_silence
from app.models.controls import Silence
from app.models.event import Event
from app.models.job import ActionJob
from app.models.loop import Hold
from app.models.ops import Breaker
from app.rules.loader import load_rules
from app.rules.model import RuleSet
from app.worker.execute import Outcome
from tests.dashboard.helpers import gen_job
from tests.factories import gen_event
from tests.jobs.helpers import config
from tests.worker.test_processes import LAUNCH_RULE as LAUNCH

# One rule a farm, each stopped (or let go) by a different guard.
MIXED = """
maintenance:
  - name: patching
    matchers: {{farm_id: 7}}
    weekdays: [mon-sun]
    from: "{start}"
    to: "{end}"
    timezone: UTC
rules:
  - name: relaunch-prod
    events: [HostDown]
    where: {{farm_id: 1}}
    actions:
      - scalr: ServerLaunch
        env: prod
        params: {{FarmRoleID: "11"}}
  - name: relaunch-staging
    events: [HostDown]
    where: {{farm_id: 2}}
    actions:
      - scalr: ServerLaunch
        env: staging
        params: {{FarmRoleID: "22"}}
      - webhook: https://chat.example/staging
  - name: notify
    events: [HostDown]
    where: {{farm_id: 3}}
    throttle: {{key: "{{{{ event.farm_id }}}}", max: 2, per: 1h}}
    dry_run: true
    actions:
      - webhook: https://chat.example/notify
  - name: on-flap
    events: [HostDown]
    where: {{server_id: srv-3-4}}
    delay: 1s
    cancel_on: [FlapDetected]
    actions:
      - webhook: https://chat.example/on-flap
  - name: paused
    events: [HostDown]
    where: {{farm_id: 4}}
    actions:
      - webhook: https://chat.example/paused
  - name: cancellable
    events: [HostDown]
    where: {{farm_id: 5}}
    delay: 1s
    cancel_on: [HostUp]
    actions:
      - webhook: https://chat.example/cancellable
  - name: held
    events: [HostDown]
    where: {{farm_id: 6}}
    actions:
      - scalr: ServerReboot
        params: {{ServerID: "{{{{ event.server_id }}}}"}}
  - name: patched
    events: [HostDown]
    where: {{farm_id: 7}}
    actions:
      - webhook: https://chat.example/patched
  - name: storm
    events: [HostDown]
    where: {{farm_id: 8}}
    storm: {{share: 0.5, per: 5m}}
    actions:
      - scalr: ServerLaunch
        params: {{FarmRoleID: "88"}}
  - name: approved
    events: [HostDown]
    where: {{farm_id: 9}}
    actions:
      - webhook: https://chat.example/approve
        approve: {{within: 30m}}
"""
HOOK = "{webhook: https://chat.example/x}"
FARMS = range(1, 10)
PER_FARM = 6


def mixed_rules() -> RuleSet:
    """MIXED with its maintenance window open for the two hours around now."""
    now = datetime.now(UTC)
    return load_rules(
        MIXED.format(
            start=f"{now - timedelta(hours=1):%H:%M}", end=f"{now + timedelta(hours=1):%H:%M}"
        )
    )


def match_all(session: Session, ruleset: RuleSet) -> None:
    """Match every stored event into its jobs, a batch a transaction as the worker does."""
    while events := claim_events(session):
        process_events(session, events, ruleset, utcnow())
        session.commit()


def host_downs(
    session: Session, servers: list[tuple[str, int | None]], start: datetime, step: float = 1.0
) -> None:
    """Store one HostDown for each (server, farm), `step` seconds apart from `start`."""
    rows = [
        {
            "name": "HostDown",
            "message": f"Instance {server} terminated",
            "server_id": server,
            "farm_id": farm,
            "farm_role_id": farm * 11 if farm is not None else None,
            "source": "observer",
            "received_at": start + timedelta(seconds=n * step),
            "data": {},
            "enriched_fields": [],
            "raw": {},
            "evaluations": [],
        }
        for n, (server, farm) in enumerate(servers)
    ]
    session.execute(insert(Event), rows)
    session.commit()


def build_mixed(session: Session, ruleset: RuleSet) -> None:
    """Store and match a backlog every guard has a say in, then set the controls."""
    start = utcnow() - timedelta(minutes=2)
    host_downs(session, [(f"srv-{f}-{n}", f) for n in range(PER_FARM) for f in FARMS], start)
    match_all(session, ruleset)
    now = utcnow()
    # Stored after matching, not matched: the claim itself finds them.
    for n in (1, 3):
        gen_event(session, name="HostUp", server_id=f"srv-5-{n}", farm_id=5)
    for n in range(8):  # srv-3-4 flaps: its notify job is skipped, FlapDetected emitted
        gen_event(session, name="HostUp" if n % 2 else "HostDown", server_id="srv-3-4")
    session.add(Breaker(environment="prod", is_open=True, reason="budget spent: earlier"))
    session.add(Hold(rule="held", throttle_key="", kind="unverified", reason="not verified",
                     created_at=now))  # fmt: skip
    set_rule_paused(session, "paused", True, "oncall")
    create_silence(session, "ops", {"server_id": {"in": ["srv-2-0", "srv-9-1"]}},
                   now, now + timedelta(hours=1), "known noise", now)  # fmt: skip
    session.commit()


Decision = tuple[str, str, int, str, str | None]
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
IDS = re.compile(r"(hold #|silenced by #|event #)(\d+)")


def labelled(session: Session) -> Callable[[ActionJob], Decision]:
    """Describe a job by rule, server and index, and its reason with ids named by what they are."""
    holds = {h.id: h.kind for h in session.scalars(select(Hold))}
    silences = {s.id: s.comment for s in session.scalars(select(Silence))}
    events = {e.id: f"{e.name}/{e.server_id}" for e in session.scalars(select(Event))}
    named = {"hold #": holds, "silenced by #": silences, "event #": events}

    def name(found: re.Match[str]) -> str:
        return f"{found[1]}{named[found[1]][int(found[2])]}"

    def describe(job: ActionJob) -> Decision:
        # The two runs differ only in their clocks: "awaiting approval until <time>".
        reason = job.reason and IDS.sub(name, STAMP.sub("<time>", job.reason))
        return (job.rule, job.server_id or "", job.action_index, job.status, reason)

    return describe


def perform(factory: sessionmaker[Session], job_id: int) -> None:
    """Record that a running job's call succeeded, as the worker does after the claim."""
    with transaction(factory) as session:
        now = utcnow()
        record_outcome(session, job_id, Outcome(kind="succeeded"), "w", now, now, 0.01, 0.05)


def one_at_a_time(factory: sessionmaker[Session], ruleset: RuleSet, cfg: Config) -> list[Any]:
    """Claim with `claim_job`, one job a transaction; return each decision in turn."""
    taken: list[Any] = []
    while True:
        with transaction(factory) as session:
            job = claim_job(session, ruleset, cfg, "w", utcnow())
            if job is None:
                return taken
            taken.append(job)
            running = job.id if job.status == "running" else None
        if running is not None:
            perform(factory, running)


def in_batches(factory: sessionmaker[Session], ruleset: RuleSet, cfg: Config) -> list[Any]:
    """Claim with `claim_jobs`, a batch a transaction as the worker does; return the decisions."""
    taken: list[Any] = []
    while True:
        with transaction(factory) as session:
            settled, job = claim_jobs(session, ruleset, cfg, "w", utcnow(), SETTLE_BATCH)
            taken.extend(settled)
            if job is not None:
                taken.append(job)
            running = job.id if job is not None else None
        if running is not None:
            perform(factory, running)
        elif not settled:
            return taken


def empty_tables(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())


def outcome(factory: sessionmaker[Session], taken: list[ActionJob]) -> dict[str, Any]:
    """Return the decisions in claim order, every job's end, and the events the claims emitted."""
    with factory() as session:
        describe = labelled(session)
        jobs = session.scalars(select(ActionJob).order_by(ActionJob.rule, ActionJob.server_id))
        emitted = session.scalars(
            select(Event.name).where(Event.source == "lifeguard").order_by(Event.name)
        )
        return {
            "order": [describe(job) for job in taken],
            "ends": sorted(describe(job) for job in jobs),
            "emitted": list(emitted),
        }


def test_batches_decide_as_one_job_a_transaction_does(session_factory):
    ruleset, cfg = mixed_rules(), config(budget_max=2)
    with session_factory() as session:
        build_mixed(session, ruleset)
    alone = outcome(session_factory, one_at_a_time(session_factory, ruleset, cfg))
    empty_tables(session_factory)
    with session_factory() as session:
        build_mixed(session, ruleset)
    batched = outcome(session_factory, in_batches(session_factory, ruleset, cfg))
    assert batched == alone
    # Every guard had its say, so the comparison covers each one.
    ended = alone["order"] + alone["ends"]
    reasons = " | ".join(reason or status for *_, status, reason in ended)
    for words in (
        "remediation breaker of environment 'prod' is open",
        "budget spent: 2 Scalr actions",
        "remediation breaker of environment 'staging' is open",
        "silenced by #known noise",
        "action 1 (ServerLaunch) ended skipped; on_failure is stop",
        "DRY_RUN" if cfg.dry_run else "rule is in dry run",
        "throttled: rule fired 2 times",
        "flapping: server srv-3-4",
        "cancelled by FlapDetected event #FlapDetected/srv-3-4",
        "rule paused by oncall",
        "cancelled by HostUp event #HostUp/srv-5-1",
        "hold #unverified: not verified",
        "hold #storm: launches of farm role 88 held",
        'maintenance window "patching"',
        "awaiting approval",
    ):
        assert words in reasons, words
    # Two staging launches and the webhook after each, and four cancellable webhooks, ran.
    assert [s for *_, s, _ in alone["order"]].count("running") == 8
    assert alone["emitted"] == ["BreakerOpened", "FlapDetected", "StormDetected"]


def test_a_released_follower_keeps_its_place_among_jobs_due_at_the_same_moment(db_session):
    """A follower released mid-chunk due at `now` comes before later jobs due at `now` too."""
    now = utcnow()
    launch = {"rule": "chain", "spec": {"mutating": True}, "environment": "prod", "run_at": now,
              "on_failure": "continue"}  # fmt: skip
    for n in range(6):
        # Each chain its own event: a job's followers are those of its event and rule.
        event_id = gen_event(db_session, server_id=f"srv-{n}").id
        gen_job(db_session, event_id, action_index=0, **launch)
        gen_job(db_session, event_id, action_index=1, blocked=True, **launch)
    db_session.add(Breaker(environment="prod", is_open=True, reason="test"))
    db_session.commit()
    ruleset = load_rules(f"rules:\n  - {{name: chain, events: [HostDown], actions: [{HOOK}]}}")
    expected = sorted(db_session.scalars(select(ActionJob.id)))
    settled, job = claim_jobs(db_session, ruleset, config(), "w", now, SETTLE_BATCH)
    db_session.commit()
    assert job is None
    assert [j.id for j in settled] == expected  # each follower right after its first action
    assert {j.status for j in settled} == {"skipped"}


def test_jobs_locked_but_not_reached_stay_due(db_session):
    """A claim that finds a job to run leaves the rest of its chunk exactly as it was."""
    now = utcnow()
    event_id = gen_event(db_session).id
    skipped = {"spec": {"mutating": True}, "environment": "prod"}
    jobs = [
        gen_job(db_session, event_id, run_at=now - timedelta(seconds=60 - n), **skipped)
        for n in range(4)
    ]
    runs = gen_job(db_session, event_id, run_at=now - timedelta(seconds=50), environment="dev")
    later = [
        gen_job(db_session, event_id, run_at=now - timedelta(seconds=40 - n), **skipped)
        for n in range(3)
    ]
    db_session.add(Breaker(environment="prod", is_open=True, reason="test"))
    db_session.commit()
    ruleset = load_rules(
        f"rules:\n  - {{name: replace-terminated-web, events: [HostDown], actions: [{HOOK}]}}"
    )
    settled, job = claim_jobs(db_session, ruleset, config(), "w", now, SETTLE_BATCH)
    db_session.commit()  # chunks of 1, 1, 2, 4: the last held `runs` and the three after it
    assert [j.id for j in settled] == [j.id for j in jobs]
    assert job is not None and job.id == runs.id and job.status == "running"
    db_session.expire_all()
    for left in later:
        db_session.refresh(left)
        assert (left.status, left.reason, left.locked_by, left.finished_at) == (
            "scheduled", None, None, None
        )  # fmt: skip
    settled, job = claim_jobs(db_session, ruleset, config(), "w", now, SETTLE_BATCH)
    assert job is None and [j.id for j in settled] == [j.id for j in later]


OWN_EVENT_CANCELS = """
rules:
  - name: relaunch
    events: [HostDown]
    where: {farm_id: 1}
    delay: 1s
    cancel_on: [HostUp]
    actions:
      - scalr: ServerLaunch
        env: prod
        params: {FarmRoleID: "11"}
  - name: notify
    events: [HostDown]
    where: {farm_id: 3}
    actions:
      - webhook: https://chat.example/notify
  - name: on-flap
    events: [HostDown]
    where: {farm_id: 3}
    delay: 1s
    cancel_on: [FlapDetected]
    actions:
      - webhook: https://chat.example/on-flap
"""


def build_own_event_cancel(session: Session, ruleset: RuleSet) -> None:
    """Six launches the breaker skips, and a flapping server's two jobs among the last ones.

    The claim locks chunks of 1, 1, 2 and then 4 jobs: the last holds the fifth
    launch (its cancel check reads the chunk's later events), the flapping server's
    notify job (its claim emits FlapDetected), the sixth launch and the on-flap job.
    """
    base = utcnow() - timedelta(minutes=1)
    host_downs(session, [(f"srv-1-{n}", 1) for n in range(6)], base)
    host_downs(session, [("srv-3-0", 3)], base + timedelta(seconds=5.2))
    match_all(session, ruleset)
    for n in range(8):
        gen_event(session, name="HostUp" if n % 2 else "HostDown", server_id="srv-3-0")
    session.add(Breaker(environment="prod", is_open=True, reason="budget spent: earlier"))
    session.commit()


def test_an_event_the_claim_emits_cancels_a_job_after_it_in_the_same_chunk(session_factory):
    ruleset = load_rules(OWN_EVENT_CANCELS)
    with session_factory() as session:
        build_own_event_cancel(session, ruleset)
    alone = outcome(session_factory, one_at_a_time(session_factory, ruleset, config()))
    empty_tables(session_factory)
    with session_factory() as session:
        build_own_event_cancel(session, ruleset)
    batched = outcome(session_factory, in_batches(session_factory, ruleset, config()))
    assert batched == alone
    assert ("on-flap", "srv-3-0", 0, "cancelled",
            "cancelled by FlapDetected event #FlapDetected/srv-3-0 for the same server",
            ) in batched["order"]  # fmt: skip


@contextmanager
def counted(engine: Any) -> Iterator[list[str]]:
    """Collect every statement sent on `engine` (the `before_cursor_execute` event)."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def breaker_backlog(session: Session, count: int) -> RuleSet:
    """`count` launches of distinct servers, due, with their environment's breaker open."""
    ruleset = load_rules(LAUNCH)
    servers = [(f"srv-{n:04d}", None) for n in range(count)]
    host_downs(session, servers, utcnow() - timedelta(minutes=1), step=0.001)
    match_all(session, ruleset)
    session.add(Breaker(environment="default", is_open=True, reason="budget spent: test"))
    session.commit()
    return ruleset


def test_settling_breaker_skipped_jobs_costs_a_fraction_of_a_statement_each(
    session_factory, engine
):
    jobs = 200
    with session_factory() as session:
        ruleset = breaker_backlog(session, jobs)
    cfg, settled = config(), 0
    with counted(engine) as statements:
        while True:
            with transaction(session_factory) as session:
                done, job = claim_jobs(session, ruleset, cfg, "w", utcnow(), SETTLE_BATCH)
            assert job is None
            if not done:
                break
            settled += len(done)
    assert settled == jobs
    # One job a transaction costs about eleven (kill switch, rule state, hold, event twice,
    # flapping, silences, lock, breaker, followers, the update, the claim): 2,200 here.
    assert len(statements) < jobs // 2, statements
    with session_factory() as session:
        reasons = set(session.scalars(select(ActionJob.reason)))
    assert reasons == {"remediation breaker of environment 'default' is open: budget spent: test"}


@pytest.mark.postgres
def test_two_workers_settling_at_once_never_take_the_same_job(session_factory):
    """Two claims at a time: each job settled or run once, and one launch for a budget of one."""
    ruleset = load_rules(LAUNCH + f"  - {{name: quiet, events: [HostDown], actions: [{HOOK}]}}\n")
    with session_factory() as session:
        servers = [(f"srv-{n:04d}", None) for n in range(150)]
        host_downs(session, servers, utcnow() - timedelta(minutes=1), step=0.001)
        match_all(session, ruleset)
        set_rule_paused(session, "quiet", True, "oncall")
        session.commit()
        everyone = set(session.scalars(select(ActionJob.id)))
    assert len(everyone) == 300
    cfg = config(budget_max=1)
    start = threading.Barrier(2)
    taken: dict[str, list[tuple[int, str]]] = {"a": [], "b": []}
    failures: list[BaseException] = []

    def work(name: str) -> None:
        try:
            start.wait()
            while True:
                with transaction(session_factory) as session:
                    settled, job = claim_jobs(
                        session, ruleset, cfg, name, utcnow(), SETTLE_BATCH, SETTLE_SECONDS
                    )
                    taken[name].extend((j.id, j.status) for j in settled)
                    if job is not None:
                        taken[name].append((job.id, job.status))
                    running = job.id if job is not None else None
                if running is not None:
                    perform(session_factory, running)
                elif not settled:
                    return
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(name,)) for name in taken]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not failures, failures
    ids = [job_id for name in taken for job_id, _ in taken[name]]
    assert len(ids) == len(set(ids)) == len(everyone)
    assert set(ids) == everyone
    assert taken["a"] and taken["b"]  # both did some of it
    ran = [job_id for name in taken for job_id, status in taken[name] if status == "running"]
    assert len(ran) == 1  # the budget had room for one launch, and only one worker took it
    with session_factory() as session:
        reasons = [
            reason or ""
            for reason in session.scalars(
                select(ActionJob.reason).where(ActionJob.rule == "replace")
            )
        ]
    assert sum(r.startswith("budget spent: 1 Scalr actions") for r in reasons) == 1
    assert sum("breaker of environment 'default' is open" in r for r in reasons) == 148


def test_the_job_that_runs_meets_a_kill_switch_engaged_while_the_claim_settled_others(
    db_session, monkeypatch
):
    """Shared reads are for the jobs a guard stops; the one that runs is checked afresh."""
    from app.jobs import claim
    from app.jobs.kill_switch import engage_kill_switch

    now = utcnow()
    event_id = gen_event(db_session).id
    skipped = [
        gen_job(db_session, event_id, run_at=now - timedelta(seconds=60 - n),
                spec={"mutating": True}, environment="prod")
        for n in range(3)
    ]  # fmt: skip
    runs = gen_job(db_session, event_id, run_at=now - timedelta(seconds=30), environment="dev")
    db_session.add(Breaker(environment="prod", is_open=True, reason="test"))
    db_session.commit()
    ruleset = load_rules(
        f"rules:\n  - {{name: replace-terminated-web, events: [HostDown], actions: [{HOOK}]}}"
    )
    real = claim.finish

    def engage_after_the_last_skip(session, job, *args, **kwargs):
        done = real(session, job, *args, **kwargs)
        if job.id == skipped[-1].id:  # a person engages it in the middle of the claim
            engage_kill_switch(session, "ops", "stop everything", now)
        return done

    monkeypatch.setattr(claim, "finish", engage_after_the_last_skip)
    settled, job = claim_jobs(db_session, ruleset, config(), "w", now, SETTLE_BATCH)
    assert [j.id for j in settled[:3]] == [j.id for j in skipped]
    assert job is None or job.id != runs.id, "the job ran past an engaged kill switch"
    assert runs.status == "skipped" and "kill switch engaged by ops" in (runs.reason or "")
