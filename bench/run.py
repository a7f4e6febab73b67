"""`make bench`: every measurement on SQLite and PostgreSQL, one table, docs/performance.md.

Knobs (environment): BENCH_SMOKE=1 (a tiny load, about a minute, nothing written to docs),
BENCH_DATABASE_URL (PostgreSQL; else TEST_DATABASE_URL, else the local server when it
answers), BENCH_INGEST_ROUNDS (2; smoke 1), BENCH_INGEST_SECONDS (5), BENCH_WARMUP_SECONDS (2),
BENCH_CONNECTIONS (16,64), BENCH_CPU_SECONDS (3; smoke 1) and BENCH_CPU_ROUNDS (2; smoke 1)
for CPU time per delivery (bench/cpu.py), BENCH_LATENCY_EVENTS (30), BENCH_EVENTS and BENCH_ROUNDS
(the dashboard's, see bench_dashboard.py), BENCH_PRUNE_EVENTS (50000; smoke 3000;
1000000 for the figure in docs/performance.md) and BENCH_PRUNE_WRK_SECONDS (5) for
retention (bench_prune.py), BENCH_STORM_DELIVERIES (10000), BENCH_SCALE_JOBS (40) and
BENCH_SCALE_LATENCY (0.25 s) for bench_scale.py, BENCH_OUTPUT (docs/performance.md).
Prints a second table, issue 15's targets with a verdict each (bench/targets.py).
Exits non-zero when a delivery answered 202 was not stored or a figure is missing.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

SMOKE = os.environ.get("BENCH_SMOKE", "") not in ("", "0")
if SMOKE:  # before bench_dashboard reads its knobs at import
    os.environ.setdefault("BENCH_EVENTS", "2000")
    os.environ.setdefault("BENCH_ROUNDS", "3")

from app.config import Config  # noqa: E402
from bench import (  # noqa: E402
    bench_dashboard,
    bench_matching,
    bench_prune,
    bench_scale,
    targets,
    worker_latency,
)
from bench import cpu as bench_cpu  # noqa: E402
from bench.ingest import (  # noqa: E402
    ACTION,
    Outcome,
    median,
    percentile,
)
from bench.ingest import run as run_ingest  # noqa: E402
from bench.rulesgen import rules_yaml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
MISSING = "MISSING"
Row = tuple[str, str, str, str, str, str]


def knob(name: str, default: str, smoke: str) -> str:
    """Return a BENCH_* setting, with the smoke run's own default."""
    return os.environ.get(name) or (smoke if SMOKE else default)


def postgres_url() -> str | None:
    """Return the PostgreSQL URL to use, or None when there is none."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    ready = shutil.which("pg_isready")
    if ready and subprocess.run([ready, "-h", "127.0.0.1", "-q"], check=False).returncode == 0:  # noqa: S603
        return DEFAULT_PG
    return None


def machine() -> str:
    """Return one line naming this machine: cores, CPU model, memory."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // 1024
    return f"{os.cpu_count()} cores (nproc), {model}, {mem:,} MiB memory, {platform.platform()}"


def fmt(value: float | None, digits: int = 0) -> str:
    """Return `value` with thousands separators, or MISSING."""
    if value is None:
        return MISSING
    return f"{value:,.{digits}f}"


def spread(values: list[float], digits: int = 0) -> str:
    """Return the median of `values` and their range across rounds."""
    if not values:
        return MISSING
    if len(values) == 1:
        return fmt(values[0], digits)
    return f"{fmt(median(values), digits)} ({fmt(min(values), digits)}-{fmt(max(values), digits)})"


def ratio_value(ours: list[float], base: list[float]) -> float | None:
    """Return the median over rounds of ours ÷ baseline, each pair measured in one round."""
    pairs = [a / b for a, b in zip(ours, base, strict=False) if b]
    return median(pairs) if pairs else None


def ratio(ours: list[float], base: list[float]) -> str:
    """Return `ratio_value` as a table cell."""
    value = ratio_value(ours, base)
    return MISSING if value is None else f"{value:.2f}x"


