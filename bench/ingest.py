"""Durable ingest under wrk: Lifeguard on SQLite and PostgreSQL against bare Flask and webhook.

Each round starts every server in turn (the order reverses every other round), warms it
up, loads it with wrk at each connection count, then checks that every delivery answered
202 is a stored row and reads the resident size of its processes. Lifeguard also runs
with its worker matching every event against a generated 200-rule file; then a probe
posts its own HostDown every PROBE_GAP seconds while wrk runs and times each from the 202
to the simulator receiving the ServerLaunch the probe rule asks for (event -> first Scalr
call with the web process under the ingest load).
"""

from __future__ import annotations

import functools
import itertools
import re
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench import servers
from bench.rulesgen import rules_yaml
from simulator import SimulatorServer, build_state, demo_config

LUA = Path(__file__).with_name("ingest.lua")
KEY, SECRET = "benchkey", "bench-secret-0123456789"
# One rule in fifty matches the delivery (farm 1439); the others fail on their last test.
ACTION = '{scalr: ServerLaunch, params: {FarmRoleID: "1978"}}'
# The probe's deliveries carry an internal IP no wrk delivery has; only this rule launches.
PROBE_NET = "10.250.250."
PROBE_RULE = (
    "  - {name: probe, events: [HostDown], "
    f'where: {{internal_ip: {{glob: "{PROBE_NET}*"}}}}, '
    'actions: [{scalr: ServerLaunch, params: {FarmRoleID: "1978", IncreaseMaxInstances: 1}}]}\n'
)
PROBE_GAP = 0.2  # seconds between one probe's launch (or give-up) and the next post
PROBE_WAIT = 10.0  # a probe whose launch has not come by then counts as this long


@dataclass(frozen=True)
class Load:
    """One wrk run: answers by status, throughput of 202s, latency percentiles (ms)."""

    accepted: int
    refused: int
    errors: int
    rps: float
    p50: float
    p99: float


@dataclass
class Outcome:
    """Everything measured for one server over all rounds."""

    loads: dict[int, list[Load]] = field(default_factory=dict)
    acknowledged: int = 0
    stored: int = 0
    distinct: int = 0
    processed: int = 0
    web_rss: list[float] = field(default_factory=list)
    worker_rss: list[float] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    # Seconds from a probe's 202 to its ServerLaunch at the simulator, under the load;
    # a launch that never came counts as PROBE_WAIT (and in `probes_missed`).
    probe_latency: list[float] = field(default_factory=list)
    probes_missed: int = 0


class Probe:
    """While running, post one probe HostDown at a time and time its launch at the simulator."""

    def __init__(self, url: str, state: object, outcome: Outcome) -> None:
        self._url, self._state, self._outcome = url, state, outcome
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(PROBE_WAIT + 5)

    def _launches(self) -> int:
        return len(self._state.calls("ServerLaunch"))  # type: ignore[attr-defined]

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            before = self._launches()
            message = (
                f"Instance {uuid.uuid4()} (54.211.17.89) Internal IP: {PROBE_NET}{n % 250} "
                "terminated"
            )
            try:
                answer = requests.post(
                    self._url, data={"event": "OnHostDown", "message": message}, timeout=10
                )
            except requests.RequestException:
                continue
            answered = self._state.now()  # type: ignore[attr-defined]
            if answer.status_code != 202:
                continue
            deadline = time.monotonic() + PROBE_WAIT
            while self._launches() <= before and time.monotonic() < deadline:
                time.sleep(0.002)
            calls = self._state.calls("ServerLaunch")  # type: ignore[attr-defined]
            if len(calls) > before:
                self._outcome.probe_latency.append(calls[before].time - answered)
            else:
                self._outcome.probe_latency.append(PROBE_WAIT)
                self._outcome.probes_missed += 1
            self._stop.wait(PROBE_GAP)


_RUNS = itertools.count(int(time.time()) % 100_000 * 1000)


