"""Turn one delivery into one committed event row. Called by the thin views."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.config import Config
from app.errors import APIError
from app.ingest.parsing import (
    InvalidEventName,
    InvalidHint,
    InvalidPayload,
    normalise_event_name,
    parse_int_hint,
    parse_message,
    parse_webhook,
)
from app.jobs.notify import EVENTS_CHANNEL, notify
from app.models.event import SOURCE_OBSERVER, SOURCE_WEBHOOK, Event
from app.redaction import REDACTED

log = logging.getLogger(__name__)

HINT_FIELDS = ("farm_id", "farm_role_id", "env_id")
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
# Scalr 5.x formats Date as "Tue 11 Apr 2017 11:01:11 UTC" (scalr-protocol.md 2.4).
SCALR_DATE_FORMAT = "%a %d %b %Y %H:%M:%S UTC"


@dataclass(frozen=True)
class Delivery:
    """What arrived on the wire, independent of the web framework."""

    method: str
    path: str
    query_string: bytes
    body: bytes
    content_type: str | None
    headers: dict[str, str] = field(default_factory=dict)
    remote_addr: str | None = None
    # The query string already decoded (the view needs it for the token first).
    query: dict[str, list[str]] | None = None

    def parsed_query(self) -> dict[str, list[str]]:
        """Return the query fields, decoding them only if the caller did not."""
        if self.query is not None:
            return self.query
        return decode_form(self.query_string, "query string")


def _bad(code: str, message: str, status: int = 400) -> APIError:
    return APIError(status, code, message)


def decode_form(raw: bytes, where: str) -> dict[str, list[str]]:
    """Decode an urlencoded string strictly as UTF-8; invalid bytes are an error, not U+FFFD."""
    try:
        text_value = raw.decode("utf-8")
        return parse_qs(text_value, keep_blank_values=True, errors="strict", max_num_fields=200)
    except UnicodeDecodeError:
        raise _bad("invalid_encoding", f"The {where} is not valid UTF-8.") from None
    except ValueError as exc:
        raise _bad("malformed_form", f"The {where} cannot be read as form fields: {exc}.") from None


def media_type(content_type: str | None) -> str:
    """Return the bare media type of a Content-Type header, lower case."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _single(fields: dict[str, list[str]], name: str, where: str) -> str | None:
    values = fields.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise _bad(
            "duplicate_field", f"The field {name!r} appears {len(values)} times in the {where}."
        )
    return values[0]


def read_observer_fields(delivery: Delivery) -> tuple[dict[str, str | None], dict[str, list[str]]]:
    """Read `event`, `message` and the URL hints from body and query string."""
    query = delivery.parsed_query()
    body: dict[str, Any] = {}
    kind = media_type(delivery.content_type)
    if delivery.body:
        if kind == "application/x-www-form-urlencoded":
            body = decode_form(delivery.body, "request body")
        elif kind == "application/json" or kind.endswith("+json"):
            body = _read_json_fields(delivery.body)
        else:
            raise APIError(
                415,
                "unsupported_media_type",
                "Send application/x-www-form-urlencoded or application/json "
                f"(got {kind or 'no Content-Type'}).",
            )
    found: dict[str, str | None] = {}
    for name in ("event", "message", *HINT_FIELDS):
        in_body = _single(body, name, "request body")
        in_query = _single(query, name, "query string")
        if in_body is not None and in_query is not None and in_body != in_query:
            raise _bad(
                "conflicting_field",
                f"The field {name!r} has different values in the body and the query string.",
            )
        found[name] = in_body if in_body is not None else in_query
    return found, query