def ingest_checks(out: dict[str, Outcome], conns: list[int], checks: list[targets.Check]) -> None:
    """Add issue 15's ingest targets: throughput and p99 against bare Flask and webhook,
    with and without the worker, event -> first Scalr call under the load, memory."""

    def series(name: str, c: int, attr: str) -> list[float]:
        o = out.get(name)
        return [getattr(load, attr) for load in o.loads.get(c, [])] if o else []

    for db, floor in (("SQLite", 0.75), ("PostgreSQL", 0.5)):
        if db not in out:
            continue
        for baseline, least in (("bare Flask", floor), ("webhook", 3.0)):
            for c in conns:
                checks.append(
                    targets.Check(
                        f"ingest req/s ÷ {baseline}, {c} conns",
                        db,
                        ratio_value(series(db, c, "rps"), series(baseline, c, "rps")),
                        least,
                        False,
                        "x",
                    )
                )
        checks.append(
            targets.Check(
                f"ingest p99 ÷ bare Flask p99, {conns[0]} conns",
                db,
                ratio_value(series(db, conns[0], "p99"), series("bare Flask", conns[0], "p99")),
                2.0,
                True,
                "x",
            )
        )
        for c in conns:
            checks.append(
                targets.Check(
                    f"ingest req/s ÷ bare Flask, {c} conns, worker matching every event",
                    db,
                    ratio_value(series(db + " + worker", c, "rps"), series("bare Flask", c, "rps")),
                    0.5,
                    False,
                    "x",
                )
            )
        probed = out.get(db + " + worker")
        samples = probed.probe_latency if probed else []
        for pct, limit in ((50, 50.0), (99, 250.0)):
            checks.append(
                targets.Check(
                    f"event → first Scalr call p{pct}, web under the ingest load",
                    db,
                    percentile(samples, pct) * 1000 if samples else None,
                    limit,
                    True,
                    "ms",
                    f"{len(samples)} probes" if samples else "",
                )
            )
        for name, attr, what in (
            (db, "web_rss", "web worker"),
            (db + " + worker", "worker_rss", "worker process"),
        ):
            o = out.get(name)
            values = getattr(o, attr) if o else []
            if len(values) >= 2 and values[0]:
                checks.append(
                    targets.Check(
                        f"RSS of the {what}, last round ÷ first (no growth)",
                        db,
                        values[-1] / values[0],
                        1.1,
                        True,
                        "x",
                    )
                )


def probe_cell(o: Outcome | None) -> str:
    """Return p50 / p99 ms of the probes of one server (and how many never launched)."""
    if o is None:
        return "skipped"
    if not o.probe_latency:
        return MISSING
    p50, p99 = (percentile(o.probe_latency, q) * 1000 for q in (50, 99))
    missed = f", {o.probes_missed} not launched within 10 s" if o.probes_missed else ""
    return f"{fmt(p50, 1)} / {fmt(p99, 1)} ({len(o.probe_latency)} probes{missed})"


