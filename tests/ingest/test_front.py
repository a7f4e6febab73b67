"""app.ingest.front answers exactly as Flask's views do: the same request, twice, compared.

Each case is posted to an app as built (the front in place) and to the same app with
the front taken out of its wsgi_app, over the same database; status, headers and JSON
must agree (ids aside, which differ by one row), and so must what was stored.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from werkzeug.datastructures import EnvironHeaders
from werkzeug.middleware.proxy_fix import ProxyFix

from app.ingest import front
from app.ingest.front import IngestFront
from app.metrics import process_registry
from app.services import services_of
from tests.conftest import INGEST_TOKEN, WEBHOOK_KEY
from tests.factories import count_events, sign_webhook
from tests.ingest.test_bad_input import CASES
from tests.ingest.test_webhook_http import GOLDEN_BODY, GOLDEN_DATE, GOLDEN_NOW

FORM = "application/x-www-form-urlencoded"
TOKEN_Q = f"token={INGEST_TOKEN}"
GOOD = b"event=OnHostDown&message=Instance+i-3f2a1b4c+%28app64%29++terminated"


def _front(app: Any) -> IngestFront:
    wsgi = app.wsgi_app
    inner = wsgi.app if isinstance(wsgi, ProxyFix) else wsgi
    assert isinstance(inner, IngestFront)
    return inner


@contextmanager
def front_taken_out(app: Any) -> Iterator[None]:
    """Serve `app` without the front for a while: Flask's views answer every post."""
    kept = app.wsgi_app
    inner = _front(app)
    app.wsgi_app = (
        ProxyFix(inner.wrapped, x_for=kept.x_for, x_proto=0)
        if isinstance(kept, ProxyFix)
        else inner.wrapped
    )
    try:
        yield
    finally:
        app.wsgi_app = kept


def shape(response: Any) -> tuple[Any, ...]:
    """What a sender sees, with the per-request values (ids, request id) made comparable."""
    headers = [(k, v) for k, v in response.headers.items() if k != "X-Request-ID"]
    rid = response.headers.get("X-Request-ID")
    body = response.get_data()
    payload = json.loads(body)
    if isinstance(payload.get("id"), int):
        payload["id"] = "<id>"
        headers = [(k, v) for k, v in headers if k != "Content-Length"]
    if payload.get("spooled"):
        payload["spooled"] = "<key>"
        headers = [(k, v) for k, v in headers if k != "Content-Length"]
    return response.status, headers, len(rid or ""), payload


def both(app: Any, method: str, path: str, **kw: Any) -> tuple[Any, Any]:
    """Post the same request through the front and around it."""
    through = app.test_client().open(path, method=method, **kw)
    with front_taken_out(app):
        around = app.test_client().open(path, method=method, **kw)
    return through, around


def counter(metric: str, **labels: str) -> float:
    value = process_registry().get_sample_value(metric, labels)
    return value or 0.0


