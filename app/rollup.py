"""The hourly event counts (event_hours): fold new events in, take pruned ones out, read them.

The overview's 24-hour and 7-day charts count events per UTC hour and name. A GROUP BY
over a week of rows on every page view grows with the table, so the worker folds the
events into event_hours every few seconds, and a read adds the events not folded yet
(the tail: id above the watermark) with a live GROUP BY. Whatever the fold's state,
folded + tail is exactly what a live count over events gives:

- the watermark and the rows move in one transaction, and `hour_counts` reads both in
  one statement, so one snapshot, also under PostgreSQL's READ COMMITTED;
- the fold goes by id, not by time: a spool replay (an old `received_at`, a fresh id)
  is folded into its old hour;
- retention takes the folded ones among the events it deletes (id <= watermark) out of
  event_hours in the transaction that deletes them (`unfold_events`).

Why the fold does not go up to max(id): PostgreSQL hands out sequence values before
commit, so id 11 may be committed and visible while the transaction holding id 10 is
still open; a watermark moved to 11 would pass over 10 for good. So each fold records
the max(id) it sees as a candidate, and only a fold at least SETTLE_SECONDS later moves
the watermark up to that candidate. Every id up to the candidate was handed out before
the candidate was read, so it belongs to a transaction open by then, and a transaction
shorter than SETTLE_SECONDS has committed or rolled back since. The transactions that
insert events (the ingest writer's one-statement batch, a spool replay, the worker's
batch and its own events) last milliseconds to seconds; PostgreSQL ends a Lifeguard
session left idle in a transaction after 60 s and a lock wait after 10 s (app/db.py),
and SETTLE_SECONDS is twice that idle bound. The price is a tail of about two minutes
of events, which every read counts live over the primary key. SQLite would not need
the wait (a writer holds the one write lock from its id to its commit) and runs the
same code. Workers' clocks must agree to well within SETTLE_SECONDS, which NTP gives.

Waiting instead for every transaction running when the candidate was read to end
(txid_current_snapshot's xmin) would hold for transactions of any length, but that
xmin is the whole server's: one long transaction of another application on a shared
PostgreSQL would stop the fold for its duration.

SQLite reuses the highest rowid once its row is deleted, which would put a new event
below the watermark; retention keeps the newest event for that reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Select, Table, bindparam, delete, func, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import on_postgres
from app.models.event import Event
from app.models.rollup import FOLD_ROW, EventFold, EventHour
from app.queries.sqlfuncs import hour_start

log = logging.getLogger(__name__)

SETTLE_SECONDS = 120.0


@dataclass(frozen=True)
class FoldResult:
    """What one fold did: the events it added, the watermark, the candidate waiting."""

    events: int
    folded_id: int
    candidate_id: int | None

    def summary(self) -> str:
        """Return one line for the console and the log."""
        waiting = (
            f"; events up to id {self.candidate_id} fold once settled"
            if self.candidate_id is not None and self.candidate_id > self.folded_id
            else ""
        )
        return f"folded {self.events} events; event_hours counts ids <= {self.folded_id}{waiting}"


def _settled(fold: EventFold, now: datetime, settle_seconds: float) -> bool:
    """Say whether the fold may move its watermark up to its candidate now."""
    if fold.candidate_id is None or fold.candidate_id <= fold.folded_id:
        return False
    at = fold.candidate_at
    return at is not None and now - at >= timedelta(seconds=settle_seconds)


def _wants_candidate(fold: EventFold, top: int) -> bool:
    """Say whether a new candidate should be recorded: none is waiting and events are new."""
    waiting = fold.candidate_id is not None and fold.candidate_id > fold.folded_id
    return not waiting and top > fold.folded_id


def _locked_fold_row(session: Session) -> EventFold:
    """Return the watermark row, locked and read afresh; create it at 0 where it is missing.

    Migration 0007 writes the row; a schema made by create_all (the tests) has none.
    """
    fold = session.get(EventFold, FOLD_ROW, with_for_update=True, populate_existing=True)
    if fold is None:
        fold = EventFold(id=FOLD_ROW, folded_id=0)
        session.add(fold)
        session.flush()
    return fold


def _add_range(session: Session, after: int, through: int) -> None:
    """Add the events with `after` < id <= `through` to event_hours: one INSERT ... SELECT."""
    hour = hour_start(Event.received_at)
    rows = (
        select(hour, Event.name, func.count())
        .where(Event.id > after)  # a WHERE also keeps SQLite from reading ON CONFLICT as a join
        .where(Event.id <= through)
        .group_by(hour, Event.name)
    )
    insert = postgresql.insert if on_postgres(session) else sqlite.insert
    statement = insert(EventHour).from_select(["hour", "name", "events"], rows)
    statement = statement.on_conflict_do_update(
        index_elements=["hour", "name"],
        set_={"events": EventHour.events + statement.excluded.events},
    )
    session.execute(statement)


def fold_events(
    session: Session, now: datetime, settle_seconds: float = SETTLE_SECONDS
) -> FoldResult:
    """Fold the settled events above the watermark into event_hours (the caller commits).

    Cheap when there is nothing to do: two reads and no write.
    """
    top = session.scalar(select(func.max(Event.id))) or 0
    fold = session.get(EventFold, FOLD_ROW)
    if fold is not None and not (
        _wants_candidate(fold, top) or _settled(fold, now, settle_seconds)
    ):
        return FoldResult(0, fold.folded_id, fold.candidate_id)
    # The row lock orders this fold after any other fold or prune batch in flight.
    fold = _locked_fold_row(session)
    events = 0
    if _settled(fold, now, settle_seconds):
        assert fold.candidate_id is not None
        through = fold.candidate_id
        events = (
            session.scalar(
                select(func.count())
                .select_from(Event)
                .where(Event.id > fold.folded_id)
                .where(Event.id <= through)
            )
            or 0
        )
        _add_range(session, fold.folded_id, through)
        fold.folded_id = through
        fold.folded_at = now
    top = session.scalar(select(func.max(Event.id))) or 0
    if _wants_candidate(fold, top):
        fold.candidate_id = top
        fold.candidate_at = now
    session.flush()
    return FoldResult(events, fold.folded_id, fold.candidate_id)


def unfold_events(session: Session, ids: list[int]) -> None:
    """Take the folded ones among events `ids` out of event_hours, before they are deleted.

    The caller deletes the events in the same transaction, after this; the row lock
    keeps a fold from moving the watermark in between.
    """
    fold = session.get(EventFold, FOLD_ROW, with_for_update=True, populate_existing=True)
    if fold is None or not fold.folded_id or not ids:
        return
    hour = hour_start(Event.received_at)
    rows = session.execute(
        select(hour, Event.name, func.count())
        .where(Event.id.in_(ids))
        .where(Event.id <= fold.folded_id)
        .group_by(hour, Event.name)
    ).all()
    if not rows:
        return
    table = cast(Table, EventHour.__table__)
    key = (table.c.hour == bindparam("b_hour")) & (table.c.name == bindparam("b_name"))
    params = [{"b_hour": at, "b_name": name, "b_events": n} for at, name, n in rows]
    quick = {"synchronize_session": False}
    session.execute(
        update(table).where(key).values(events=table.c.events - bindparam("b_events")),
        params,
        execution_options=quick,
    )
    session.execute(
        delete(table).where(key).where(table.c.events <= 0), params, execution_options=quick
    )


def hour_counts_query(start: datetime, seen: int) -> Select[tuple[datetime, str, int]]:
    """Select (hour, name, count) from `start` on: the folded rows plus the live tail.

    `seen` is a watermark read before; the statement's own subquery decides where
    the tail begins (the watermark only grows), `seen` only shows the planner the
    primary key range it will read.
    """
    watermark = select(EventFold.folded_id).where(EventFold.id == FOLD_ROW).scalar_subquery()
    hour = hour_start(Event.received_at)
    tail = (
        select(hour.label("hour"), Event.name.label("name"), func.count().label("events"))
        # `id + 0`: a filter, not an index range, whose size the planner cannot know.
        .where(Event.id + 0 > func.coalesce(watermark, 0))
        .where(Event.received_at >= start)
        .group_by(hour, Event.name)
    )
    if seen:
        tail = tail.where(Event.id > seen)
    # else nothing was ever folded: the received_at index is the range to read
    folded = select(EventHour.hour, EventHour.name, EventHour.events).where(EventHour.hour >= start)
    both = union_all(folded, tail).subquery()
    return select(both.c.hour, both.c.name, func.sum(both.c.events)).group_by(
        both.c.hour, both.c.name
    )


def hour_counts(session: Session, since: datetime) -> dict[tuple[datetime, str], int]:
    """Count events per (UTC hour, name) from the hour holding `since` on, as a live count would.

    The folded hours plus a GROUP BY over the events above the watermark, in one
    statement: a fold or a prune committing meanwhile is seen whole or not at all.
    """
    start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    seen = session.scalar(select(EventFold.folded_id).where(EventFold.id == FOLD_ROW)) or 0
    rows = session.execute(hour_counts_query(start, seen))
    return {(at, str(name)): int(n) for at, name, n in rows}