def ingest_rows(out: dict[str, Outcome], conns: list[int], pg: bool) -> list[Row]:
    """Return the table rows of the ingest runs."""
    rows: list[Row] = []
    bare, hook = out["bare Flask"], out["webhook"]

    def series(name: str, c: int, attr: str) -> list[float]:
        o = out.get(name)
        return [getattr(load, attr) for load in o.loads.get(c, [])] if o else []

    for suffix, label in (("", ""), (" + worker", ", worker running")):
        for c in conns:
            for attr, what, digits in (("rps", "req/s", 0), ("p99", "p99 ms", 1)):
                sq, pq = series("SQLite" + suffix, c, attr), series("PostgreSQL" + suffix, c, attr)
                b = series("bare Flask", c, attr)
                rows.append(
                    (
                        f"ingest {what}, {c} conns{label}",
                        spread(sq, digits),
                        spread(pq, digits) if pg else "skipped",
                        f"bare Flask {spread(b, digits)}",
                        ratio(sq, b),
                        ratio(pq, b) if pg else "",
                    )
                )
    for c in conns:
        sq, pq, w = (
            series("SQLite", c, "rps"),
            series("PostgreSQL", c, "rps"),
            series("webhook", c, "rps"),
        )
        rows.append(
            (
                f"ingest req/s, {c} conns, vs webhook",
                spread(sq),
                spread(pq) if pg else "skipped",
                f"webhook {spread(w)}",
                ratio(sq, w),
                ratio(pq, w) if pg else "",
            )
        )
    for c in conns:
        b, w = series("bare Flask", c, "rps"), series("webhook", c, "rps")
        rows.append(
            (
                f"bare Flask req/s ÷ webhook, {c} conns (what any Flask app can reach of 3x webhook)",
                "same",
                "same",
                f"bare Flask {spread(b)}, webhook {spread(w)}",
                ratio(b, w),
                "",
            )
        )
    del bare, hook
    for suffix in ("", " + worker"):
        cells = []
        for name in ("SQLite" + suffix, "PostgreSQL" + suffix):
            o = out.get(name)
            if o is None:
                cells.append("skipped")
                continue
            state = "LOST" if o.lost else "ok"
            distinct = "" if o.distinct == o.stored else f", only {o.distinct:,} distinct"
            cells.append(f"{o.acknowledged:,} / {o.stored:,}{distinct} {state}")
        rows.append(
            (f"202s answered / rows stored{suffix.replace(' + ', ', ')}", *cells, "—", "", "")
        )
    cells = []
    for name in ("SQLite + worker", "PostgreSQL + worker"):
        o = out.get(name)
        cells.append(f"{o.processed:,} of {o.stored:,}" if o else "skipped")
    rows.append(("events matched by the worker by the end of the load", *cells, "—", "", ""))
    rows.append(
        (
            "event → first Scalr call p50 / p99 ms, web under the ingest load, worker running",
            probe_cell(out.get("SQLite + worker")),
            probe_cell(out.get("PostgreSQL + worker")) if pg else "skipped",
            "target 50 / 250",
            "",
            "",
        )
    )
    for name, attr, label in (
        ("", "web_rss", "RSS of a web worker, MiB, by round"),
        (" + worker", "web_rss", "RSS of a web worker (worker running), MiB"),
        (" + worker", "worker_rss", "RSS of the worker process, MiB, by round"),
    ):
        cells = []
        for db in ("SQLite", "PostgreSQL"):
            o = out.get(db + name)
            values = getattr(o, attr) if o else []
            cells.append(
                " → ".join(fmt(v) for v in values)
                if values
                else ("skipped" if o is None else MISSING)
            )
        rows.append(
            (
                label,
                *cells,
                "—"
                if attr == "worker_rss"
                else "bare Flask " + " → ".join(fmt(v) for v in out["bare Flask"].web_rss),
                "",
                "",
            )
        )
    return rows


def cpu_rows(out: dict[str, bench_cpu.CpuFigures], conns: int, pg: bool) -> list[Row]:
    """Return the CPU-per-delivery row: Lifeguard on each database ÷ bare Flask, per round."""

    def cell(name: str) -> str:
        figures = out.get(name)
        return spread(figures.per_delivery_us) if figures else "skipped"

    def times(name: str) -> str:
        values = bench_cpu.ratios(out, name)
        return f"{median(values):.2f}x" if values else MISSING

    rows: list[Row] = [
        (
            f"ingest CPU µs per delivery, {conns} conns (gunicorn master + workers)",
            cell("SQLite"),
            cell("PostgreSQL") if pg else "skipped",
            f"bare Flask {cell('bare Flask')}",
            times("SQLite"),
            times("PostgreSQL") if pg else "",
        )
    ]
    cells = []
    for name in ("SQLite", "PostgreSQL"):
        f = out.get(name)
        cells.append(
            f"{f.acknowledged:,} / {f.stored:,} {'LOST' if f.lost else 'ok'}" if f else "skipped"
        )
    rows.append(("202s answered / rows stored, CPU runs", cells[0], cells[1], "—", "", ""))
    return rows