@pytest.mark.parametrize(
    ("case_id", "query", "body", "ctype", "headers", "status", "code"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_every_refusal_is_answered_as_flask_answers_it(
    app, session_factory, case_id, query, body, ctype, headers, status, code
):
    kw = {"data": body, "headers": dict(headers)}
    if ctype:
        kw["content_type"] = ctype
    through, around = both(app, "POST", f"/events?{query}", **kw)
    assert through.status_code == status
    assert shape(through) == shape(around)
    assert count_events(session_factory) == 0


@pytest.mark.parametrize(
    ("query", "kw"),
    [
        (TOKEN_Q, {"data": GOOD, "content_type": FORM}),
        (TOKEN_Q + "&farm_id=7", {"data": GOOD, "content_type": FORM}),
        (
            "",
            {
                "data": GOOD,
                "content_type": FORM,
                "headers": {"Authorization": f"Bearer {INGEST_TOKEN}"},
            },
        ),
        (TOKEN_Q, {"json": {"event": "OnHostUp", "message": "m"}}),
        (TOKEN_Q + "&event=OnHostUp", {}),
        (TOKEN_Q, {"data": GOOD, "content_type": FORM, "headers": {"X-Request-ID": "trace-1"}}),
        (TOKEN_Q, {"data": GOOD, "content_type": FORM, "headers": {"X-Request-ID": "bad id!"}}),
    ],
    ids=["form", "hint", "bearer", "json", "query-only", "request-id", "insane-request-id"],
)
def test_a_stored_delivery_is_answered_as_flask_answers_it(app, session_factory, query, kw):
    through, around = both(app, "POST", f"/events?{query}", **kw)
    assert through.status_code == 202
    assert shape(through) == shape(around)
    if "X-Request-ID" in kw.get("headers", {}) and kw["headers"]["X-Request-ID"] == "trace-1":
        assert through.headers["X-Request-ID"] == around.headers["X-Request-ID"] == "trace-1"
    first, second = _rows(session_factory)
    assert _comparable(first) == _comparable(second)


def _rows(session_factory: Any) -> list[Any]:
    from sqlalchemy import select

    from app.models.event import Event

    with session_factory() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def _comparable(event: Any) -> dict[str, Any]:
    skip = {"id", "ingest_key", "received_at", "_sa_instance_state"}
    values = {k: v for k, v in vars(event).items() if k not in skip}
    raw = dict(values["raw"])
    assert len(raw.pop("request_id", "x" * 32)) in (7, 32)
    values["raw"] = raw
    return values


def test_the_front_answers_stored_deliveries_and_hands_refusals_to_flask(app, session_factory):
    inner = _front(app)
    seen: list[str] = []
    wrapped = inner.wrapped

    def spy(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen.append(environ["PATH_INFO"])
        return wrapped(environ, start_response)

    inner.wrapped = spy
    client = app.test_client()
    assert client.post(f"/events?{TOKEN_Q}", data=GOOD, content_type=FORM).status_code == 202
    assert seen == []  # stored and answered in front of Flask
    assert client.post("/events?token=no", data=GOOD, content_type=FORM).status_code == 401
    assert client.get("/healthz").status_code == 200
    assert client.put(f"/events?{TOKEN_Q}", data=GOOD, content_type=FORM).status_code == 405
    assert client.post(f"/events/?{TOKEN_Q}", data=GOOD, content_type=FORM).status_code in (
        404,
        405,
        308,
    )
    assert seen == ["/events", "/healthz", "/events", "/events/"]


def test_body_limit_and_flood_answers_match(make_app, session_factory):
    from app.ingest.auth import FloodLimiter

    app = make_app(max_body_bytes=100, ingest_rate_per_minute=2)
    services_of(app).flood_limiter = FloodLimiter(2, clock=lambda: 60_020.0)
    big = b"event=OnHostUp&message=" + b"x" * 100
    through, around = both(app, "POST", f"/events?{TOKEN_Q}", data=big, content_type=FORM)
    assert through.status_code == 413 and shape(through) == shape(around)
    # Two failures through each path: the third of either is flooded, so the count is one.
    answers = [
        both(app, "POST", "/events?token=no", data=GOOD, content_type=FORM) for _ in range(2)
    ]
    assert [a.status_code for pair in answers for a in pair] == [401, 401, 429, 429]
    assert shape(answers[1][0]) == shape(answers[1][1])
    assert answers[1][0].headers["Retry-After"] == "40"
    assert count_events(session_factory) == 0


def test_metrics_count_the_same_through_the_front(app, session_factory):
    def snapshot() -> tuple[float, ...]:
        return (
            counter("lifeguard_ingest_seconds_count", endpoint="ingest.receive_event"),
            counter("lifeguard_ingest_refused_total", reason="bad_token"),
            counter("lifeguard_events_received_total", name="HostDown", source="observer"),
        )

    deltas = []
    for through in (True, False):
        before = snapshot()
        with contextlib.nullcontext() if through else front_taken_out(app):
            client = app.test_client()
            client.post(f"/events?{TOKEN_Q}", data=GOOD, content_type=FORM)
            client.post("/events?token=no", data=GOOD, content_type=FORM)
        deltas.append(tuple(b - a for a, b in zip(before, snapshot(), strict=True)))
    assert deltas[0] == deltas[1] == (2.0, 1.0, 1.0)


def test_trusted_proxies_address_reaches_the_front(make_app, session_factory):
    app = make_app(environ={"INGEST_ALLOWED_IPS": "10.0.0.0/8", "TRUSTED_PROXIES": "1"})
    kw = {"data": GOOD, "content_type": FORM}
    allowed = {"X-Forwarded-For": "10.1.2.3"}
    through, around = both(app, "POST", f"/events?{TOKEN_Q}", headers=allowed, **kw)
    assert through.status_code == 202 and shape(through) == shape(around)
    refused = {"X-Forwarded-For": "203.0.113.9"}
    through, around = both(app, "POST", f"/events?{TOKEN_Q}", headers=refused, **kw)
    assert through.status_code == 403 and shape(through) == shape(around)
    first, second = _rows(session_factory)
    assert first.remote_addr == second.remote_addr == "10.1.2.3"


def test_webhook_answers_match(make_app, session_factory):
    app = make_app()
    services_of(app).clock = lambda: GOLDEN_NOW
    signed = {
        "Content-Type": "application/json",
        "Date": GOLDEN_DATE,
        "X-Signature": sign_webhook(WEBHOOK_KEY, GOLDEN_BODY, GOLDEN_DATE),
    }
    first = app.test_client().post("/webhooks/scalr", data=GOLDEN_BODY, headers=signed)
    assert first.status_code == 202
    # Scalr's retry of the same eventId: 200 with the stored id, through either path.
    through, around = both(app, "POST", "/webhooks/scalr", data=GOLDEN_BODY, headers=signed)
    assert through.status_code == 200 and shape(through) == shape(around)
    assert (
        through.get_json() == around.get_json() == {"id": first.get_json()["id"], "duplicate": True}
    )
    bad = {**signed, "X-Signature": "0" * 40}
    through, around = both(app, "POST", "/webhooks/scalr", data=GOLDEN_BODY, headers=bad)
    assert through.status_code == 401 and shape(through) == shape(around)
    assert count_events(session_factory) == 1


def test_a_failed_store_is_answered_by_flask_without_storing_again(make_app, session_factory):
    app = make_app()
    stored: list[Any] = []
    ingest = app.extensions["lifeguard.ingest"]

    def broken(row: dict[str, Any]) -> Any:
        stored.append(row)
        raise RuntimeError("boom")

    ingest.store = broken
    through, around = both(app, "POST", f"/events?{TOKEN_Q}", data=GOOD, content_type=FORM)
    assert through.status_code == 500 and shape(through) == shape(around)
    assert through.get_json()["error"] == "internal_error"
    assert len(stored) == 2  # once through the front (Flask raised its failure), once around


def test_headers_are_read_as_environ_headers_reads_them():
    environ = {
        "CONTENT_TYPE": "",
        "CONTENT_LENGTH": "12",
        "HTTP_USER_AGENT": "Scalr",
        "HTTP_DATE": "d",
        "HTTP_X_SCALR_WEBHOOK_ID": "w",
        "HTTP_AUTHORIZATION": "Bearer t",
        "HTTP_CONTENT_TYPE": "ignored",
        "HTTP_X_OTHER": "dropped",
    }
    headers = EnvironHeaders(environ)
    expected = {n: v for n in front.READ_HEADERS if (v := headers.get(n)) is not None}
    assert front.read_headers(environ) == expected
