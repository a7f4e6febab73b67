"""Every refusal of the ingest endpoints: a clear JSON error, and nothing stored."""

from __future__ import annotations

import pytest

from app.services import services_of
from tests.conftest import INGEST_TOKEN
from tests.factories import count_events, only_event

FORM = "application/x-www-form-urlencoded"
TOKEN_Q = f"token={INGEST_TOKEN}"


CASES = [
    # (id, query, body, content type, extra headers, status, error code)
    ("no-token", "", b"event=OnHostUp&message=m", FORM, {}, 401, "missing_token"),
    ("bad-token", "token=nope", b"event=OnHostUp&message=m", FORM, {}, 401, "bad_token"),
    (
        "bad-bearer",
        "",
        b"event=OnHostUp&message=m",
        FORM,
        {"Authorization": "Bearer nope"},
        401,
        "bad_token",
    ),
    ("token-prefix", f"token={INGEST_TOKEN[:-1]}", b"event=OnHostUp", FORM, {}, 401, "bad_token"),
    ("missing-event", TOKEN_Q, b"message=m", FORM, {}, 400, "missing_event"),
    ("empty-event", TOKEN_Q, b"event=&message=m", FORM, {}, 400, "missing_event"),
    ("blank-event", TOKEN_Q, b"event=+++&message=m", FORM, {}, 400, "missing_event"),
    ("spaced-event", TOKEN_Q, b"event=Host+Down&message=m", FORM, {}, 400, "invalid_event"),
    ("markup-event", TOKEN_Q, b"event=%3Cscript%3E&message=m", FORM, {}, 400, "invalid_event"),
    ("long-event", TOKEN_Q, b"event=" + b"A" * 65 + b"&message=m", FORM, {}, 400, "invalid_event"),
    (
        "bad-utf8-body",
        TOKEN_Q,
        b"event=OnHostUp&message=\xff\xfe",
        FORM,
        {},
        400,
        "invalid_encoding",
    ),
    (
        "bad-utf8-escaped",
        TOKEN_Q,
        b"event=OnHostUp&message=%ff%fe",
        FORM,
        {},
        400,
        "invalid_encoding",
    ),
    (
        "bad-utf8-query",
        f"{TOKEN_Q}&event=OnHostUp&message=%C3%28",
        b"",
        None,
        {},
        400,
        "invalid_encoding",
    ),
    (
        "duplicate-event",
        TOKEN_Q,
        b"event=OnHostUp&event=OnHostDown",
        FORM,
        {},
        400,
        "duplicate_field",
    ),
    (
        "conflict",
        f"{TOKEN_Q}&event=HostUp",
        b"event=OnHostDown",
        FORM,
        {},
        400,
        "conflicting_field",
    ),
    ("bad-hint", f"{TOKEN_Q}&farm_id=abc", b"event=OnHostUp", FORM, {}, 400, "invalid_hint"),
    ("negative-hint", f"{TOKEN_Q}&farm_id=-1", b"event=OnHostUp", FORM, {}, 400, "invalid_hint"),
    (
        "huge-hint",
        f"{TOKEN_Q}&farm_id={'9' * 30}",
        b"event=OnHostUp",
        FORM,
        {},
        400,
        "invalid_hint",
    ),
    ("text-plain", TOKEN_Q, b"event=OnHostUp", "text/plain", {}, 415, "unsupported_media_type"),
    ("no-content-type", TOKEN_Q, b"event=OnHostUp", None, {}, 415, "unsupported_media_type"),
    (
        "multipart",
        TOKEN_Q,
        b"--x\r\n",
        "multipart/form-data; boundary=x",
        {},
        415,
        "unsupported_media_type",
    ),
    ("bad-json", TOKEN_Q, b"{event: 1", "application/json", {}, 400, "malformed_json"),
    ("json-array", TOKEN_Q, b'["OnHostUp"]', "application/json", {}, 400, "malformed_json"),
    (
        "json-number-event",
        TOKEN_Q,
        b'{"event": ["x"]}',
        "application/json",
        {},
        400,
        "invalid_field",
    ),
    (
        "json-bad-utf8",
        TOKEN_Q,
        b'{"event": "\xff"}',
        "application/json",
        {},
        400,
        "invalid_encoding",
    ),
    ("too-many-fields", TOKEN_Q, b"&".join([b"a=1"] * 300), FORM, {}, 400, "malformed_form"),
]