def latency_rows(pg_url: str | None, events: int) -> list[Row]:
    """Return the event → first Scalr call rows (woken worker vs a 0.5 s poll)."""
    found: dict[str, tuple[list[float], list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="lifeguard-latency-") as tmp:
        workdir = Path(tmp)
        for label, base in (("SQLite", None), ("PostgreSQL", pg_url)):
            if label == "PostgreSQL" and not pg_url:
                continue
            results = []
            for wake in (True, False):
                url, schema = worker_latency_db(base, workdir, label, wake)
                try:
                    results.append(worker_latency.run(url, events, wake, workdir))
                finally:
                    if schema and base:
                        from bench.servers import drop_schema

                        drop_schema(base, schema)
            found[label] = (results[0], results[1])
    rows: list[Row] = []
    for pct in (50, 99):
        cells, ratios = [], []
        base_cells = []
        for label in ("SQLite", "PostgreSQL"):
            if label not in found:
                cells.append("skipped")
                ratios.append("")
                continue
            woken, polled = found[label]
            w, p = (
                worker_latency.percentile(woken, pct) * 1000,
                worker_latency.percentile(polled, pct) * 1000,
            )
            cells.append(fmt(w, 1))
            base_cells.append(f"{label} {fmt(p, 1)}")
            ratios.append(f"{w / p:.2f}x" if p else MISSING)
        rows.append(
            (
                f"event → first Scalr call p{pct} ms, worker woken",
                *cells,
                "0.5 s poll: " + ", ".join(base_cells),
                *ratios,
            )
        )
    return rows


def worker_latency_db(
    base: str | None, workdir: Path, label: str, wake: bool
) -> tuple[str, str | None]:
    """Return a fresh migrated database for one latency run."""
    from bench.servers import fresh_database

    return fresh_database(base, workdir, f"latency-{label}-{wake}")


def matching_rows(seconds: float, checks: list[targets.Check]) -> list[Row]:
    """Return the rule matching rows (no database: the same code on both)."""
    rows: list[Row] = []
    stored: dict[int, int] = {}
    for count, keyed in ((1000, True), (10000, True), (1000, False)):
        f = bench_matching.measure(count, seconds, keyed)
        if keyed:
            stored[count] = f.stored_bytes
            checks.append(
                targets.Check(
                    f"matching_rules per event, {count:,} rules",
                    "both (no database)",
                    f.matching_ms,
                    0.2 if count == 1000 else 1.0,
                    True,
                    "ms",
                )
            )
        shape = "" if keyed else ", no equality to index on"
        rows.append(
            (
                f"matching_rules ms/event, {count:,} rules{shape}",
                f"{f.matching_ms:.4f} (no database)",
                "same",
                f"index lookup + one look per rule {f.baseline_ms:.4f}",
                f"{f.matching_ms / f.baseline_ms:.2f}x",
                "",
            )
        )
        if keyed:
            rows.append(
                (
                    f"explain_all ms/event, {count:,} rules (event page)",
                    f"{f.explain_ms:.2f}",
                    "same",
                    "—",
                    "",
                    "",
                )
            )
            rows.append(
                (
                    f"bytes stored on the event, {count:,} rules",
                    f"{f.stored_bytes:,} ({f.matched} matched)",
                    "same",
                    "—",
                    "",
                    "",
                )
            )
    checks.append(
        targets.Check(
            "bytes stored on an event, 10,000 rules ÷ 1,000 rules (bounded by matches, not rules)",
            "both (no database)",
            stored[10000] / stored[1000] if stored.get(1000) else None,
            2.0,
            True,
            "x",
        )
    )
    return rows


def dashboard_rows(pg_url: str | None, checks: list[targets.Check]) -> list[Row]:
    """Return the dashboard page rows (p50 over the seeded events table, vs /healthz)."""
    results: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="lifeguard-bench-") as tmp:
        results["SQLite"] = bench_dashboard.run("SQLite", f"sqlite:///{tmp}/bench.db")
    if pg_url:
        bench_dashboard.with_schema(
            pg_url,
            lambda url: results.__setitem__("PostgreSQL", bench_dashboard.run("PostgreSQL", url)),
        )
    rows: list[Row] = []
    pages = (
        "events, first page",
        "events, name=HostDown",
        "events, farm=1401",
        "events, server",
        "events, text search",
        "events, page 100 deep",
        "overview",
    )
    for page in pages:
        cells, ratios, base = [], [], []
        for label in ("SQLite", "PostgreSQL"):
            r = results.get(label)
            if r is None:
                cells.append("skipped")
                ratios.append("")
                continue
            p50, p99 = r[page]
            h = r["/healthz (baseline)"][0]
            n = bench_dashboard.N_EVENTS
            checks.append(
                targets.Check(
                    f"dashboard {page} p50",
                    label,
                    p50,
                    150.0,
                    True,
                    "ms",
                    f"{n:,} events" + ("" if n >= 1_000_000 else "; the target is at 1,000,000"),
                )
            )
            cells.append(f"{p50:.1f} (p99 {p99:.1f})")
            base.append(f"{h:.1f}")
            ratios.append(f"{p50 / h:.0f}x")
        rows.append(
            (
                f"dashboard {page} p50 ms, {bench_dashboard.N_EVENTS:,} events",
                *cells,
                "/healthz " + " / ".join(base),
                *ratios,
            )
        )
    return rows


