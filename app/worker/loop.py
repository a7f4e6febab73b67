"""The worker process: match events, claim jobs, run them, keep its heartbeat."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

import requests
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Config
from app.db import on_postgres, transaction, utcnow
from app.inventory.sync import sync_all
from app.jobs import ingest_gap
from app.jobs.approvals import expire_approvals
from app.jobs.claim import (
    SETTLE_BATCH,
    SETTLE_SECONDS,
    claim_jobs,
    next_due_at,
    reap_expired_leases,
)
from app.jobs.create import BATCH_SIZE, claim_events, process_events
from app.jobs.notify import Listener
from app.jobs.outcome import record_outcome
from app.jobs.periodic import claim_periodic, record_periodic
from app.jobs.verify import expire_expectations
from app.logging_setup import bound, first_line
from app.metrics import JOB_OUTCOMES
from app.models.event import Event
from app.models.ops import WorkerHeartbeat
from app.retention import prune_events
from app.rollup import fold_events
from app.rules.store import RulesStore
from app.scalr.client import ScalrClient, build_client
from app.scalr.environments import ScalrEnvironments
from app.scalr.errors import ScalrConfigError
from app.table_stats import STATS_CHECK_SECONDS, refresh_stale
from app.worker.execute import ClientCache, JobView, Outcome, perform

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
REAP_SECONDS = 5.0
RULES_CHECK_SECONDS = 2.0
# How often jobs waiting for their `expect:` event are checked against their deadline.
VERIFY_SECONDS = 1.0
# The longest wait between two tries while the database (or anything else) fails.
MAX_BACKOFF_SECONDS = 10.0
# Retention runs every PRUNE_SECONDS and deletes at most PRUNE_BATCHES batches each time,
# so a year of backlog drains over hours without holding up the jobs.
PRUNE_SECONDS = 300
PRUNE_BATCHES = 20
# How often (for the whole deployment) farms' traffic is learned and ingest gaps are looked for.
INGEST_GAP_CHECK_SECONDS = 60
# While event batches keep the worker busy, make no jobs, and the last look found no job
# due, jobs are looked for at most this often (a look is a claim query and a commit, a fifth
# of a small batch's round trips). A batch that made jobs, or an idle loop, looks at once;
# a job another worker made or whose delay ran out waits this much longer at most.
JOBS_LOOK_SECONDS = 0.05
# The housekeeping looks that run on threads of these names beside the loop (in_background),
# because in the loop each held up every event and job behind it: an ANALYZE of a fresh,
# fast-growing `events` 0.1-0.5 s (it reads a sample of 30,000 rows; bench/ingest.py's
# probe saw it as the PostgreSQL p99), a retention pass up to PRUNE_BATCHES deletes
# (about 2 s), and the inventory sync and the ingest gap check as long as Scalr takes to
# answer (FarmGetDetails, EventsList a farm; up to its timeout a call).
STATS_LOOK, RETENTION_LOOK, SYNC_LOOK, GAPS_LOOK = (
    "table-stats", "retention", "inventory-sync", "ingest-gaps"
)  # fmt: skip
BACKGROUND_LOOKS = (STATS_LOOK, RETENTION_LOOK, SYNC_LOOK, GAPS_LOOK)
# How long a stopping worker waits, in all, for housekeeping looks still running beside
# the loop (in_background): an ANALYZE, or the Scalr call an inventory sync is in.
BACKGROUND_JOIN_SECONDS = 15.0
# How often each worker folds new events into the overview's hourly counts (app/rollup.py);
# a pass with nothing settled is two reads.
FOLD_SECONDS = 5.0


class Worker:
    """One worker process's loop; several may run against one database."""

    def __init__(
        self,
        config: Config,
        session_factory: sessionmaker[Session],
        rules: RulesStore,
        *,
        client_factory: Callable[[str], ScalrClient] | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.factory = session_factory
        self.rules = rules
        self.clock = clock
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        # Read once: a bad setting is kept and named by every call that needs Scalr.
        self.environments = ScalrEnvironments.read(config.environ)
        self._build_client = client_factory or (
            lambda name: build_client(name, self.environments, session_factory)
        )
        self.clients = ClientCache(self._build_client)
        self.http = requests.Session()
        self.stopping = threading.Event()
        self.jobs_done = 0
        self.current_job: int | None = None
        self._last = {
            "beat": 0.0, "reap": 0.0, "rules": 0.0, "sync": 0.0, "prune": 0.0, "verify": 0.0,
            "gaps": 0.0, "fold": 0.0, "stats": 0.0,
        }  # fmt: skip
        with session_factory() as session:
            self.postgres = on_postgres(session)
        self._warned_rules = False
        self._batch_jobs = 0  # jobs the last event batch made
        self._jobs_look: tuple[float, bool] = (float("-inf"), False)  # when, and found one
        # Housekeeping looks that run beside the loop (in_background), by thread name.
        self._background: dict[str, threading.Thread] = {}
        self._local = threading.local()

    # -- one step -------------------------------------------------------------
    def rules_ready(self) -> bool:
        """Say whether good rules were ever loaded; until then events wait, unmatched."""
        status = self.rules.status()
        if status.loaded_at is not None:
            return True
        if not self._warned_rules:
            log.error(
                "no good rules loaded from %s; events wait until the file is fixed: %s",
                status.path,
                "; ".join(p.message for p in status.errors),
            )
            self._warned_rules = True
        return False

    def process_events(self, limit: int = BATCH_SIZE) -> bool:
        """Match a batch of unprocessed events in one transaction; say whether there were any."""
        if not self.rules_ready():
            return False
        started = time.perf_counter()
        ruleset = self.rules.current
        # The whole batch in one flush first (almost every batch matches without error); if
        # that fails nothing of it was kept, and the batch is matched again one savepoint an
        # event, so the event that failed is recorded and the others go through.
        for isolate in (False, True):
            try:
                with transaction(self.factory) as session:
                    events = claim_events(session, limit)
                    if not events:
                        return False
                    result = process_events(
                        session,
                        events,
                        ruleset,
                        self.clock(),
                        self.config.public_url,
                        isolate=isolate,
                    )
                self._batch_jobs = result.jobs
                break
            except Exception as exc:
                if isolate:
                    raise
                log.warning(
                    "a batch of events failed as a whole (%s); matching it event by event", exc
                )
        # One line a batch, not one an event: a storm must not become a storm of log lines.
        log.info(
            "matched %d events (ids %d-%d), rules %s: %d jobs, %d cancelled, %d failed, %.0f ms",
            result.events,
            events[0].id,
            events[-1].id,
            ruleset.version,
            result.jobs,
            result.cancelled,
            len(result.failed),
            (time.perf_counter() - started) * 1000,
        )
        return True

    def process_one_event(self) -> bool:
        """Match the oldest unprocessed event alone; say whether there was one."""
        return self.process_events(1)

    def run_one_job(self) -> bool:
        """Claim, run and record one due job; say whether there was one."""
        return self.run_jobs(1)

    def run_jobs(self, limit: int = SETTLE_BATCH) -> bool:
        """Settle due jobs a guard stops, up to `limit`, then run the first that may go.

        The guards settle a job without calling anything, so a backlog of jobs an
        open breaker or a spent budget skips is settled in one transaction rather
        than one each; the first job that passes its guards ends the claim and runs
        outside it. Say whether there was a job.
        """
        now = self.clock()
        with transaction(self.factory) as session:
            settled, job = claim_jobs(
                session, self.rules.current, self.config, self.id, now, limit, SETTLE_SECONDS
            )
            for done in settled:
                log.info(
                    "job %s %s settled by a guard: %s (%s)",
                    done.id,
                    done.rule,
                    done.status,
                    done.reason,
                )
            if job is None:
                return bool(settled)
            event = session.get(Event, job.event_id)
            request_id = (event.raw or {}).get("request_id") if event is not None else None
            context = {"job_id": job.id, "event_id": job.event_id, "request_id": request_id}
            view = JobView(
                id=job.id,
                kind=job.kind,
                action=job.action,
                environment=job.environment,
                params=dict(job.params or {}),
                spec=dict(job.spec or {}),
                farm_id=event.farm_id if event is not None else None,
            )
        self.current_job = view.id
        with bound(**context):
            started = self.clock()
            outcome = perform(view, self.config, self.clients, self.http)
            finished = self.clock()
            recorded = self.record(view, outcome, started, finished)
        self.current_job = None
        self.jobs_done += 1
        if recorded is not None:
            JOB_OUTCOMES.labels(view.kind, recorded).inc()
        return True

    def record(
        self, view: JobView, outcome: Outcome, started: datetime, finished: datetime
    ) -> str | None:
        """Record an attempt's outcome, waiting out a database outage; return the new status.

        The call has been made: losing its outcome means the job runs again
        when its lease expires. So the record is tried again with backoff
        until it lands, until the lease is over (another worker may own the
        job then, and record_outcome refuses to write over it), or until the
        worker is asked to stop.
        """
        delay = 0.25
        deadline = time.monotonic() + self.config.worker_lease_seconds
        while True:
            try:
                with transaction(self.factory) as session:
                    job = record_outcome(
                        session,
                        view.id,
                        outcome,
                        self.id,
                        started,
                        finished,
                        self.config.retry_base_seconds,
                        self.config.retry_cap_seconds,
                        self.config.retry_window_seconds,
                    )
                    status = job.status if job is not None else None
                return status
            except DBAPIError as exc:
                if time.monotonic() + delay > deadline or self.stopping.is_set():
                    log.error(
                        "job %s: outcome %s not recorded (%s); it runs again after its lease",
                        view.id,
                        outcome.kind,
                        type(exc).__name__,
                    )
                    raise
                log.warning(
                    "job %s: recording outcome %s failed (%s); again in %.2fs",
                    view.id,
                    outcome.kind,
                    type(exc).__name__,
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def run_once(self) -> bool:
        """Do the housekeeping that is due, match a batch of events, then settle or run jobs;
        say whether work was done."""
        self.housekeeping()
        did_events = self.process_events()
        did_jobs = False
        if self._look_for_jobs(did_events):
            did_jobs = self.run_jobs()
            self._jobs_look = (time.monotonic(), did_jobs)
        return did_events or did_jobs

    def _look_for_jobs(self, did_events: bool) -> bool:
        """Say whether this step looks for due jobs (see JOBS_LOOK_SECONDS)."""
        looked_at, found = self._jobs_look
        if not did_events or self._batch_jobs or found:
            return True
        return time.monotonic() - looked_at >= JOBS_LOOK_SECONDS

    # -- housekeeping ----------------------------------------------------------
    def _due(self, name: str, every: float) -> bool:
        now = time.monotonic()
        if now - self._last[name] >= every:
            self._last[name] = now
            return True
        return False

    def housekeeping(self) -> None:
        """Beat, reap leases, reload rules, sync the inventory, prune, fold, look for gaps,
        keep the planner statistics current."""
        if self._due("rules", RULES_CHECK_SECONDS):
            self.rules.reload_if_changed()
        if self._due("beat", HEARTBEAT_SECONDS):
            self.heartbeat()
        if self._due("reap", REAP_SECONDS):
            with transaction(self.factory) as session:
                reaped = reap_expired_leases(session, self.clock())
            if reaped:
                log.warning("%d job leases expired and were taken back", reaped)
        if self._due("verify", VERIFY_SECONDS):
            with transaction(self.factory) as session:
                expire_expectations(session, self.clock())
            with transaction(self.factory) as session:
                expire_approvals(session, self.clock())
        every = self.config.inventory_sync_seconds
        if every > 0 and self._due("sync", min(every, 30)):
            self.in_background(SYNC_LOOK, lambda: self.sync_inventory(every))
        if self.config.retention_days > 0 and self._due("prune", 60):
            self.in_background(RETENTION_LOOK, self.prune)
        if self._due("fold", FOLD_SECONDS):
            self.fold()
        if ingest_gap.enabled(self.config) and self._due("gaps", 10):
            self.in_background(GAPS_LOOK, self.check_ingest_gaps)
        if self.postgres and self._due("stats", STATS_CHECK_SECONDS):
            self.in_background(STATS_LOOK, self.refresh_table_stats)

    def _my_turn(self, task: str, every: float) -> bool:
        """Say whether this worker runs deployment-wide `task` now (claim_periodic), and
        commit the claim; a worker that created the task's row at the same moment as
        another one leaves the turn to it."""
        try:
            with transaction(self.factory) as session:
                return claim_periodic(session, task, every, self.id, self.clock())
        except IntegrityError:
            return False

    def in_background(self, name: str, look: Callable[[], object]) -> threading.Thread | None:
        """Run housekeeping `look` on a thread named `name`, unless its last run still goes
        on; return the thread started, if any.

        For the looks that can take long (BACKGROUND_LOOKS): the loop goes on matching
        events and running jobs meanwhile. Each look opens its own sessions
        (and, for Scalr, its own clients: `clients_for`), takes the deployment-wide turn
        as it does in the loop, and logs its own failure: the loop's backoff never sees
        it, and the next look runs at its next interval.
        """
        running = self._background.get(name)
        if running is not None and running.is_alive():
            return None
        thread = threading.Thread(
            target=self._background_look, args=(name, look), name=name, daemon=True
        )
        self._background[name] = thread
        thread.start()
        return thread

    def _background_look(self, name: str, look: Callable[[], object]) -> None:
        # Its own Scalr clients: a requests session is not to be shared between threads.
        clients = self._local.clients = ClientCache(self._build_client)
        try:
            look()
        except Exception as exc:
            log.warning(
                "%s look failed; it runs again at its next interval: %s",
                name,
                first_line(exc) or type(exc).__name__,
            )
        finally:
            clients.close()

    def clients_for(self) -> ClientCache:
        """Return the Scalr clients of the calling thread: a background look's own, or the
        loop's."""
        clients: ClientCache = getattr(self._local, "clients", self.clients)
        return clients

    def join_background(self, timeout: float = BACKGROUND_JOIN_SECONDS) -> list[str]:
        """Wait, in all at most `timeout`, for the background looks that still run; return
        the names of those still running then."""
        deadline = time.monotonic() + timeout
        for thread in self._background.values():
            thread.join(max(0.0, deadline - time.monotonic()))
        return [name for name, thread in self._background.items() if thread.is_alive()]

    def refresh_table_stats(self) -> None:
        """Analyze the busiest tables whose planner statistics are stale, once per interval
        for the whole deployment (PostgreSQL only; app/table_stats.py says why)."""
        if not self._my_turn("table_stats", STATS_CHECK_SECONDS):
            return
        with transaction(self.factory) as session:
            result = refresh_stale(session)
        with transaction(self.factory) as session:
            record_periodic(session, "table_stats", result.summary())

    def check_ingest_gaps(self) -> list[int]:
        """Learn farms' traffic and emit IngestGap for silent ones, once per interval in all.

        Return the ids of the IngestGap events emitted. Scalr is asked outside
        any transaction: a slow EventsList holds no lock.
        """
        if not self._my_turn("ingest_gap", INGEST_GAP_CHECK_SECONDS):
            return []
        now = self.clock()
        with transaction(self.factory) as session:
            learned = ingest_gap.learn(session, now)
            quiet = []
            for traffic in ingest_gap.silent_farms(session, self.config, now):
                since = ingest_gap.since_for_scalr(traffic.last_event_at)
                have = ingest_gap.events_we_have(session, traffic.farm_id, since)
                where = ingest_gap.environment_of(session, traffic.farm_id, self.environments)
                quiet.append((traffic.farm_id, since, have, where))
        emitted: list[int] = []
        for farm_id, since, have, environment in quiet:
            missed = self._missed_events(farm_id, since, have, environment)
            with transaction(self.factory) as session:
                event = ingest_gap.open_gap(session, farm_id, self.config, missed, self.clock())
                if event is not None:
                    emitted.append(event.id)
        summary = f"learned {learned} events; {len(emitted)} new gaps"
        with transaction(self.factory) as session:
            record_periodic(session, "ingest_gap", summary)
        return emitted

    def _missed_events(
        self, farm_id: int, since: datetime, have: int, environment: str | None
    ) -> ingest_gap.Missed:
        if environment is None:
            return ingest_gap.Missed(None, "no Scalr API configured")
        try:
            client = self.clients_for().get(environment)
        except ScalrConfigError as exc:
            return ingest_gap.Missed(None, f"Scalr environment {environment!r}: {exc}")
        return ingest_gap.missed_events(client, farm_id, since, have)

    def prune(self) -> None:
        """Delete events past RETENTION_DAYS, a bounded slice at a time, once per interval
        for the whole deployment (the periodic_tasks row lock)."""
        if not self._my_turn("retention", PRUNE_SECONDS):
            return
        result = prune_events(
            self.factory,
            self.config.retention_days * 86400,
            self.clock(),
            dry_run=False,
            max_batches=PRUNE_BATCHES,
        )
        with transaction(self.factory) as session:
            record_periodic(session, "retention", result.summary())

    def fold(self) -> None:
        """Fold the settled new events into the overview's hourly counts.

        Every worker does it; the watermark row's lock makes them take turns, and the
        second finds nothing left to fold.
        """
        try:
            with transaction(self.factory) as session:
                result = fold_events(session, self.clock())
        except IntegrityError:
            return  # another worker created the watermark row at the same moment
        if result.events:
            log.debug("event_hours: %s", result.summary())

    def sync_inventory(self, every: float) -> None:
        """Refresh the inventory from Scalr if no worker did within `every` seconds."""
        if not self._my_turn("inventory_sync", every):
            return
        results = sync_all(
            self.factory, self.clients_for(), self.environments, self.clock, self.stopping
        )
        summary = (
            ", ".join(f"{name}: {value}" for name, value in results.items()) or "no environments"
        )
        with transaction(self.factory) as session:
            record_periodic(session, "inventory_sync", summary)
        log.info("inventory sync: %s", summary)

    def heartbeat(self, stopped: bool = False) -> None:
        """Write this worker's heartbeat row."""
        now = self.clock()
        with transaction(self.factory) as session:
            beat = session.get(WorkerHeartbeat, self.id)
            if beat is None:
                beat = WorkerHeartbeat(
                    worker_id=self.id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=now,
                )
                session.add(beat)
            beat.last_beat_at = now
            beat.current_job_id = self.current_job
            beat.jobs_done = self.jobs_done
            beat.stopped_at = now if stopped else None

    # -- the loop ----------------------------------------------------------------
    def sleep_seconds(self) -> float:
        """How long to wait: the poll interval, or less when a job falls due sooner."""
        wait = self.config.worker_poll_seconds
        with self.factory() as session:
            due = next_due_at(session)
        if due is not None:
            wait = min(wait, max(0.0, (due - self.clock()).total_seconds()))
        return max(wait, 0.01)

    def run(self, max_seconds: float | None = None) -> None:
        """Work until `stop()` (SIGTERM) or `max_seconds`; the current job always finishes.

        Nothing the worker cannot control ends it: a database or Scalr outage
        or a broken rules file is logged, waited out with backoff, and the
        loop goes on by itself once the cause is gone.
        """
        self.rules.reload_if_changed()
        listener = Listener(self.factory.kw["bind"])
        deadline = time.monotonic() + max_seconds if max_seconds else None
        log.info("worker %s started", self.id)
        failures = 0
        try:
            while not self.stopping.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                try:
                    busy = self.run_once()
                    if not busy and not self.stopping.is_set():
                        listener.wait(self.sleep_seconds())
                except Exception as exc:
                    failures += 1
                    delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(failures - 1, 8))
                    if failures == 1:
                        log.exception("worker step failed; trying again in %.1fs", delay)
                    else:
                        log.warning(
                            "worker step failed %d times in a row (%s: %s); next try in %.1fs",
                            failures,
                            type(exc).__name__,
                            first_line(exc),
                            delay,
                        )
                    self.stopping.wait(delay)
                    continue
                if failures:
                    log.info("worker %s working again after %d failed steps", self.id, failures)
                    failures = 0
        finally:
            listener.close()
            # An ANALYZE waits at most table_stats.LOCK_TIMEOUT for its lock; a sync stops
            # between farms once `stopping` is set (here too when max_seconds ran out). A
            # stop does not leave them unseen.
            self.stopping.set()
            left = self.join_background()
            if left:
                log.warning("worker stopping with housekeeping still running: %s", ", ".join(left))
            try:
                self.heartbeat(stopped=True)
            except Exception as exc:  # the database may be the reason we stop
                log.warning("could not record the stop in the heartbeat: %s", exc)
            self.clients.close()
            self.http.close()
            log.info("worker %s stopped after %d jobs", self.id, self.jobs_done)

    def stop(self, *_args: object) -> None:
        """Ask the loop to end after the current step."""
        self.stopping.set()
