"""Login, logout, CSRF, the login throttle, safe redirects and refusals."""

from __future__ import annotations

import pytest

from app.dashboard.auth import safe_next
from app.dashboard.throttle import LoginThrottle
from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_USER, csrf_of, log_in, post

PAGES = [
    "/",
    "/events",
    "/events/1",
    "/events/feed?after=1",
    "/rules",
    "/rules/replace-terminated-web",
    "/actions",
    "/actions/1",
    "/servers",
    "/servers/abc",
    "/health",
]
FORMS = [
    "/actions/1/retry",
    "/actions/1/cancel",
    "/actions/1/run",
    "/rules/replace-terminated-web/pause",
    "/rules/replace-terminated-web/resume",
    "/rules/replace-terminated-web/dry-run",
    "/rules/replace-terminated-web/test",
    "/rules/replace-terminated-web/backtest",
    "/health/breakers/default/close",
    "/logout",
]


@pytest.mark.parametrize("url", PAGES)
def test_pages_send_strangers_to_login(dash_app, url):
    response = dash_app.test_client().get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("url", [u for u in FORMS if u != "/logout"])
def test_forms_refuse_strangers(dash_app, url):
    client = dash_app.test_client()
    response = client.post(url, data={"csrf_token": csrf_of(client)})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"


@pytest.mark.parametrize("url", FORMS)
def test_forms_refuse_without_csrf(admin, url):
    response = admin.post(url, data={})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


@pytest.mark.parametrize("url", FORMS)
def test_forms_refuse_wrong_csrf(admin, url):
    response = admin.post(url, data={"csrf_token": "x" * 43})
    assert response.status_code == 400


def test_login_form_needs_csrf(dash_app):
    client = dash_app.test_client()
    client.get("/login")
    response = client.post("/login", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    assert response.status_code == 400


def test_login_sets_a_safe_cookie_and_lands_on_next(dash_app):
    client = dash_app.test_client()
    response = log_in(client, next="/actions?status=dead")
    assert response.status_code == 303
    assert response.headers["Location"] == "/actions?status=dead"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    assert client.get("/").status_code == 200


def test_secure_cookie_when_configured(make_app):
    app = make_app(admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD, session_cookie_secure=True)
    client = app.test_client()
    response = log_in(client)
    assert "Secure" in response.headers["Set-Cookie"]


def test_wrong_password_and_wrong_user_are_refused(dash_app):
    client = dash_app.test_client()
    response = log_in(client, password="nope")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    token = csrf_of(client)
    response = client.post(
        "/login", data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 401
    assert client.get("/").status_code == 302


def test_repeated_failures_lock_out_even_the_right_password(dash_app):
    client = dash_app.test_client()
    for _ in range(5):
        assert log_in(client, password="guess").status_code == 401
    response = log_in(client)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert client.get("/").status_code == 302


def test_lockout_is_per_user_across_addresses(dash_app):
    for i in range(5):
        client = dash_app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{i}"
        assert log_in(client, password="guess").status_code == 401
    other = dash_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    assert log_in(other).status_code == 429


def test_lockout_by_address_behind_a_trusted_proxy(make_app):
    app = make_app(
        environ={"TRUSTED_PROXIES": "1"}, admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD
    )
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
    for i in range(5):
        assert log_in(client, password="guess", username=f"user{i}").status_code == 401
    assert log_in(client).status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.8"
    assert log_in(elsewhere).status_code == 303


def test_lockout_by_address_cannot_be_dodged_with_a_written_hop(make_app):
    # With fewer X-Forwarded-For hops than trusted proxies the socket address counts, so a
    # client that writes a new address into the header each time stays one address.
    app = make_app(
        environ={"TRUSTED_PROXIES": "2"}, admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD
    )
    for i in range(5):
        client = app.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{i}"
        assert log_in(client, password="guess", username=f"user{i}").status_code == 401
    last = app.test_client()
    last.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.99"
    assert log_in(last).status_code == 429


def test_logout_needs_post_and_forgets_the_session(admin):
    assert admin.get("/logout").status_code == 405
    response = post(admin, "/logout")
    assert response.status_code == 303
    assert admin.get("/").status_code == 302


def test_changing_the_password_ends_sessions(admin, dash_app):
    assert admin.get("/").status_code == 200
    config = dash_app.config["LIFEGUARD"]
    dash_app.config["LIFEGUARD"] = config.with_overrides(admin_password="a new one")
    assert admin.get("/").status_code == 302


def test_refuses_when_not_configured(make_app):
    client = make_app(admin_user=None, admin_password=None).test_client()
    for url in ("/", "/login", "/events"):
        response = client.get(url)
        assert response.status_code == 503
        assert "not configured" in response.get_data(as_text=True)
    assert client.post("/login", data={"username": "", "password": ""}).status_code == 503


def test_demo_mode_without_credentials_is_open(make_app):
    client = make_app(admin_user=None, admin_password=None, demo_mode=True).test_client()
    assert client.get("/").status_code == 200


def test_ingest_post_events_is_untouched(dash_app):
    from tests.conftest import INGEST_TOKEN

    response = dash_app.test_client().post(
        f"/events?token={INGEST_TOKEN}", data={"event": "OnHostUp", "message": "hello"}
    )
    assert response.status_code == 202


def test_pages_carry_security_headers(admin):
    response = admin.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/actions?status=dead", "/actions?status=dead"),
        ("/events/5", "/events/5"),
        (None, "/"),
        ("", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("evil.example", "/"),
        ("/logout", "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def test_login_ignores_an_offsite_next(dash_app):
    response = log_in(dash_app.test_client(), next="//evil.example/x")
    assert response.headers["Location"] == "/"


def test_throttle_doubles_and_forgets():
    now = [0.0]
    throttle = LoginThrottle(free=2, base_seconds=1, cap_seconds=8, forget_seconds=100,
                             clock=lambda: now[0])  # fmt: skip
    throttle.failed("k")
    assert throttle.retry_after("k") == 0
    throttle.failed("k")
    assert throttle.retry_after("k") == 1
    throttle.failed("k")
    assert throttle.retry_after("k") == 2
    for _ in range(10):
        throttle.failed("k")
    assert throttle.retry_after("k") == 8
    now[0] = 200.0
    assert throttle.retry_after("k") == 0
    throttle.failed("k")
    throttle.succeeded("k")
    assert throttle.retry_after("k") == 0


def test_throttle_keeps_a_bounded_table():
    throttle = LoginThrottle(max_keys=10)
    for i in range(100):
        throttle.failed(f"k{i}")
    assert len(throttle._records) == 10
