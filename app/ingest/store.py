"""Turn read deliveries into committed event rows: normalise, scrub, insert, commit.

No Flask and no HTTP: a delivery that cannot become an event raises `MissingEvent` or
one of `app.ingest.parsing`'s errors; `app.ingest.routes` gives it its answer.
"""

from __future__ import annotations

import collections
import functools
import logging
import os
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, TextClause, bindparam, select, text
from sqlalchemy.orm import Session

from app.db import utcnow
from app.ingest import wire
from app.ingest.parsing import (
    InvalidEventName,
    InvalidPayload,
    normalise_event_name,
    parse_int_hint,
    parse_message,
    parse_webhook,
)
from app.jobs.notify import EVENTS_CHANNEL, notify
from app.logging_setup import current_context
from app.metrics import EVENTS_RECEIVED, event_label
from app.models.event import SOURCE_OBSERVER, SOURCE_WEBHOOK, Event
from app.redaction import REDACTED

log = logging.getLogger(__name__)

# Headers worth keeping with the raw delivery; everything else is dropped.
KEPT_HEADERS = (
    "Content-Type",
    "Content-Length",
    "User-Agent",
    "Date",
    "X-Scalr-Webhook-Id",
    "X-Forwarded-For",
)
SECRET_QUERY_KEYS = ("token",)
# The columns that hold text from the delivery (PostgreSQL cannot store NUL in them).
SCRUBBED_COLUMNS = ("message", "raw", "data", "server_id", "role_name", "external_id")


class MissingEvent(ValueError):
    """An observer delivery without an `event` field."""


def redacted_query(query: dict[str, list[str]]) -> dict[str, list[str]]:
    """Return the query fields with credential values replaced."""
    return {
        k: ([REDACTED] * len(v) if k.lower() in SECRET_QUERY_KEYS else v) for k, v in query.items()
    }


def raw_record(delivery: wire.Delivery, query: dict[str, list[str]], body: Any) -> dict[str, Any]:
    """Describe the delivery for storage, with secrets redacted."""
    headers = {k: v for k, v in delivery.headers.items() if k in KEPT_HEADERS}
    if "Authorization" in delivery.headers:
        headers["Authorization"] = REDACTED
    record = {
        "method": delivery.method,
        "path": delivery.path,
        "query": redacted_query(query),
        "headers": headers,
        "body": body,
    }
    # The id of this request's log lines: the worker puts it on the lines of the event's jobs.
    request_id = current_context().get("request_id")
    if request_id:
        record["request_id"] = request_id
    return record


def new_ingest_key() -> str:
    """Return a key no other delivery has: time-ordered, so the unique index grows at its end."""
    global _key_seq
    with _key_lock:
        _key_seq += 1
        seq = _key_seq
        if _key_pid[0] != os.getpid():  # a forked child must not repeat its parent's keys
            _key_pid[0] = os.getpid()
            _key_boot[0] = secrets.token_hex(4)
    return f"{int(time.time() * 1000):011x}{os.getpid():06x}{_key_boot[0]}{seq:08x}"


_key_lock = threading.Lock()
_key_seq = 0
_key_pid = [os.getpid()]
_key_boot = [secrets.token_hex(4)]


def observer_row(delivery: wire.Delivery) -> dict[str, Any]:
    """Read and normalise a legacy RESTEventObserver delivery into a scrubbed event row."""
    fields = wire.read_observer(delivery)
    if fields.event is None or fields.event.strip() == "":
        raise MissingEvent("The field `event` is required (e.g. event=OnHostDown).")
    name = normalise_event_name(fields.event)
    message = (fields.message or "").strip()
    hints = {key: parse_int_hint(key, value) for key, value in fields.hints.items()}
    parsed = parse_message(name, message)
    body_for_record = delivery.body.decode("utf-8") if delivery.body else ""
    return scrubbed_row(
        name=name,
        message=message,
        server_id=parsed.server_id,
        public_ip=parsed.public_ip,
        internal_ip=parsed.internal_ip,
        new_ip=parsed.new_ip,
        # What the text says about the event wins over what an admin typed into the URL.
        farm_id=parsed.farm_id if parsed.farm_id is not None else hints["farm_id"],
        farm_role_id=parsed.farm_role_id
        if parsed.farm_role_id is not None
        else hints["farm_role_id"],
        role_name=parsed.role_name,
        env_id=parsed.env_id if parsed.env_id is not None else hints["env_id"],
        source=SOURCE_OBSERVER,
        data={},
        raw=raw_record(delivery, delivery.parsed_query(), body_for_record),
        remote_addr=delivery.remote_addr,
        external_id=None,
    )


