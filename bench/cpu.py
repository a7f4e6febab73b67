"""CPU time per delivery: Lifeguard (SQLite, PostgreSQL) against bare Flask, as a ratio.

Wall-clock req/s on a shared machine jumps with the neighbours' load; the CPU the server
spends on each delivery does not (much). Each server runs under the project's
gunicorn.conf.py; wrk posts unique legacy deliveries for a few seconds; the CPU time
(utime + stime, every thread) of the gunicorn master and its workers, read from
/proc/<pid>/stat before and after, is divided by the deliveries answered. A delivery
answered 202 that is not stored fails the run, as in bench/ingest.py.

`python -m bench.cpu` prints the figures; bench/run.py puts them into its table.
Knobs: BENCH_CPU_SECONDS (4), BENCH_CPU_ROUNDS (2), BENCH_CPU_CONNECTIONS (16).
"""

from __future__ import annotations

import functools
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from bench import servers
from bench.ingest import wrk

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system, all threads) process `pid` has used, in seconds."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the command name (which may hold spaces) start after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree_cpu(pid: int) -> dict[int, float]:
    """Return the CPU seconds of `pid` and of each of its direct children, by pid."""
    return {p: cpu_seconds(p) for p in [pid, *servers.children(pid)]}


@dataclass
class CpuFigures:
    """CPU per delivery of one server over the rounds, in microseconds."""

    per_delivery_us: list[float] = field(default_factory=list)
    acknowledged: int = 0
    stored: int = 0
    lost: list[str] = field(default_factory=list)


def measure(
    start: Callable[[], AbstractContextManager[servers.Running]],
    figures: CpuFigures,
    connections: int,
    seconds: float,
    db_url: str | None,
) -> None:
    """Start one server, warm it, load it, and add its CPU per delivery to `figures`."""
    with start() as running:
        acked = wrk(running.url, connections, 1).accepted  # warm-up: imports, pools, caches
        before = tree_cpu(running.process.pid)
        load = wrk(running.url, connections, seconds)
        after = tree_cpu(running.process.pid)
        acked += load.accepted
    spent = sum(after[p] - before.get(p, 0.0) for p in after)
    if load.accepted:
        figures.per_delivery_us.append(spent / load.accepted * 1e6)
    if db_url is None:
        return
    stored, _distinct, _processed = servers.count_rows(db_url)
    figures.acknowledged += acked
    figures.stored += stored
    if stored < acked:
        figures.lost.append(f"{acked} answered 202 but {stored} stored")


def run(pg_url: str | None, rounds: int, connections: int, seconds: float) -> dict[str, CpuFigures]:
    """Return the CPU figures of bare Flask and Lifeguard on each database, rounds alternating."""
    out: dict[str, CpuFigures] = {}
    plan: list[tuple[str, str | None]] = [("bare Flask", None), ("SQLite", "")]
    if pg_url:
        plan.append(("PostgreSQL", pg_url))
    with tempfile.TemporaryDirectory(prefix="lifeguard-cpu-") as tmp:
        workdir = Path(tmp)
        rules = workdir / "rules.yml"
        rules.write_text("rules: []\n")
        for round_no in range(rounds):
            for name, base in plan if round_no % 2 == 0 else plan[::-1]:
                figures = out.setdefault(name, CpuFigures())
                if base is None:
                    measure(
                        lambda: servers.bare_flask(workdir), figures, connections, seconds, None
                    )
                    continue
                url, schema = servers.fresh_database(base or None, workdir, "cpu")
                try:
                    measure(
                        functools.partial(
                            servers.lifeguard, f"cpu {name}", url, workdir, rules, {}, False
                        ),
                        figures,
                        connections,
                        seconds,
                        url,
                    )
                finally:
                    if schema is not None and base:
                        servers.drop_schema(base, schema)
    return out


def ratios(out: dict[str, CpuFigures], name: str) -> list[float]:
    """Return the per-round CPU ratios of `name` to bare Flask (each pair from one round)."""
    base = out["bare Flask"].per_delivery_us
    ours = out[name].per_delivery_us if name in out else []
    return [a / b for a, b in zip(ours, base, strict=False) if b]


def main() -> int:
    from bench.run import knob, postgres_url  # the knobs every BENCH_* setting goes through

    seconds = float(knob("BENCH_CPU_SECONDS", "4", "1"))
    rounds = int(knob("BENCH_CPU_ROUNDS", "2", "1"))
    conns = int(knob("BENCH_CPU_CONNECTIONS", "16", "16"))
    out = run(postgres_url(), rounds, conns, seconds)
    for name, f in out.items():
        values = ", ".join(f"{v:.0f}" for v in f.per_delivery_us)
        line = f"{name:12s} CPU µs/delivery: {values}"
        if name != "bare Flask":
            r = ratios(out, name)
            line += (
                f"  ÷ bare: {', '.join(f'{x:.2f}' for x in r)} (median {statistics.median(r):.2f}x)"
            )
            line += f"  202s {f.acknowledged} / stored {f.stored}"
        print(line)
    lost = [f"{n}: {p}" for n, f in out.items() for p in f.lost]
    for problem in lost:
        print(f"FAIL: acknowledged deliveries not stored: {problem}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