def prune_rows(pg_url: str | None, events: int, seconds: float) -> tuple[list[Row], list[str]]:
    """Return the retention rows (prune under ingest) and any loss found."""
    from bench.servers import drop_schema, fresh_database

    found: dict[str, bench_prune.PruneFigures] = {}
    with tempfile.TemporaryDirectory(prefix="lifeguard-prune-") as tmp:
        workdir = Path(tmp)
        rules = workdir / "rules.yml"
        rules.write_text("rules: []\n")
        for label, base in (("SQLite", None), ("PostgreSQL", pg_url)):
            if label == "PostgreSQL" and not pg_url:
                continue
            url, schema = fresh_database(base, workdir, f"prune-{label}")
            try:
                found[label] = bench_prune.run(label, url, workdir, rules, {}, events, seconds)
            finally:
                if schema and base:
                    drop_schema(base, schema)

    def cells(value) -> list[str]:  # type: ignore[no-untyped-def]
        return [value(found[db]) if db in found else "skipped" for db in ("SQLite", "PostgreSQL")]

    def ratios(value) -> list[str]:  # type: ignore[no-untyped-def]
        return [
            f"{value(found[db]):.2f}x" if db in found else "" for db in ("SQLite", "PostgreSQL")
        ]

    rows: list[Row] = [
        (
            f"prune {events:,} old events while ingest runs: events deleted/s (total s)",
            *cells(lambda f: f"{fmt(f.rate)} ({f.prune_seconds:.0f} s)"),
            "—",
            "",
            "",
        ),
        (
            "ingest req/s, 16 conns, during the prune",
            *cells(lambda f: fmt(f.during_rps)),
            "same server before the prune: "
            + ", ".join(f"{db} {fmt(f.baseline.rps)}" for db, f in found.items()),
            *ratios(lambda f: f.during_rps / f.baseline.rps if f.baseline.rps else 0.0),
        ),
        (
            "ingest p99 ms, 16 conns, during the prune (worst run)",
            *cells(lambda f: fmt(f.during_p99, 1)),
            "before: " + ", ".join(f"{db} {fmt(f.baseline.p99, 1)}" for db, f in found.items()),
            *ratios(lambda f: f.during_p99 / f.baseline.p99 if f.baseline.p99 else 0.0),
        ),
        (
            "after the prune: old events left; new rows stored / 202s answered",
            *cells(
                lambda f: f"{f.old_left:,}; {f.stored:,} / {f.acknowledged:,} "
                + ("WRONG" if f.wrong else "ok")
            ),
            "—",
            "",
            "",
        ),
    ]
    lost = [
        f"prune {db}: {f.old_left} old events left, {f.stored} stored of {f.acknowledged} 202s"
        for db, f in found.items()
        if f.wrong
    ]
    return rows, lost


