"""Turn one read delivery into one committed event row: normalise, scrub, commit.

No Flask and no HTTP: a delivery that cannot become an event raises `MissingEvent` or
one of `app.ingest.parsing`'s errors; `app.ingest.routes` gives it its answer.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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
    return {
        "method": delivery.method,
        "path": delivery.path,
        "query": redacted_query(query),
        "headers": headers,
        "body": body,
    }


def observer_event(delivery: wire.Delivery) -> Event:
    """Read and normalise a legacy RESTEventObserver delivery into an unsaved event."""
    fields = wire.read_observer(delivery)
    if fields.event is None or fields.event.strip() == "":
        raise MissingEvent("The field `event` is required (e.g. event=OnHostDown).")
    name = normalise_event_name(fields.event)
    message = (fields.message or "").strip()
    hints = {key: parse_int_hint(key, value) for key, value in fields.hints.items()}
    parsed = parse_message(name, message)
    body_for_record = delivery.body.decode("utf-8") if delivery.body else ""
    return Event(
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
        enriched_fields=[],
        raw=raw_record(delivery, delivery.parsed_query(), body_for_record),
        remote_addr=delivery.remote_addr,
    )


def webhook_event(delivery: wire.Delivery, keep_user_variables: bool) -> Event:
    """Read and normalise a 5.x webhook (its signature checked already) into an unsaved event."""
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
    return Event(
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
        enriched_fields=[],
        raw=raw_record(delivery, delivery.parsed_query(), stored_body),
        remote_addr=delivery.remote_addr,
        external_id=parsed.event_id,
    )


def receive_observer(session: Session, delivery: wire.Delivery) -> Event:
    """Validate, normalise and commit a legacy RESTEventObserver delivery."""
    return commit_event(session, observer_event(delivery))


def receive_webhook(
    session: Session, delivery: wire.Delivery, keep_user_variables: bool
) -> tuple[Event, bool]:
    """Normalise and commit a verified 5.x webhook; return (event, was_duplicate)."""
    event = webhook_event(delivery, keep_user_variables)
    event_id = event.external_id
    try:
        return commit_event(session, event), False
    except IntegrityError:
        # The unique eventId: Scalr retried a delivery (or two raced) and it is stored already.
        # Inserting first costs no query before a new event's 202; only a repeat looks it up.
        session.rollback()
        existing = session.scalar(select(Event).where(Event.external_id == event_id))
        if existing is None:
            raise
        return existing, True


def scrub(value: Any) -> Any:
    """Replace NUL characters, which PostgreSQL text and JSONB cannot hold, with U+2400 (␀)."""
    if isinstance(value, str):
        return value.replace("\x00", "\u2400")
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def commit_event(session: Session, event: Event) -> Event:
    """Scrub `event`, store it and commit, waking an idle worker."""
    for column in SCRUBBED_COLUMNS:
        setattr(event, column, scrub(getattr(event, column)))
    session.add(event)
    session.flush()
    # Delivered at commit: wakes an idle worker at once.
    notify(session, EVENTS_CHANNEL, str(event.id))
    session.commit()
    # No log line per event: it cost throughput; lifeguard_events_received counts them.
    EVENTS_RECEIVED.labels(event_label(event.name), event.source).inc()
    return event