@pytest.mark.parametrize(
    ("query", "body", "ctype", "headers", "status", "code"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_refused_and_nothing_stored(
    client, session_factory, query, body, ctype, headers, status, code
):
    headers = dict(headers)
    if ctype:
        headers["Content-Type"] = ctype
    response = client.post(f"/events?{query}", data=body, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    payload = response.get_json()
    assert payload["error"] == code
    assert payload["message"]
    assert count_events(session_factory) == 0


def test_body_over_limit_is_413(client, session_factory):
    body = b"event=OnHostUp&message=" + b"x" * (64 * 1024)
    response = client.post(f"/events?{TOKEN_Q}", data=body, content_type=FORM)
    assert response.status_code == 413
    assert response.get_json()["error"] == "request_entity_too_large"
    assert count_events(session_factory) == 0


def test_limit_is_configurable(make_app, session_factory):
    client = make_app(max_body_bytes=100).test_client()
    response = client.post(
        f"/events?{TOKEN_Q}", data=b"event=OnHostUp&message=" + b"x" * 100, content_type=FORM
    )
    assert response.status_code == 413
    assert count_events(session_factory) == 0


def test_ingest_refuses_everything_without_configured_token(make_app, session_factory):
    client = make_app(ingest_token=None).test_client()
    response = client.post("/events?token=", data=b"event=OnHostUp", content_type=FORM)
    assert response.status_code == 401
    assert response.get_json()["error"] == "ingest_not_configured"
    assert count_events(session_factory) == 0


def test_disallowed_address_is_403(make_app, session_factory):
    client = make_app(environ={"INGEST_ALLOWED_IPS": "10.0.0.0/8, 192.168.1.5"}).test_client()
    response = client.post(f"/events?{TOKEN_Q}", data=b"event=OnHostUp", content_type=FORM)
    assert response.status_code == 403
    assert response.get_json()["error"] == "address_not_allowed"
    assert count_events(session_factory) == 0


def test_failed_posts_flood_is_429_with_retry_after(make_app, session_factory):
    from app.ingest.auth import FloodLimiter

    app = make_app(ingest_rate_per_minute=3)
    # A frozen clock 20 s into a minute: the window cannot roll over mid-test.
    services_of(app).flood_limiter = FloodLimiter(3, clock=lambda: 60_020.0)
    client = app.test_client()
    codes = [
        client.post("/events?token=wrong", data=b"event=OnHostUp", content_type=FORM).status_code
        for _ in range(5)
    ]
    assert codes[:3] == [401, 401, 401]
    assert codes[3:] == [429, 429]
    last = client.post("/events?token=wrong", data=b"event=OnHostUp", content_type=FORM)
    assert last.headers["Retry-After"] == "40"
    assert last.get_json()["error"] == "too_many_requests"
    assert count_events(session_factory) == 0


def test_authenticated_deliveries_are_never_refused_for_their_rate(make_app, session_factory):
    from app.ingest.auth import FloodLimiter

    app = make_app(ingest_rate_per_minute=3)
    services_of(app).flood_limiter = FloodLimiter(3, clock=lambda: 60_020.0)
    client = app.test_client()
    for _ in range(5):  # the address is flooded with failures ...
        client.post("/events?token=wrong", data=b"event=OnHostUp", content_type=FORM)
    codes = [  # ... and its good deliveries, far past the old limit, are all taken
        client.post(f"/events?{TOKEN_Q}", data=b"event=OnHostUp", content_type=FORM).status_code
        for _ in range(20)
    ]
    assert codes == [202] * 20
    assert count_events(session_factory) == 20


@pytest.mark.parametrize(
    "message",
    [
        "<script>alert(1)</script>",
        "\x00\x01\x02 NUL and controls",
        "'; DROP TABLE events; --",
        "Instance " + "(" * 20000,
        "emoji \U0001f525 and RTL \u202e",
    ],
    ids=["markup", "controls", "sql", "parens", "unicode"],
)
def test_hostile_messages_are_stored_verbatim_never_500(client, session_factory, message):
    response = client.post(f"/events?{TOKEN_Q}", json={"event": "OnHostDown", "message": message})
    assert response.status_code == 202, response.get_data(as_text=True)
    # PostgreSQL cannot hold NUL; it is kept visible as U+2400 on every backend.
    assert only_event(session_factory).message == message.strip().replace("\x00", "\u2400")


def test_wrong_method_is_json_405(client):
    response = client.put(f"/events?{TOKEN_Q}", data=b"event=OnHostUp")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