def scale_rows(
    pg_url: str | None,
    deliveries: int,
    jobs: int,
    latency: float,
    checks: list[targets.Check],
    web_cpu: dict[str, float],
) -> tuple[list[Row], list[str]]:
    """Return the PostgreSQL scale rows (a storm, several workers) and what went wrong.

    `web_cpu` is the web process's CPU µs per delivery on each database, from this run.
    """
    if not pg_url:
        return [("storm and worker scaling", "PostgreSQL only", "skipped", "", "", "")], []
    storm = bench_scale.storm(pg_url, deliveries, False, 60)
    trickle = bench_scale.storm(pg_url, max(60, deliveries // 100), True, 120)
    one = bench_scale.scale(pg_url, 1, jobs, latency)
    three = bench_scale.scale(pg_url, 3, jobs, latency)
    # One worker's own loop draining a stored backlog: the storm's matching rate on each
    # database, without the web process beside it.
    backlog = max(100, deliveries // 10)
    drained = {db: bench_scale.matching(url, backlog) for db, url in (("s", None), ("p", pg_url))}
    # The same loop on events like the ingest load's (a server not in the inventory) against
    # its 200-rule file, which none matches: what keeping up with ingest costs the worker.
    plain = rules_yaml(200, action=ACTION)
    unmatched = {
        db: bench_scale.matching(url, backlog, rules_text=plain)
        for db, url in (("s", None), ("p", pg_url))
    }

    def worker_cpu(db: str, web: str) -> str:
        delivery = web_cpu.get(web)
        return f"{unmatched[db].cpu_per_event_us / delivery:.2f}x" if delivery else ""

    def drain(f: bench_scale.MatchFigures) -> str:
        per_event = f.match_statements / f.events if f.events else 0.0
        return f"{f.rate:,.0f} ({per_event:.1f} statements an event)"

    def outcome(f: bench_scale.StormFigures) -> str:
        breaker = "breaker open" if f.breaker_open else "breaker closed"
        return f"{f.launches} launches, {breaker}; jobs: {bench_scale.summary(f.statuses)}"

    rows: list[Row] = [
        (
            f"storm: {deliveries:,} HostDown posted, s (202s / rows stored)",
            "PostgreSQL only",
            f"{storm.post_seconds:.1f} ({storm.acknowledged:,} / {storm.stored:,})",
            "—",
            "",
            "",
        ),
        (
            "storm: every event matched, s after the first post",
            "PostgreSQL only",
            fmt(storm.match_seconds, 1)
            if storm.match_seconds is not None
            else f"NOT within 60 s: {storm.matched:,} of {storm.stored:,} matched",
            "target 60 s",
            "",
            f"{storm.match_seconds / 60:.2f}x" if storm.match_seconds is not None else "",
        ),
        (
            "storm: every job ended too (each settled by the guards), s after the first post",
            "PostgreSQL only",
            f"{storm.settle_seconds:.1f}"
            + (
                ""
                if storm.settled
                else ": NOT within 60 s; jobs " + bench_scale.summary(storm.statuses)
            ),
            "—",
            "",
            "",
        ),
        (
            "storm: budget and breaker (vs a trickle of the same rule)",
            "PostgreSQL only",
            outcome(storm),
            f"trickle of {trickle.deliveries}: {outcome(trickle)}",
            "",
            "same" if storm.launches == trickle.launches else "DIFFERENT",
        ),
        (
            f"worker draining {backlog:,} stored HostDown: events matched/s (statements)",
            drain(drained["s"]),
            drain(drained["p"]),
            "storm target: 10,000 in 60 s = 167/s",
            f"{drained['s'].rate / 167:.2f}x",
            f"{drained['p'].rate / 167:.2f}x",
        ),
        (
            f"worker CPU µs an event, draining {backlog:,} stored HostDown that match none of "
            "the ingest run's 200 rules",
            f"{unmatched['s'].cpu_per_event_us:.0f} ({unmatched['s'].rate:,.0f}/s)",
            f"{unmatched['p'].cpu_per_event_us:.0f} ({unmatched['p'].rate:,.0f}/s)",
            "the web's CPU µs per delivery, this run: "
            + ", ".join(f"{k} {v:.0f}" for k, v in web_cpu.items()),
            worker_cpu("s", "SQLite"),
            worker_cpu("p", "PostgreSQL"),
        ),
        (
            f"job throughput, jobs/s, {jobs} launches answered in {latency:g} s, 3 workers",
            "PostgreSQL only",
            f"{three.rate:.1f} ({three.launches} calls for {three.jobs} jobs)",
            f"1 worker {one.rate:.1f} ({one.launches} calls)",
            "",
            f"{three.rate / one.rate:.2f}x" if one.rate else MISSING,
        ),
    ]
    same = (storm.launches, storm.breaker_open) == (trickle.launches, trickle.breaker_open)
    checks += [
        targets.Check(
            f"storm: {deliveries:,} HostDown posted, every one stored and matched",
            "PostgreSQL",
            # Not all matched: the time it was given, so the verdict says missed.
            storm.match_seconds if storm.match_seconds is not None else storm.settle_seconds,
            60.0,
            True,
            "s",
            "" if storm.match_seconds is not None else f"{storm.matched:,} matched in 60 s",
        ),
        targets.Check(
            f"storm: {deliveries:,} HostDown posted within 10 s",
            "PostgreSQL",
            storm.post_seconds,
            10.0,
            True,
            "s",
            f"{storm.acknowledged:,} answered 202",
        ),
        targets.Check(
            "storm: launches and breaker differ from a trickle's",
            "PostgreSQL",
            0.0 if same else 1.0,
            0.0,
            True,
            "",
            f"{storm.launches} vs {trickle.launches} launches",
        ),
        targets.Check(
            "job throughput, 3 workers ÷ 1 worker",
            "PostgreSQL",
            three.rate / one.rate if one.rate else None,
            2.5,
            False,
            "x",
        ),
    ]
    wrong = []
    if storm.stored < storm.acknowledged:
        wrong.append(f"storm: {storm.acknowledged} answered 202 but {storm.stored} stored")
    # Every backlog event asks for a launch: the default budget allows that many, no more.
    budget = min(backlog, Config.from_env({}).budget_max)
    for m in drained.values():
        if m.launches != budget:
            wrong.append(f"backlog on {m.database}: {m.launches} launches for a budget of {budget}")
    for f in (one, three):
        if f.launches != f.jobs:
            wrong.append(f"{f.workers} workers: {f.launches} launches for {f.jobs} jobs")
    return rows, wrong


def table(rows: list[Row]) -> str:
    """Return `rows` as one Markdown table."""
    head = (
        "measurement",
        "SQLite",
        "PostgreSQL",
        "baseline, same run",
        "SQLite ÷ baseline",
        "PostgreSQL ÷ baseline",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    started = time.monotonic()
    pg_url = postgres_url()
    conns = [int(c) for c in knob("BENCH_CONNECTIONS", "16,64", "16,64").split(",")]
    rounds = int(knob("BENCH_INGEST_ROUNDS", "2", "1"))
    seconds = float(knob("BENCH_INGEST_SECONDS", "5", "1"))
    warmup = float(knob("BENCH_WARMUP_SECONDS", "2", "0"))
    events = int(knob("BENCH_LATENCY_EVENTS", "30", "5"))
    print(f"bench on {machine()}; PostgreSQL: {'yes' if pg_url else 'skipped'}; smoke: {SMOKE}")
    checks: list[targets.Check] = []
    print("rule matching")
    rows = matching_rows(float(knob("BENCH_MATCHING_SECONDS", "1", "0.1")), checks)
    print("ingest under wrk")
    outcomes = run_ingest(pg_url, rounds, conns, seconds, warmup)
    ingest_first: list[targets.Check] = []
    ingest_checks(outcomes, conns, ingest_first)
    checks[:0] = ingest_first
    rows = ingest_rows(outcomes, conns, pg_url is not None) + rows
    print("ingest CPU time per delivery")
    cpu_conns = conns[0]
    cpu = bench_cpu.run(
        pg_url,
        int(knob("BENCH_CPU_ROUNDS", "2", "1")),
        cpu_conns,
        float(knob("BENCH_CPU_SECONDS", "3", "1")),
    )
    rows = cpu_rows(cpu, cpu_conns, pg_url is not None) + rows
    print("event → first Scalr call")
    rows += latency_rows(pg_url, events)
    print("dashboard")
    rows += dashboard_rows(pg_url, checks)
    print("retention: prune under ingest")
    more, prune_lost = prune_rows(
        pg_url,
        int(knob("BENCH_PRUNE_EVENTS", "50000", "3000")),
        float(knob("BENCH_PRUNE_WRK_SECONDS", "5", "1")),
    )
    rows += more
    print("scale: a storm and three workers (PostgreSQL)")
    more, scale_wrong = scale_rows(
        pg_url,
        int(knob("BENCH_STORM_DELIVERIES", "10000", "300")),
        int(knob("BENCH_SCALE_JOBS", "40", "9")),
        float(knob("BENCH_SCALE_LATENCY", "0.25", "0.05")),
        checks,
        {
            n: median(f.per_delivery_us)
            for n, f in cpu.items()
            if f.per_delivery_us and n != "bare Flask"
        },
    )
    rows += more
    elapsed = time.monotonic() - started
    text = table(rows) + "\n\n## Targets, checked by this run\n\n" + targets.table(checks)
    print()
    print(text)
    print(f"\n{'smoke ' if SMOKE else ''}bench took {elapsed:.0f} s")
    lost = (
        [f"{name}: {p}" for name, o in outcomes.items() for p in o.lost] + prune_lost + scale_wrong
    )
    lost += [f"{name} (CPU run): {p}" for name, f in cpu.items() for p in f.lost]
    missing = [row[0] for row in rows if any(MISSING in cell for cell in row)]
    if not SMOKE or os.environ.get("BENCH_OUTPUT"):
        output = Path(os.environ.get("BENCH_OUTPUT") or ROOT / "docs" / "performance.md")
        output.write_text(document(text, elapsed, rounds, seconds, conns))
        print(f"written to {output}")
    for problem in lost:
        print(f"FAIL: acknowledged deliveries not stored: {problem}")
    for name in missing:
        print(f"FAIL: figure not produced: {name}")
    return 1 if lost or missing else 0


def document(text: str, elapsed: float, rounds: int, seconds: float, conns: list[int]) -> str:
    """Return docs/performance.md: how it was measured, on what, and the table."""
    notes = (ROOT / "bench" / "performance-notes.md").read_text()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "# Performance\n\n"
        "Written by `make bench` (bench/run.py); do not edit the table by hand.\n\n"
        f"- Machine: {machine()}\n"
        f"- Date: {when}; the whole run took {elapsed:.0f} s\n"
        f"- Ingest: wrk, 2 threads, {', '.join(map(str, conns))} connections, {seconds:g} s per run "
        f"after a warm-up, {rounds} rounds with the servers' order reversed every other round; "
        "the project's gunicorn.conf.py for Lifeguard and for bare Flask (bench/bare.py); "
        "a unique legacy `OnHostDown` form post per request (bench/ingest.lua). "
        "Figures are the median of the rounds (range in brackets); a ratio is the median of "
        "the per-round ratios, both sides measured in the same round.\n"
        "- CPU per delivery (bench/cpu.py): the CPU time (utime + stime, all threads, from "
        "/proc) the gunicorn master and workers spent during a wrk run ÷ the 202s answered; "
        "both sides in the same round. It holds better than req/s on a shared machine.\n"
        "- The machine is shared: absolute figures are noisy, the ratios less so.\n\n"
        f"{text}\n\n{notes}"
    )


if __name__ == "__main__":
    sys.exit(main())
