"""Read a delivery off the wire: form bodies, query strings and JSON into plain values.

No Flask and no HTTP: a refusal is a `WireError`; `app.ingest.routes` gives it its answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

HINT_FIELDS = ("farm_id", "farm_role_id", "env_id")
OBSERVER_FIELDS = ("event", "message", *HINT_FIELDS)
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_FORM_FIELDS = 200


class WireError(ValueError):
    """A delivery that cannot be read as one."""


class InvalidEncoding(WireError):
    """Bytes that are not valid UTF-8."""


class MalformedForm(WireError):
    """An urlencoded string that cannot be read as form fields."""


class MalformedJSON(WireError):
    """A body that is not JSON, or not the JSON object expected."""


class UnsupportedMediaType(WireError):
    """A body of a Content-Type the endpoint does not read."""


class DuplicateField(WireError):
    """A field given more than once in one place."""


class ConflictingField(WireError):
    """A field whose body and query-string values differ."""


class InvalidField(WireError):
    """A JSON field of the wrong type."""


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
    # The query string already decoded (the token check needs it first: decoded once).
    query: dict[str, list[str]] | None = None

    def parsed_query(self) -> dict[str, list[str]]:
        """Return the query fields, decoding them only if the caller did not."""
        if self.query is not None:
            return self.query
        return decode_query(self.query_string)


@dataclass(frozen=True)
class ObserverFields:
    """The fields of a legacy observer delivery, as sent: None where a field is absent."""

    event: str | None
    message: str | None
    hints: dict[str, str | None]


def decode_form(raw: bytes, where: str) -> dict[str, list[str]]:
    """Decode an urlencoded string strictly as UTF-8; invalid bytes are an error, not U+FFFD."""
    try:
        text = raw.decode("utf-8")
        return parse_qs(
            text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError:
        raise InvalidEncoding(f"The {where} is not valid UTF-8.") from None
    except ValueError as exc:
        raise MalformedForm(f"The {where} cannot be read as form fields: {exc}.") from None


def decode_query(query_string: bytes) -> dict[str, list[str]]:
    """Decode a request's query string into its fields."""
    return decode_form(query_string, "query string")


def media_type(content_type: str | None) -> str:
    """Return the bare media type of a Content-Type header, lower case."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_json(raw: bytes) -> Any:
    """Decode a UTF-8 JSON body."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidEncoding("The request body is not valid UTF-8.") from None
    except ValueError as exc:
        raise MalformedJSON(f"The request body is not valid JSON: {exc}.") from None


def _single(fields: dict[str, list[str]], name: str, where: str) -> str | None:
    values = fields.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise DuplicateField(f"The field {name!r} appears {len(values)} times in the {where}.")
    return values[0]


def _json_fields(raw: bytes) -> dict[str, list[str]]:
    payload = decode_json(raw)
    if not isinstance(payload, dict):
        raise MalformedJSON("The JSON body must be an object with `event` and `message`.")
    fields: dict[str, list[str]] = {}
    for name in OBSERVER_FIELDS:
        value = payload.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidField(f"The JSON field {name!r} must be a string.")
        fields[name] = [str(value)]
    return fields


def read_observer(delivery: Delivery) -> ObserverFields:
    """Read `event`, `message` and the URL hints from the body and the query string."""
    query = delivery.parsed_query()
    body: dict[str, list[str]] = {}
    kind = media_type(delivery.content_type)
    if delivery.body:
        if kind == FORM:
            body = decode_form(delivery.body, "request body")
        elif kind == JSON or kind.endswith("+json"):
            body = _json_fields(delivery.body)
        else:
            raise UnsupportedMediaType(f"Send {FORM} or {JSON} (got {kind or 'no Content-Type'}).")
    found: dict[str, str | None] = {}
    for name in OBSERVER_FIELDS:
        in_body = _single(body, name, "request body")
        in_query = _single(query, name, "query string")
        if in_body is not None and in_query is not None and in_body != in_query:
            raise ConflictingField(
                f"The field {name!r} has different values in the body and the query string."
            )
        found[name] = in_body if in_body is not None else in_query
    return ObserverFields(
        event=found["event"],
        message=found["message"],
        hints={name: found[name] for name in HINT_FIELDS},
    )


def read_webhook(delivery: Delivery) -> Any:
    """Return the decoded JSON body of a 5.x webhook (any JSON value: parsing judges it)."""
    if media_type(delivery.content_type) != JSON:
        raise UnsupportedMediaType("A Scalr webhook is application/json.")
    return decode_json(delivery.body)
