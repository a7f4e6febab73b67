"""Lifeguard at scale on PostgreSQL: a storm of deliveries, and several workers.

Storm: BENCH_STORM_DELIVERIES (10,000) unique `HostDown` deliveries posted by wrk as fast
as Lifeguard answers (16 connections), with a worker matching them against a rule that
launches a replacement for each. Measured: how long the posting took, how long until
every event was matched and every job had ended, and that the remediation budget and
breaker did exactly what they do for a trickle of the same rule (BENCH_STORM_TRICKLE
deliveries, one every 50 ms, in a fresh database): as many launches as the budget
allows, then the breaker open and every later job skipped.

Workers: BENCH_SCALE_JOBS (200) launches, each answered by the simulator after
BENCH_SCALE_LATENCY seconds (0.05, an injected latency: a real Scalr answers in
tens to hundreds of milliseconds), run by one worker process and then, in a fresh
database, by three. Measured: jobs per second from the first job's start to the last
one's end, and that the simulator received each launch exactly once.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import insert, text

from app.db import make_engine
from bench import servers
from bench.ingest import LUA  # unique posts; SIGINT makes wrk print its summary
from simulator import SimulatorServer, build_state, demo_config
from simulator.faults import Fault

KEY, SECRET = "benchkey", "bench-secret-0123456789"
RULES = """
rules:
  - name: replace
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "1978", IncreaseMaxInstances: 1}
"""
OPEN = ("scheduled", "running", "retrying")
MESSAGE = "Instance {sid} (54.211.17.89) Internal IP: 10.183.42.7 terminated"


@dataclass(frozen=True)
class StormFigures:
    """One run of many deliveries through a real web process and worker."""

    deliveries: int
    acknowledged: int
    stored: int
    post_seconds: float
    settle_seconds: float  # from the first post until every event matched, every job ended
    launches: int  # ServerLaunch calls the simulator received
    statuses: dict[str, int]
    breaker_open: bool
    settled: bool  # every event matched and every job ended within the timeout
    matched: int
    match_seconds: float | None = None  # from the first post until every event matched


@dataclass(frozen=True)
class ScaleFigures:
    """Jobs run by `workers` worker processes."""

    workers: int
    jobs: int
    seconds: float
    launches: int
    statuses: dict[str, int]

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0


def _scalr(sim: SimulatorServer) -> dict[str, str]:
    return {
        "SCALR_API_URL": sim.url,
        "SCALR_KEY_ID": KEY,
        "SCALR_SECRET_KEY": SECRET,
        "SCALR_ENV_ID": "3",
    }


def _simulator() -> SimulatorServer:
    config = demo_config(KEY, SECRET)
    config["timings"] = {"tick_seconds": 0}
    return SimulatorServer(build_state(config, autotick=False))


@dataclass(frozen=True)
class Stage:
    """What one measurement runs in: a scratch folder, the rules file, a fresh database, Scalr."""

    workdir: Path
    rules: Path
    url: str
    sim: SimulatorServer


@contextmanager
def _stage(base_url: str | None, label: str) -> Iterator[Stage]:
    """Give a measurement its folder, RULES, a fresh database and a simulator; drop them after."""
    with tempfile.TemporaryDirectory(prefix=f"lifeguard-{label}-") as tmp, _simulator() as sim:
        workdir = Path(tmp)
        rules = workdir / "rules.yml"
        rules.write_text(RULES)
        url, schema = servers.fresh_database(base_url, workdir, label)
        try:
            yield Stage(workdir, rules, url, sim)
        finally:
            if schema:
                servers.drop_schema(base_url or "", schema)


def _state(url: str) -> tuple[int, int, dict[str, int], bool]:
    """Return (events stored, events matched, jobs by status, any breaker open)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            stored, matched = conn.execute(
                text("SELECT count(*), count(processed_at) FROM events")
            ).one()
            statuses = dict(
                conn.execute(text("SELECT status, count(*) FROM action_jobs GROUP BY status")).all()
            )
            breakers = conn.execute(
                text("SELECT count(*) FROM breakers WHERE is_open")
            ).scalar_one()
    finally:
        engine.dispose()
    return int(stored), int(matched), {k: int(v) for k, v in statuses.items()}, bool(breakers)


