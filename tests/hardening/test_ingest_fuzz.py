"""POST /events and POST /webhooks/scalr under random and hostile input, through Flask.

Whatever arrives: never a 500, a documented status, the JSON error `{"error", "message"}`
on a refusal, and rows that match the answer (a refusal stores nothing, a 202 exactly one
event). Rows of every table are counted before and after each example.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.services import services_of
from tests.conftest import INGEST_TOKEN, WEBHOOK_KEY
from tests.factories import sign_webhook
from tests.hardening.ingest_helpers import (
    EVENTS_STATUSES,
    WEBHOOK_STATUSES,
    check_answer,
    row_counts,
)
from tests.hardening.settings import bounded
from tests.stack import LifeguardServer

NOW = datetime(2017, 4, 11, 11, 1, 30, tzinfo=UTC)
DATE = "Tue 11 Apr 2017 11:01:11 UTC"
FIELDS = ["event", "message", "farm_id", "farm_role_id", "env_id", "token", "next", "a"]
CONTENT_TYPES = [
    None,
    "",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/x-www-form-urlencoded; charset=utf-16",
    "APPLICATION/JSON",
    "application/json",
    "application/json; charset=latin-1",
    "application/vnd.scalr+json",
    "text/plain",
    "text/xml",
    "multipart/form-data; boundary=x",
    "multipart/form-data",
    "application/octet-stream",
    ";;;",
    "application/x-www-form-urlencoded\x0b",
]
# Header values any client can send (no CR, LF or NUL: the test client refuses those;
# the raw-socket test below sends them).
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200)
TEXT = st.text(max_size=80)


@pytest.fixture
def fuzz_app(make_app):
    """An app with every secret set, no flood limit (tested on its own) and a fixed clock."""
    application = make_app(ingest_rate_per_minute=0)
    services_of(application).clock = lambda: NOW
    return application


def event_pairs() -> st.SearchStrategy[list[tuple[str, str]]]:
    """Form pairs that are often a valid observer delivery (so both outcomes are drawn)."""
    good = st.tuples(
        st.just("event"), st.sampled_from(["OnHostDown", "HostUp", "OnRebootComplete", ""])
    )
    message = st.tuples(st.just("message"), TEXT)
    other = st.tuples(st.sampled_from(FIELDS) | TEXT, TEXT)
    return st.lists(st.one_of(good, message, other), max_size=6)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def observer_body(draw):
    """A body: random bytes, form pairs, or JSON, each with any content type."""
    kind = draw(st.sampled_from(["bytes", "form", "json-fields", "json-any", "empty"]))
    if kind == "bytes":
        body = draw(st.binary(max_size=400))
    elif kind == "form":
        body = urlencode(draw(event_pairs())).encode()
    elif kind == "json-fields":
        obj = draw(st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=6))
        body = json.dumps(obj).encode()
    elif kind == "json-any":
        body = json.dumps(draw(JSON_VALUES)).encode()
    else:
        body = b""
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    if kind == "form" and draw(st.booleans()):
        ctype = "application/x-www-form-urlencoded"
    if kind.startswith("json") and draw(st.booleans()):
        ctype = "application/json"
    return body, ctype


@st.composite
def query_string(draw):
    """A query string: urlencoded pairs (the token often right), or raw random bytes."""
    token = draw(st.sampled_from(["good", "good", "none", "wrong", "bearer"]))
    pairs = draw(st.lists(st.tuples(st.sampled_from(FIELDS) | TEXT, TEXT), max_size=6))
    if token == "good":
        pairs.insert(draw(st.integers(0, len(pairs))), ("token", INGEST_TOKEN))
    elif token == "wrong":
        pairs.append(("token", draw(TEXT)))
    qs = urlencode(pairs).encode()
    if draw(st.integers(0, 4)) == 0:
        qs += b"&" + draw(st.binary(max_size=60))
    return qs, token == "bearer"


def _qs_text(raw: bytes) -> str:
    # The test client takes a str; percent-quote every byte so the raw bytes arrive as sent.
    return quote(raw, safe="=&;+%")


@bounded(300)
@given(
    query=query_string(),
    body=observer_body(),
    headers=st.dictionaries(
        st.sampled_from(
            ["User-Agent", "X-Forwarded-For", "Date", "X-Signature", "Authorization", "Cookie"]
        ),
        HEADER_TEXT,
        max_size=4,
    ),
)
def test_events_random_deliveries(fuzz_app, query, body, headers):
    engine = services_of(fuzz_app).engine
    (qs, bearer), (data, ctype) = query, body
    if bearer:
        headers["Authorization"] = f"Bearer {INGEST_TOKEN}"
    if ctype is not None:
        headers["Content-Type"] = ctype
    before = row_counts(engine)
    response = fuzz_app.test_client().post("/events?" + _qs_text(qs), data=data, headers=headers)
    check_answer(response, before, engine, EVENTS_STATUSES)


@bounded(150)
@given(
    message=st.text(max_size=300),
    hints=st.dictionaries(
        st.sampled_from(["farm_id", "farm_role_id", "env_id"]),
        st.integers(1, 2**63 - 1).map(str) | TEXT,
        max_size=3,
    ),
    extra=st.lists(st.tuples(st.from_regex(r"[a-z]{1,8}", fullmatch=True), TEXT), max_size=5),
    as_json=st.booleans(),
    bearer=st.booleans(),
)
def test_events_plausible_deliveries(fuzz_app, message, hints, extra, as_json, bearer):
    """Deliveries a real sender could make, with hostile text: each one stored, or refused whole."""
    engine = services_of(fuzz_app).engine
    fields = {"event": "OnHostDown", "message": message, **hints}
    pairs = [(k, v) for k, v in extra if k not in fields and k != "token"]
    if as_json:
        data, ctype = json.dumps(fields).encode(), "application/json"
    else:
        data, ctype = (
            urlencode([*fields.items(), *pairs]).encode(),
            "application/x-www-form-urlencoded",
        )
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"} if bearer else {}
    url = "/events" if bearer else f"/events?token={INGEST_TOKEN}"
    before = row_counts(engine)
    response = fuzz_app.test_client().post(url, data=data, content_type=ctype, headers=headers)
    check_answer(response, before, engine, EVENTS_STATUSES)
    if all(v.isascii() and v.isdigit() and 0 < int(v) < 2**63 for v in hints.values()):
        assert response.status_code == 202, response.get_json()


@bounded(150)
@given(pairs=event_pairs(), where=st.sampled_from(["body", "query", "both"]))
def test_events_repeated_and_split_fields(fuzz_app, pairs, where):
    engine = services_of(fuzz_app).engine
    encoded = urlencode(pairs)
    qs = f"token={INGEST_TOKEN}" + (f"&{encoded}" if where in ("query", "both") else "")
    data = encoded.encode() if where in ("body", "both") else b""
    before = row_counts(engine)
    response = fuzz_app.test_client().post(
        f"/events?{qs}", data=data, content_type="application/x-www-form-urlencoded"
    )
    check_answer(response, before, engine, EVENTS_STATUSES)
    names = [name for name, _ in pairs if name == "event"]
    if len(names) > 1 and where != "query":
        assert response.status_code == 400


@pytest.mark.parametrize(
    ("where", "count"),
    [("query", 199), ("query", 5000), ("body", 5000), ("body", 50_000), ("both", 3000)],
)
def test_thousands_of_parameters(fuzz_app, where, count):
    engine = services_of(fuzz_app).engine
    many = "&".join(f"p{i}=v" for i in range(count))
    qs = f"token={INGEST_TOKEN}&event=OnHostUp" + (f"&{many}" if where != "body" else "")
    data = many.encode() if where != "query" else b""
    before = row_counts(engine)
    response = fuzz_app.test_client().post(
        f"/events?{qs}", data=data, content_type="application/x-www-form-urlencoded"
    )
    check_answer(response, before, engine, EVENTS_STATUSES)
    # Up to MAX_FORM_FIELDS a delivery is read (199 + token + event = 201: one too many).
    assert response.status_code in (400, 413)


@pytest.mark.parametrize("size", [64 * 1024, 64 * 1024 + 1, 1024 * 1024, 16 * 1024 * 1024], ids=str)
@pytest.mark.parametrize("path", ["/events", "/webhooks/scalr"])
def test_huge_bodies(fuzz_app, size, path):
    engine = services_of(fuzz_app).engine
    data = b"event=OnHostUp&message=" + b"x" * (size - 23)
    assert len(data) == size
    before = row_counts(engine)
    headers = {"Date": DATE, "X-Signature": sign_webhook(WEBHOOK_KEY, data, DATE)}
    ctype = "application/x-www-form-urlencoded" if path == "/events" else "application/json"
    response = fuzz_app.test_client().post(
        f"{path}?token={INGEST_TOKEN}", data=data, content_type=ctype, headers=headers
    )
    allowed = EVENTS_STATUSES if path == "/events" else WEBHOOK_STATUSES
    check_answer(response, before, engine, allowed)
    if size > 64 * 1024:
        assert response.status_code == 413
        assert response.get_json()["error"] == "request_entity_too_large"


@st.composite
def webhook_payload(draw):
    """A 5.x webhook body: often Scalr-shaped with random values, sometimes any JSON or bytes."""
    kind = draw(st.sampled_from(["valid", "valid", "shaped", "shaped", "any-json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "any-json":
        return json.dumps(draw(JSON_VALUES)).encode()
    keys = [
        "SCALR_SERVER_ID",
        "SCALR_FARM_ID",
        "SCALR_FARM_ROLE_ID",
        "SCALR_EXTERNAL_IP",
        "SCALR_INTERNAL_IP",
        "SCALR_ENV_ID",
        "SCALR_ROLE_NAME",
        "SECRET_VAR",
    ]
    payload = {
        "eventName": draw(st.sampled_from(["HostDown", "OnHostUp", "", "Host Down"]) | JSON_VALUES),
        "eventId": draw(st.uuids().map(str) | JSON_VALUES),
        "timestamp": draw(TEXT | JSON_VALUES),
        "data": draw(
            st.dictionaries(st.sampled_from(keys) | TEXT, TEXT | JSON_VALUES, max_size=6)
            | JSON_VALUES
        ),
        "userData": draw(TEXT | JSON_VALUES),
    }
    if kind == "valid":
        payload["eventName"] = draw(st.sampled_from(["HostDown", "OnHostUp", "IPAddressChanged"]))
        payload["eventId"] = str(draw(st.uuids()))
        # Values past every column's width too (role_name is 255 characters on PostgreSQL).
        long_text = st.text(min_size=250, max_size=600)
        payload["data"] = draw(
            st.dictionaries(st.sampled_from(keys) | TEXT, TEXT | long_text, max_size=6)
        )
        return json.dumps(payload).encode()
    for key in draw(st.lists(st.sampled_from(list(payload)), max_size=2)):
        payload.pop(key, None)
    return json.dumps(payload).encode()


@bounded(150)
@given(
    body=webhook_payload(),
    signing=st.sampled_from(
        ["good", "good", "good", "upper", "none", "wrong", "stale", "no-date", "bad-date"]
    ),
    ctype=st.sampled_from(
        ["application/json", "application/json", "text/plain", None, "APPLICATION/JSON"]
    ),
    repeat=st.booleans(),
)
def test_webhook_random_deliveries(fuzz_app, body, signing, ctype, repeat):
    engine = services_of(fuzz_app).engine
    headers = {"Date": DATE, "X-Signature": sign_webhook(WEBHOOK_KEY, body, DATE)}
    if signing == "upper":
        headers["X-Signature"] = headers["X-Signature"].upper()
    elif signing == "none":
        del headers["X-Signature"]
    elif signing == "wrong":
        headers["X-Signature"] = sign_webhook("not-the-key", body, DATE)
    elif signing == "stale":
        headers["Date"] = "Tue 11 Apr 2017 10:01:11 UTC"
        headers["X-Signature"] = sign_webhook(WEBHOOK_KEY, body, headers["Date"])
    elif signing == "no-date":
        del headers["Date"]
    elif signing == "bad-date":
        headers["Date"] = "yesterday-ish"
        headers["X-Signature"] = sign_webhook(WEBHOOK_KEY, body, headers["Date"])
    if ctype is not None:
        headers["Content-Type"] = ctype
    client = fuzz_app.test_client()
    for _ in range(2 if repeat else 1):
        before = row_counts(engine)
        response = client.post("/webhooks/scalr", data=body, headers=headers)
        check_answer(response, before, engine, WEBHOOK_STATUSES)
    if signing in ("none", "wrong", "stale", "no-date", "bad-date"):
        assert response.status_code == 401


def test_webhooks_disabled_is_a_json_404(make_app):
    application = make_app(scalr_webhook_key=None)
    engine = services_of(application).engine
    before = row_counts(engine)
    response = application.test_client().post(
        "/webhooks/scalr", data=b"{}", content_type="application/json"
    )
    check_answer(response, before, engine, WEBHOOK_STATUSES)
    assert response.status_code == 404


def test_flood_is_a_json_429_and_stores_nothing(make_app):
    application = make_app(ingest_rate_per_minute=3)
    engine = services_of(application).engine
    client = application.test_client()
    statuses = []
    for _ in range(6):
        before = row_counts(engine)
        response = client.post(
            "/events?token=wrong",
            data=b"event=OnHostUp",
            content_type="application/x-www-form-urlencoded",
        )
        check_answer(response, before, engine, EVENTS_STATUSES)
        statuses.append(response.status_code)
    assert statuses[-1] == 429


# Raw HTTP through a real server: what the test client cannot send (CR, LF, NUL in
# headers, obs-fold, a Content-Length that lies, chunked bodies, a second request smuggled).
RAW_REQUESTS = [
    b"POST /events?token=%(token)s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"X-Forwarded-For: 1.2.3.4\r\n injected: folded\r\nContent-Length: 14\r\n\r\nevent=OnHostUp",
    b"POST /events?token=%(token)s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\x00evil\r\n"
    b"Content-Length: 14\r\n\r\nevent=OnHostUp",
    b"POST /events?token=%(token)s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 5\r\n\r\nevent=OnHostUp",
    b"POST /events?token=%(token)s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Transfer-Encoding: chunked\r\n\r\ne\r\nevent=OnHostUp\r\n0\r\n\r\n",
    b"POST /events?token=%(token)s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 14\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST /events HTTP/1.1\r\n\r\n",
    b"POST /events?token=%(token)s&event=OnHostUp%%0D%%0ASet-Cookie:%%20x=1 HTTP/1.1\r\nHost: x\r\n"
    b"Content-Length: 0\r\n\r\n",
    b"POST /events?token=%(token)s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n"
    b'Content-Type: application/json\r\nContent-Length: 21\r\n\r\n{"event": "OnHostUp"}',
    b"POST /events?token=%(token)s\r\n\r\n",
    b"POST /webhooks/scalr HTTP/1.1\r\nHost: x\r\nDate: \xff\xff\r\nX-Signature: \x01\r\n"
    b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
]


def test_raw_requests_with_injected_headers(fuzz_app):
    engine = services_of(fuzz_app).engine
    with LifeguardServer(fuzz_app) as server:
        for raw in RAW_REQUESTS:
            before = row_counts(engine)
            with socket.create_connection(("127.0.0.1", server.port), 5) as sock:
                sock.sendall(raw % {b"token": INGEST_TOKEN.encode()})
                sock.shutdown(socket.SHUT_WR)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            status_line = answer.split(b"\r\n", 1)[0]
            assert b" 500 " not in status_line, (raw, answer[:400])
            heads = answer.split(b"\r\n\r\n", 1)[0].lower()
            assert b"set-cookie: x=1" not in heads and b"\r\ninjected" not in heads, raw
            stored = row_counts(engine)["events"] - before["events"]
            accepted = answer.count(b"HTTP/1.1 202") + answer.count(b"HTTP/1.0 202")
            assert stored == accepted, (raw, answer[:600])