def webhook_row(delivery: wire.Delivery, keep_user_variables: bool) -> dict[str, Any]:
    """Read and normalise a 5.x webhook (its signature checked already) into a scrubbed row."""
    payload = wire.read_webhook(delivery)
    try:
        parsed = parse_webhook(payload, keep_user_variables=keep_user_variables)
    except InvalidEventName as exc:
        raise InvalidPayload(str(exc)) from None
    stored_body = dict(payload)
    stored_body["data"] = parsed.data
    if stored_body.get("userData") and not keep_user_variables:
        # userData is the admin's template with {VARS} substituted: it may carry secrets.
        stored_body["userData"] = REDACTED
    if parsed.dropped_variables:
        stored_body["dropped_variables"] = parsed.dropped_variables
    f = parsed.fields
    return scrubbed_row(
        name=parsed.event_name,
        message=parsed.message,
        server_id=f.server_id,
        public_ip=f.public_ip,
        internal_ip=f.internal_ip,
        new_ip=f.new_ip,
        farm_id=f.farm_id,
        farm_role_id=f.farm_role_id,
        role_name=f.role_name,
        env_id=f.env_id,
        source=SOURCE_WEBHOOK,
        data=parsed.data,
        raw=raw_record(delivery, delivery.parsed_query(), stored_body),
        remote_addr=delivery.remote_addr,
        external_id=parsed.event_id,
    )


def scrubbed_row(**values: Any) -> dict[str, Any]:
    """Complete an event row (arrival time, ingest key) and scrub its delivery text."""
    for column in SCRUBBED_COLUMNS:
        values[column] = scrub(values[column])
    values["enriched_fields"] = []
    values["evaluations"] = []
    values["received_at"] = utcnow()
    values["ingest_key"] = new_ingest_key()
    return values


def receive_observer(session: Session, delivery: wire.Delivery) -> Event:
    """Validate, normalise and commit a legacy RESTEventObserver delivery."""
    row = observer_row(delivery)
    return _as_event(row, commit_rows(session, [row])[0])


def receive_webhook(
    session: Session, delivery: wire.Delivery, keep_user_variables: bool
) -> tuple[Event, bool]:
    """Normalise and commit a verified 5.x webhook; return (event, was_duplicate)."""
    row = webhook_row(delivery, keep_user_variables)
    stored = commit_rows(session, [row])[0]
    if stored.duplicate:
        existing = session.get(Event, stored.id)
        assert existing is not None
        return existing, True
    return _as_event(row, stored), False


def _as_event(row: dict[str, Any], stored: Stored) -> Event:
    return Event(id=stored.id, **row)


def scrub(value: Any) -> Any:
    """Replace NUL characters, which PostgreSQL text and JSONB cannot hold, with U+2400 (␀)."""
    if isinstance(value, dict | list) and "\\x00" not in repr(value):
        # repr writes every NUL of every string inside as \x00 (in C, at once), so a
        # container without that text holds no NUL: nothing to rebuild. With it (a NUL, or
        # a literal backslash-x00), the walk below does the exact work.
        return value
    if isinstance(value, str):
        return value.replace("\x00", "\u2400")
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


# What ingest writes of an event (the matcher fills the rest later).
INSERT_COLUMNS = (
    "name",
    "message",
    "server_id",
    "public_ip",
    "internal_ip",
    "new_ip",
    "farm_id",
    "farm_role_id",
    "role_name",
    "env_id",
    "source",
    "received_at",
    "data",
    "enriched_fields",
    "evaluations",
    "raw",
    "remote_addr",
    "external_id",
    "ingest_key",
)


def insert_sql(rows: int, returning: bool = True) -> str:
    """Return `INSERT ... VALUES (..) x rows ON CONFLICT DO NOTHING RETURNING id, ingest_key`
    (without the RETURNING when not `returning`)."""
    names = ", ".join(INSERT_COLUMNS)
    values = ", ".join(
        "(" + ", ".join(f":{column}_{i}" for column in INSERT_COLUMNS) + ")" for i in range(rows)
    )
    # Every name in it is a constant of this module: nothing comes from input.
    return (
        f"INSERT INTO {Event.__tablename__} ({names}) VALUES {values} "  # noqa: S608
        "ON CONFLICT DO NOTHING" + (" RETURNING id, ingest_key" if returning else "")
    )