def _settle(url: str, posted: int, timeout: float, matched_at: list[float] | None = None) -> bool:
    """Wait until `posted` events are matched and no job is open; say whether they were.

    `matched_at` gets the perf_counter moment every event was matched, when that came.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stored, matched, statuses, _ = _state(url)
        all_matched = matched >= posted and stored == matched
        if all_matched and matched_at is not None and not matched_at:
            matched_at.append(time.perf_counter())
        if all_matched and not any(statuses.get(s) for s in OPEN):
            return True
        time.sleep(0.25)
    return False


def _storm_wrk(url: str, db_url: str, deliveries: int) -> tuple[int, float]:
    """Post `deliveries` unique HostDowns with wrk; return the 202s and the seconds taken.

    wrk runs for a fixed time, so the harness watches the events table and stops wrk
    (SIGINT: it prints its summary) once the storm is stored.
    """
    argv = ["wrk", "-t2", "-c16", "-d300s", "--timeout", "10s", "-s", str(LUA), url]
    started = time.perf_counter()
    wrk = subprocess.Popen(  # noqa: S603 -- our own fixed command
        [*argv, "--", str(int(time.time()))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        while wrk.poll() is None and _state(db_url)[0] < deliveries:
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        if wrk.poll() is None:
            wrk.send_signal(signal.SIGINT)
        output = wrk.communicate(timeout=30)[0]
    line = next(x for x in output.splitlines() if x.startswith("BENCH "))
    values = dict(pair.split("=") for pair in line.split()[1:])
    return int(values["accepted"]), seconds


def _post(url: str, deliveries: int, pause: float = 0.0) -> tuple[int, float]:
    """Post `deliveries` unique HostDowns, `pause` seconds apart; return the 202s and seconds."""
    started, accepted = time.perf_counter(), 0
    with requests.Session() as http:
        for n in range(deliveries):
            sid = f"7a1c0000-{n:04x}-4535-a7ec-2fbf56486ff3"
            answer = http.post(
                url, data={"event": "OnHostDown", "message": MESSAGE.format(sid=sid)}, timeout=10
            )
            accepted += answer.status_code == 202
            time.sleep(pause)
    return accepted, time.perf_counter() - started


def storm(pg_url: str, deliveries: int, trickle: bool, settle_timeout: float) -> StormFigures:
    """Post a storm (or a trickle) through Lifeguard with its worker; return the figures."""
    with _stage(pg_url, "storm") as stage:
        workdir, rules, url, sim = stage.workdir, stage.rules, stage.url, stage.sim
        name = "storm trickle" if trickle else "storm"
        with servers.lifeguard(name, url, workdir, rules, _scalr(sim), True) as running:
            began = time.perf_counter()
            if trickle:  # one every 50 ms
                acknowledged, post_seconds = _post(running.url, deliveries, 0.05)
            else:
                acknowledged, post_seconds = _storm_wrk(running.url, url, deliveries)
            stored = _state(url)[0]
            matched_at: list[float] = []
            settled = _settle(
                url, stored, settle_timeout - (time.perf_counter() - began), matched_at
            )
            settle_seconds = time.perf_counter() - began
            stored, matched, statuses, breaker = _state(url)
        return StormFigures(
            deliveries, acknowledged, stored, post_seconds, settle_seconds,
            len(sim.state.calls("ServerLaunch")), statuses, breaker, settled, matched,
            matched_at[0] - began if matched_at else None,
        )  # fmt: skip


def scale(pg_url: str, workers: int, jobs: int, latency: float) -> ScaleFigures:
    """Run `jobs` launches with `workers` worker processes; return the throughput."""
    with _stage(pg_url, f"scale-{workers}") as stage:
        workdir, rules, url, sim = stage.workdir, stage.rules, stage.url, stage.sim
        sim.state.add_fault(Fault("latency", action="ServerLaunch", latency=latency))
        scalr = {**_scalr(sim), "REMEDIATION_BUDGET_MAX": str(jobs * 10)}
        with servers.lifeguard(f"scale {workers}", url, workdir, rules, scalr, False) as web:
            _post(web.url, jobs)  # back to back: no worker runs yet
        env = servers.lifeguard_env(url, workdir, rules, scalr)
        log = workdir / "workers.log"
        procs = [
            servers._spawn([str(servers.BIN / "flask"), "--app", "wsgi", "worker"], env, log)
            for _ in range(workers)
        ]
        try:
            _settle(url, jobs, 600)
        finally:
            for proc in procs:
                servers._stop(proc)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                first, last = conn.execute(
                    text("SELECT min(started_at), max(finished_at) FROM action_jobs")
                ).one()
        finally:
            engine.dispose()
        statuses = _state(url)[2]
        seconds = (last - first).total_seconds() if first and last else 0.0
        return ScaleFigures(workers, jobs, seconds, len(sim.state.calls("ServerLaunch")), statuses)


def summary(statuses: dict[str, int]) -> str:
    """Return job statuses as `succeeded 20, skipped 9,980`."""
    return ", ".join(f"{k} {v:,}" for k, v in Counter(statuses).most_common()) or "no jobs"


@dataclass(frozen=True)
class MatchFigures:
    """A backlog of stored events drained by one in-process worker, statements counted."""

    database: str
    events: int
    match_seconds: float  # until every event was matched (the worker's own loop)
    settle_seconds: float  # until every job had ended too
    statements: int  # every statement the worker sent, matching and jobs
    match_statements: int  # those sent while it matched
    launches: int
    statuses: dict[str, int]
    match_cpu: float = 0.0  # CPU seconds of this process inside the matching step

    @property
    def rate(self) -> float:
        return self.events / self.match_seconds if self.match_seconds else 0.0

    @property
    def cpu_per_event_us(self) -> float:
        return 1e6 * self.match_cpu / self.events if self.events else 0.0


def _seed(url: str, events: int) -> None:
    """Store `events` HostDowns of distinct servers, as ingest would have, unmatched."""
    from app.db import utcnow

    now = utcnow()
    rows = [
        {
            "name": "HostDown",
            "message": MESSAGE.format(sid=f"7a1c0000-{n:04x}-4535-a7ec-2fbf56486ff3"),
            "server_id": f"7a1c0000-{n:04x}-4535-a7ec-2fbf56486ff3",
            "public_ip": "54.211.17.89",
            "internal_ip": "10.183.42.7",
            "source": "observer",
            "received_at": now,
            "data": {},
            "enriched_fields": [],
            "raw": {},
            "evaluations": [],
        }
        for n in range(events)
    ]
    from app.models.event import Event

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(Event), rows)
    finally:
        engine.dispose()


def matching(
    base_url: str | None, events: int, timeout: float = 600, rules_text: str = RULES
) -> MatchFigures:
    """Drain `events` stored HostDowns with one in-process worker's own loop (`run_once`).

    Every statement the worker's engine sends is counted; those sent inside the
    matching step are counted apart (the loop's event step, whatever its name), and
    so is the CPU time the process spends in it. `rules_text` replaces RULES (under
    which every event makes a job).
    """
    from sqlalchemy import event as sa_event
    from sqlalchemy.orm import sessionmaker

    from app.config import Config
    from app.rules.store import RulesStore
    from app.worker.loop import Worker

    with _stage(base_url, "match") as stage:
        workdir, rules, url, sim = stage.workdir, stage.rules, stage.url, stage.sim
        rules.write_text(rules_text)
        _seed(url, events)
        config = Config.from_env(
            {**_scalr(sim), "DATABASE_URL": url, "INVENTORY_SYNC_SECONDS": "0"}
        ).with_overrides(instance_path=workdir / "instance", rules_file=str(rules))
        engine = make_engine(url)
        counts = {"all": 0, "match": 0}
        cpu = [0.0]
        matching_now = [False]

        def count(*_args: object) -> None:
            counts["all"] += 1
            counts["match"] += matching_now[0]

        sa_event.listen(engine, "before_cursor_execute", count)
        store = RulesStore(rules)
        store.reload_if_changed()
        worker = Worker(config, sessionmaker(engine, expire_on_commit=False), store)
        name = "process_events" if hasattr(worker, "process_events") else "process_one_event"
        step = getattr(worker, name)

        done_at = [0.0]

        def counted() -> bool:
            matching_now[0] = True
            started = time.process_time()
            try:
                busy = bool(step())
            finally:
                matching_now[0] = False
                cpu[0] += time.process_time() - started
            if not busy and not done_at[0]:
                done_at[0] = time.perf_counter()
            return busy

        setattr(worker, name, counted)
        began = time.perf_counter()
        try:
            while time.perf_counter() - began < timeout and worker.run_once():
                pass
            settle_seconds = time.perf_counter() - began
            match_seconds = (done_at[0] - began) if done_at[0] else settle_seconds
        finally:
            worker.clients.close()
            worker.http.close()
            engine.dispose()
        statuses = _state(url)[2]
        return MatchFigures(
            "postgresql" if base_url else "sqlite", events,
            match_seconds, settle_seconds, counts["all"], counts["match"],
            len(sim.state.calls("ServerLaunch")), statuses, cpu[0],
        )  # fmt: skip