def wrk(url: str, connections: int, seconds: float) -> Load:
    """Run wrk against `url` and return what it counted."""
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    done = subprocess.run(  # noqa: S603 -- our own fixed command
        [*argv, "-s", str(LUA), url, "--", str(next(_RUNS))],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    found = re.search(r"^BENCH (.*)$", done.stdout, re.M)
    if found is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    v = {k: int(n) for k, n in (pair.split("=") for pair in found.group(1).split())}
    return Load(
        accepted=v["accepted"],
        refused=v["refused"],
        errors=v["errors"],
        rps=v["accepted"] / (v["duration_us"] / 1e6),
        p50=v["p50_us"] / 1000,
        p99=v["p99_us"] / 1000,
    )


def measure(
    start: Callable[[], AbstractContextManager[servers.Running]],
    outcome: Outcome,
    connections: list[int],
    seconds: float,
    warmup: float,
    url_of_db: str | None,
    sim_state: object | None = None,
) -> None:
    """Start one server, load it at each connection count, check it, stop it; with a worker,
    probe event -> first Scalr call while wrk loads it."""
    with start() as running:
        acked = wrk(running.url, 16, warmup).accepted if warmup else 0
        for conns in connections:
            if running.worker is not None and sim_state is not None:
                with Probe(running.url, sim_state, outcome):
                    load = wrk(running.url, conns, seconds)
            else:
                load = wrk(running.url, conns, seconds)
            outcome.loads.setdefault(conns, []).append(load)
            acked += load.accepted
        outcome.web_rss.append(running.web_rss())
        if running.worker is not None:
            outcome.worker_rss.append(running.worker_rss() or 0.0)
    if url_of_db is None:
        return
    stored, distinct, processed = servers.count_rows(url_of_db)
    outcome.acknowledged += acked
    outcome.stored += stored
    outcome.distinct += distinct
    outcome.processed += processed
    if stored < acked:
        outcome.lost.append(f"{acked} answered 202 but {stored} stored")


def run(
    pg_url: str | None, rounds: int, connections: list[int], seconds: float, warmup: float
) -> dict[str, Outcome]:
    """Return the outcome of every server over `rounds` alternating rounds."""
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="lifeguard-ingest-") as tmp:
        workdir = Path(tmp)
        rules = workdir / "rules.yml"
        rules.write_text(rules_yaml(200, action=ACTION) + PROBE_RULE)
        config = demo_config(KEY, SECRET)
        config["timings"] = {"tick_seconds": 0}
        state = build_state(config, autotick=False)
        with SimulatorServer(state) as sim:
            scalr = {
                "SCALR_API_URL": sim.url,
                "SCALR_KEY_ID": KEY,
                "SCALR_SECRET_KEY": SECRET,
                "SCALR_ENV_ID": "3",
                # Every probe launches; the budget must not be what the probe measures.
                "REMEDIATION_BUDGET_MAX": str(10**6),
            }
            plan: list[tuple[str, str | None, bool]] = [
                ("bare Flask", None, False),
                ("webhook", None, False),
                ("SQLite", "", False),
                ("SQLite + worker", "", True),
            ]
            if pg_url:
                plan += [("PostgreSQL", pg_url, False), ("PostgreSQL + worker", pg_url, True)]
            for round_no in range(rounds):
                order = plan if round_no % 2 == 0 else plan[::-1]
                for name, base, with_worker in order:
                    outcome = outcomes.setdefault(name, Outcome())
                    print(f"  round {round_no + 1}: {name}", flush=True)
                    if base is None:
                        starter = (
                            servers.bare_flask if name == "bare Flask" else servers.adnanh_webhook
                        )
                        measure(
                            lambda s=starter: s(workdir),
                            outcome,
                            connections,
                            seconds,
                            warmup,
                            None,
                        )
                        continue
                    url, schema = servers.fresh_database(base or None, workdir, "ingest")
                    try:
                        measure(
                            functools.partial(
                                servers.lifeguard, name, url, workdir, rules, scalr, with_worker
                            ),
                            outcome,
                            connections,
                            seconds,
                            warmup,
                            url,
                            state,
                        )
                    finally:
                        if schema is not None and base:
                            servers.drop_schema(base, schema)
    return outcomes


def percentile(values: list[float], pct: float) -> float:
    """Return the `pct` percentile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    """Return the median of `values`."""
    return statistics.median(values)