def insert_bindparams(rows: int) -> list[BindParameter[Any]]:
    """Return the typed bind parameters of `insert_sql(rows)`, so JSON and timestamps are
    stored as the ORM stores them."""
    table = Event.__table__
    return [
        bindparam(f"{column}_{i}", type_=table.c[column].type)
        for i in range(rows)
        for column in INSERT_COLUMNS
    ]


@functools.cache
def insert_statement(rows: int, returning: bool = True) -> TextClause:
    """Return `insert_sql(rows, returning)` as a statement with its typed bind parameters.

    One text for SQLite (3.35+) and PostgreSQL alike. Not the dialects' `insert()` with
    `on_conflict_do_nothing()`: SQLAlchemy cannot cache that construct, and compiling
    it anew costs more than the insert itself.
    """
    return text(insert_sql(rows, returning)).bindparams(*insert_bindparams(rows))


@dataclass(frozen=True)
class Stored:
    """Where a row went: its event id, and whether that is an earlier delivery's (a repeat)."""

    id: int
    duplicate: bool = False


def insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> list[Stored]:
    """Insert `rows` in the session's transaction, one `Stored` per row, in order.

    One `INSERT ... ON CONFLICT DO NOTHING RETURNING` for all of them, no ORM unit of work:
    a row whose `ingest_key` is stored already (a spool replayed twice, a commit in doubt) gets that
    row's id; a webhook whose `external_id` is stored already (Scalr's retry, or the same
    eventId twice in one batch) is a duplicate of the stored row. Neither fails the batch.
    """
    if not rows:
        return []
    table = Event.__table__
    result = session.execute(
        insert_statement(len(rows)),
        {f"{column}_{i}": row[column] for i, row in enumerate(rows) for column in INSERT_COLUMNS},
    )
    by_key: dict[str, int] = {key: id_ for id_, key in result}
    missing = [row for row in rows if row["ingest_key"] not in by_key]
    by_external: dict[str, int] = {}
    if missing:
        keys = [row["ingest_key"] for row in missing]
        by_key.update(
            (key, id_)
            for id_, key in session.execute(
                select(table.c.id, table.c.ingest_key).where(table.c.ingest_key.in_(keys))
            )
        )
        externals = [row["external_id"] for row in missing if row["external_id"] is not None]
        if externals:
            by_external.update(
                (ext, id_)
                for id_, ext in session.execute(
                    select(table.c.id, table.c.external_id).where(
                        table.c.external_id.in_(externals)
                    )
                )
            )
    return stored_in_order(rows, by_key, by_external)


def stored_in_order(
    rows: Sequence[dict[str, Any]], by_key: dict[str, int], by_external: dict[str, int]
) -> list[Stored]:
    """Return each row's `Stored`: its own id by `ingest_key`, else the repeat it duplicates."""
    stored = []
    for row in rows:
        key = row["ingest_key"]
        if key in by_key:
            stored.append(Stored(by_key[key]))
        elif row["external_id"] in by_external:
            stored.append(Stored(by_external[row["external_id"]], duplicate=True))
        else:  # pragma: no cover - a constraint this code does not know of
            raise RuntimeError(f"event row {key} was neither stored nor a known repeat")
    return stored


def commit_rows(
    session: Session, rows: Sequence[dict[str, Any]], count: bool = True
) -> list[Stored]:
    """Insert `rows` and commit, waking an idle worker once; count what is new."""
    stored = insert_rows(session, rows)
    new = [row for row, s in zip(rows, stored, strict=True) if not s.duplicate]
    if new:
        # Delivered at commit: wakes an idle worker at once (one NOTIFY per batch).
        notify(session, EVENTS_CHANNEL, str(max(s.id for s in stored)))
    session.commit()
    # No log line per event: it cost throughput; lifeguard_events_received counts them.
    if count:
        count_received(new)
    return stored


def count_received(rows: Sequence[dict[str, Any]]) -> None:
    """Count stored (or spooled) deliveries by event name and source."""
    # One labels() look-up and one inc per kind of row in the batch, not per row.
    kinds = collections.Counter((event_label(row["name"]), row["source"]) for row in rows)
    for (name, source), count in kinds.items():
        EVENTS_RECEIVED.labels(name, source).inc(count)