def _read_json_fields(raw: bytes) -> dict[str, list[str]]:
    try:
        payload = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _bad("invalid_encoding", "The request body is not valid UTF-8.") from None
    except ValueError as exc:
        raise _bad("malformed_json", f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(payload, dict):
        raise _bad("malformed_json", "The JSON body must be an object with `event` and `message`.")
    fields: dict[str, list[str]] = {}
    for name in ("event", "message", *HINT_FIELDS):
        if name not in payload or payload[name] is None:
            continue
        value = payload[name]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise _bad("invalid_field", f"The JSON field {name!r} must be a string.")
        fields[name] = [str(value)]
    return fields


def redacted_query(query: dict[str, list[str]]) -> dict[str, list[str]]:
    """Return the query fields with credential values replaced."""
    return {
        k: ([REDACTED] * len(v) if k.lower() in SECRET_QUERY_KEYS else v) for k, v in query.items()
    }


def raw_record(delivery: Delivery, query: dict[str, list[str]], body: Any) -> dict[str, Any]:
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


def receive_observer(session: Session, delivery: Delivery) -> Event:
    """Validate, normalise and commit a legacy RESTEventObserver delivery."""
    fields, query = read_observer_fields(delivery)
    raw_event = fields["event"]
    if raw_event is None or raw_event.strip() == "":
        raise _bad("missing_event", "The field `event` is required (e.g. event=OnHostDown).")
    try:
        name = normalise_event_name(raw_event)
    except InvalidEventName as exc:
        raise _bad("invalid_event", str(exc)) from None
    message = (fields["message"] or "").strip()
    try:
        hints = {key: parse_int_hint(key, fields[key]) for key in HINT_FIELDS}
    except InvalidHint as exc:
        raise _bad("invalid_hint", str(exc)) from None
    parsed = parse_message(name, message)
    body_for_record = delivery.body.decode("utf-8") if delivery.body else ""
    event = Event(
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
        raw=raw_record(delivery, query, body_for_record),
        remote_addr=delivery.remote_addr,
    )
    return _commit(session, event)


def check_webhook_signature(
    key: str,
    body: bytes,
    date_header: str | None,
    signature: str | None,
    max_skew: int,
    now: datetime,
) -> None:
    """Verify X-Signature = hex HMAC-SHA1(key, body + Date) and a fresh Date (protocol 2.4)."""
    if not date_header:
        raise APIError(401, "missing_date", "The Date header is required for a signed webhook.")
    if not signature:
        raise APIError(401, "missing_signature", "The X-Signature header is required.")
    sent_at = parse_webhook_date(date_header)
    if sent_at is None:
        raise APIError(401, "bad_date", "The Date header cannot be read.")
    skew = abs((now - sent_at).total_seconds())
    if skew > max_skew:
        raise APIError(
            401,
            "stale_date",
            f"The Date header is {int(skew)} s away from now (at most {max_skew} s).",
        )
    expected = hmac.new(
        key.encode("utf-8"), body + date_header.encode("utf-8"), hashlib.sha1
    ).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise APIError(401, "bad_signature", "The X-Signature does not match the body and Date.")


def parse_webhook_date(value: str) -> datetime | None:
    """Read Scalr's `Tue 11 Apr 2017 11:01:11 UTC`, or an RFC 1123 date."""
    try:
        return datetime.strptime(value.strip(), SCALR_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def receive_webhook(
    session: Session, delivery: Delivery, config: Config, now: datetime
) -> tuple[Event, bool]:
    """Verify, normalise and commit a 5.x webhook; return (event, was_duplicate)."""
    key = config.scalr_webhook_key
    if not key:
        raise APIError(404, "webhooks_disabled", "SCALR_WEBHOOK_KEY is not set: webhooks are off.")
    check_webhook_signature(
        key,
        delivery.body,
        delivery.headers.get("Date"),
        delivery.headers.get("X-Signature"),
        config.webhook_max_skew_seconds,
        now,
    )
    kind = media_type(delivery.content_type)
    if kind != "application/json":
        raise APIError(415, "unsupported_media_type", "A Scalr webhook is application/json.")
    try:
        payload = json.loads(delivery.body.decode("utf-8"))
    except UnicodeDecodeError:
        raise _bad("invalid_encoding", "The request body is not valid UTF-8.") from None
    except ValueError as exc:
        raise _bad("malformed_json", f"The request body is not valid JSON: {exc}.") from None
    try:
        parsed = parse_webhook(payload, keep_user_variables=config.webhook_keep_user_variables)
    except (InvalidPayload, InvalidEventName) as exc:
        raise _bad("invalid_payload", str(exc)) from None

    stored_body = dict(payload)
    stored_body["data"] = parsed.data
    if stored_body.get("userData") and not config.webhook_keep_user_variables:
        # userData is the admin's template with {VARS} substituted: it may carry secrets.
        stored_body["userData"] = REDACTED
    if parsed.dropped_variables:
        stored_body["dropped_variables"] = parsed.dropped_variables
    f = parsed.fields
    event = Event(
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
    try:
        return _commit(session, event), False
    except IntegrityError:
        # The unique eventId: Scalr retried a delivery (or two raced) and it is stored already.
        session.rollback()
        existing = session.scalar(select(Event).where(Event.external_id == parsed.event_id))
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


def _commit(session: Session, event: Event) -> Event:
    for column in ("message", "raw", "data", "server_id", "role_name", "external_id"):
        setattr(event, column, scrub(getattr(event, column)))
    session.add(event)
    session.flush()
    # Delivered at commit: wakes an idle worker at once.
    notify(session, EVENTS_CHANNEL, str(event.id))
    session.commit()
    log.info(
        "event %s stored: %s server=%s source=%s",
        event.id,
        event.name,
        event.server_id,
        event.source,
    )
    return event
