"""Keep PostgreSQL's planner statistics of Lifeguard's busiest tables current.

PostgreSQL plans a query on a table it never analyzed with default guesses: every
equality is as selective as any other, whatever the column holds. The worker's batch
reads then chose indexes that name most of the table, and each batch grew with it
(measured with auto_explain, a worker draining 6,000 stored events on tables never
analyzed, as a fresh deployment's are):

- the job claim's "has followers" test walked the jobs of the rule
  (ix_action_jobs_rule, 6,000 rows a job) instead of the jobs of the event;
- the flapping read took every recent HostDown (ix_events_name_received_at, 11,000
  rows) instead of the batch's servers.

autovacuum analyzes a table once 50 rows and a tenth of it have changed, looks every
minute, and may be turned off (it is off on the machine the benchmarks run on). A storm
fills a new deployment's tables within seconds. So one worker in the deployment
looks every STATS_CHECK_SECONDS and analyzes a table of TABLES once at least
MIN_CHANGED rows and CHANGED_SHARE of its rows have changed since its statistics
(or it has none). That is rarer than autovacuum's own rule on a large table: this
catches the fresh and the fast-growing tables, and leaves the rest to autovacuum.
Figures: a worker draining 10,000 stored HostDowns that each make a job, every job
ended after 111 s on tables never analyzed, and after 24 s with them analyzed every
two seconds.

ANALYZE reads a sample of the table and takes a lock that only VACUUM, another ANALYZE
and DDL wait for: ingest and the worker's reads and writes go on. It runs with a short
lock timeout, so an autovacuum analyzing the same table makes this one skip a turn.
SQLite is left alone: its planner assumes an index narrows a search without being
told, and its ANALYZE would take the one write lock that ingest needs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db import on_postgres

log = logging.getLogger(__name__)

# Where the worker's per-batch reads and the job claims look.
TABLES = ("events", "action_jobs", "servers", "job_attempts")
STATS_CHECK_SECONDS = 5.0  # a look is one catalog read; ANALYZE runs only when stale
MIN_CHANGED = 1000
CHANGED_SHARE = 0.5
# ANALYZE waits at most this long for the table's lock (autovacuum may hold it).
LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class TableState:
    """What pg_stat_user_tables and pg_class tell of one table."""

    name: str
    changed: int  # rows inserted, updated or deleted since its last ANALYZE
    rows: float  # the row count its statistics hold; -1 before it was ever analyzed

    @property
    def stale(self) -> bool:
        """Say whether the statistics are missing or describe too small a part of it."""
        if self.changed < MIN_CHANGED:
            return False
        return self.rows < 0 or self.changed >= CHANGED_SHARE * self.rows


def table_states(session: Session) -> list[TableState]:
    """Return the state of each of TABLES in the session's schema that the session's user
    may analyze (PostgreSQL only)."""
    rows = session.execute(
        text(
            "SELECT s.relname, s.n_mod_since_analyze, c.reltuples "
            "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.schemaname = current_schema() AND s.relname = ANY(:tables) "
            # ANALYZE skips, with a warning, a table whose owner we are not a member of:
            # leave those out, or each look would try again and log it again.
            "AND pg_has_role(c.relowner, 'USAGE') "
            "ORDER BY s.relname"
        ),
        {"tables": list(TABLES)},
    )
    return [TableState(name, int(changed or 0), float(rows)) for name, changed, rows in rows]


@dataclass
class StatsResult:
    """What one look did: the tables analyzed (with seconds), and those that waited."""

    analyzed: dict[str, float]
    skipped: list[str]

    def summary(self) -> str:
        done = ", ".join(f"{name} ({secs * 1000:.0f} ms)" for name, secs in self.analyzed.items())
        text_ = f"analyzed {done}" if done else "statistics current"
        if self.skipped:
            text_ += f"; skipped (lock held): {', '.join(self.skipped)}"
        return text_


def refresh_stale(session: Session) -> StatsResult:
    """ANALYZE each of TABLES whose statistics are stale (caller commits; PostgreSQL only).

    Each table is analyzed in a savepoint of its own: one whose lock is held past
    LOCK_TIMEOUT is skipped, and the others are still analyzed.
    """
    result = StatsResult({}, [])
    if not on_postgres(session):
        return result
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    for state in table_states(session):
        if not state.stale:
            continue
        started = time.perf_counter()
        try:
            with session.begin_nested():
                # The name comes from TABLES, never from input.
                session.execute(text(f'ANALYZE "{state.name}"'))
        except DBAPIError as exc:
            log.info("ANALYZE %s skipped: %s", state.name, exc.orig)
            result.skipped.append(state.name)
            continue
        result.analyzed[state.name] = time.perf_counter() - started
        log.info(
            "analyzed %s for the planner: %d rows changed since %s, %.0f ms",
            state.name,
            state.changed,
            "it was created" if state.rows < 0 else f"statistics of {state.rows:.0f} rows",
            result.analyzed[state.name] * 1000,
        )
    return result
