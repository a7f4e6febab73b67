"""Reading a delivery off the wire into plain values, without HTTP."""

from __future__ import annotations

import pytest

from app.ingest import wire
from tests.ingest.golden import PRIV, PUB, SID, WEBHOOK_BODY, WIRE_CASES

FORM = "application/x-www-form-urlencoded"


def delivery(body: bytes = b"", qs: bytes = b"", content_type: str | None = FORM, **kw):
    return wire.Delivery(
        method="POST", path="/events", query_string=qs, body=body, content_type=content_type, **kw
    )


def test_decode_form_keeps_blanks_and_repeats():
    assert wire.decode_form(b"a=&b=1&b=2&c", "body") == {"a": [""], "b": ["1", "2"], "c": [""]}


@pytest.mark.parametrize("raw", [b"message=\xff\xfe", b"message=%ff%fe", b"m=%C3%28"])
def test_decode_form_refuses_invalid_utf8(raw):
    with pytest.raises(wire.InvalidEncoding, match=r"^The request body is not valid UTF-8\.$"):
        wire.decode_form(raw, "request body")


def test_decode_form_refuses_too_many_fields():
    with pytest.raises(wire.MalformedForm, match="query string cannot be read as form fields"):
        wire.decode_query(b"&".join([b"a=1"] * (wire.MAX_FORM_FIELDS + 1)))


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("application/x-www-form-urlencoded; charset=UTF-8", FORM),
        ("Application/JSON", "application/json"),
        (None, ""),
        ("", ""),
    ],
)
def test_media_type(header, kind):
    assert wire.media_type(header) == kind


@pytest.mark.parametrize("case", [c for c in WIRE_CASES if not c.id.startswith("6.4")],
                         ids=lambda c: c.id)  # fmt: skip
def test_golden_form_bodies(case):
    fields = wire.read_observer(delivery(case.body.encode()))
    assert fields.event == "On" + case.event
    assert fields.message and fields.message.startswith(("Instance", "IP address"))
    assert fields.hints == {"farm_id": None, "farm_role_id": None, "env_id": None}


def test_golden_query_string_with_an_empty_body():
    (case,) = [c for c in WIRE_CASES if c.id.startswith("6.4")]
    fields = wire.read_observer(delivery(qs=case.body.encode(), content_type=None))
    assert fields.event == "HostDown"
    assert fields.message == f"Instance {SID} ({PUB}) Internal IP: {PRIV} terminated"
    assert fields.hints["farm_id"] == "1439"


def test_the_same_value_in_body_and_query_is_fine():
    fields = wire.read_observer(delivery(b"event=OnHostUp", qs=b"event=OnHostUp&env_id=3"))
    assert (fields.event, fields.message, fields.hints["env_id"]) == ("OnHostUp", None, "3")


def test_a_decoded_query_is_not_decoded_again():
    given = delivery(b"event=OnHostUp", qs=b"\xff", query={"farm_id": ["7"]})
    assert wire.read_observer(given).hints["farm_id"] == "7"


@pytest.mark.parametrize(
    ("body", "qs", "content_type", "error", "message"),
    [
        (b"event=A&event=B", b"", FORM, wire.DuplicateField, "appears 2 times in the request"),
        (b"", b"event=A&event=A", None, wire.DuplicateField, "appears 2 times in the query"),
        (b"event=A", b"event=B", FORM, wire.ConflictingField, "different values"),
        (b"event=A", b"", "text/plain", wire.UnsupportedMediaType, "(got text/plain)"),
        (b"event=A", b"", None, wire.UnsupportedMediaType, "(got no Content-Type)"),
        (b"{event", b"", "application/json", wire.MalformedJSON, "not valid JSON"),
        (b'["x"]', b"", "application/json", wire.MalformedJSON, "must be an object"),
        (b'{"event": ["x"]}', b"", "application/json", wire.InvalidField, "'event' must be"),
        (b'{"event": true}', b"", "application/json", wire.InvalidField, "'event' must be"),
        (b'{"event": "\xff"}', b"", "application/json", wire.InvalidEncoding, "not valid UTF-8"),
        (b"", b"message=%C3%28", None, wire.InvalidEncoding, "query string is not valid"),
    ],
    ids=[
        "dup-body",
        "dup-query",
        "conflict",
        "text-plain",
        "no-type",
        "bad-json",
        "json-array",
        "json-list-field",
        "json-bool-field",
        "json-bad-utf8",
        "bad-query",
    ],
)
def test_observer_refusals(body, qs, content_type, error, message):
    with pytest.raises(error) as refused:
        wire.read_observer(delivery(body, qs=qs, content_type=content_type))
    assert message in str(refused.value)


def test_json_observer_body_takes_numbers_and_skips_nulls():
    body = b'{"event": "OnHostUp", "message": null, "farm_id": 1439, "other": 1}'
    fields = wire.read_observer(delivery(body, content_type="application/vnd.scalr+json"))
    assert (fields.event, fields.message, fields.hints["farm_id"]) == ("OnHostUp", None, "1439")


def test_read_webhook_returns_the_json_value():
    payload = wire.read_webhook(delivery(WEBHOOK_BODY.encode(), content_type="application/json"))
    assert payload["eventId"] == "a71ff7bc-0fa7-4cc2-9e0b-9fa3581888ce"
    assert wire.read_webhook(delivery(b"[]", content_type="application/json")) == []


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"{}", FORM, wire.UnsupportedMediaType),
        (b"{}", "application/vnd.scalr+json", wire.UnsupportedMediaType),
        (b"not json", "application/json", wire.MalformedJSON),
        (b"", "application/json", wire.MalformedJSON),
        (b"\xff\xfe", "application/json", wire.InvalidEncoding),
    ],
)
def test_read_webhook_refusals(body, content_type, error):
    with pytest.raises(error):
        wire.read_webhook(delivery(body, content_type=content_type))


def test_every_wire_error_is_a_value_error():
    assert issubclass(wire.WireError, ValueError)
