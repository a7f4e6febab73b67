"""The dashboard's doors: CSRF on every form, the `next` redirect, session fixation, cookie
flags, the API refusing a cookie, and constant-time comparison of every secret.

Redirect payloads follow OWASP's "Unvalidated Redirects and Forwards Cheat Sheet" and the
usual open-redirect bypass lists (scheme-relative, backslash, whitespace, `javascript:`).
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from tests.conftest import API_TOKEN
from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_USER, csrf_of, log_in

APP_DIR = Path(__file__).resolve().parents[2] / "app"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SAMPLE_ARGS = {"name": "replace-terminated-web", "environment": "default"}


def form_urls(app, prefix: str = "dashboard.") -> list[tuple[str, str]]:
    """Every (method, url) of the app's unsafe routes whose endpoint starts with `prefix`."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        methods = sorted((rule.methods or set()) & UNSAFE)
        if not methods or not rule.endpoint.startswith(prefix):
            continue
        choices = []
        for arg in sorted(rule.arguments):
            converter = rule._converters[arg]
            if isinstance(converter, AnyConverter):
                choices.append([(arg, item) for item in converter.items])
            elif isinstance(converter, IntegerConverter):
                choices.append([(arg, 1)])
            else:
                choices.append([(arg, SAMPLE_ARGS.get(arg, "x"))])
        for combo in itertools.product(*choices):
            url = adapter.build(rule.endpoint, dict(combo), method=methods[0])
            found.extend((method, url) for method in methods)
    return found


def test_every_dashboard_form_is_enumerated(dash_app):
    urls = form_urls(dash_app)
    assert ("POST", "/login") in urls and ("POST", "/logout") in urls
    assert len(urls) >= 11, urls


def test_every_dashboard_form_refuses_a_post_without_its_token(dash_app):
    client = dash_app.test_client()
    assert log_in(client).status_code == 303
    for method, url in form_urls(dash_app):
        for data in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}):
            response = client.open(url, method=method, data=data)
            assert response.status_code == 400, (method, url, data, response.status_code)
            assert "security token" in response.get_data(as_text=True)
    # The session survived every refusal: the token was the only thing missing.
    token = csrf_of(client)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303


def test_a_token_from_another_session_is_refused(dash_app):
    victim, attacker = dash_app.test_client(), dash_app.test_client()
    assert log_in(victim).status_code == 303
    foreign = csrf_of(attacker)
    response = victim.post("/rules/replace-terminated-web/pause", data={"csrf_token": foreign})
    assert response.status_code == 400


def test_the_api_takes_no_cookie_for_a_token(dash_app):
    client = dash_app.test_client()
    assert log_in(client).status_code == 303
    for method, url in form_urls(dash_app, prefix="api."):
        response = client.open(url, method=method)
        assert response.status_code == 401, (url, response.status_code)
        assert response.get_json()["error"] in {"missing_token", "bad_token"}
    ok = client.get("/api/v1/events", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert ok.status_code == 200


OFFSITE = [
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "////evil.example",
    "https://evil.example",
    "http://evil.example/",
    "HTTPS://evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    " //evil.example",
    "/%09/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https:evil.example",
    "http:/\\evil.example",
    "/login?next=//evil.example",
    "@evil.example",
    "evil.example",
    "/\u3002evil.example",
    "\u2215\u2215evil.example",
    "%2f%2fevil.example",
]


@pytest.mark.parametrize("target", OFFSITE, ids=range(len(OFFSITE)))
def test_login_never_redirects_off_site(dash_app, target):
    client = dash_app.test_client()
    response = log_in(client, next=target)
    assert response.status_code == 303
    location = response.headers["Location"]
    # A path on this site, never a host (browsers do not percent-decode a Location).
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert not urlsplit(location).scheme and not urlsplit(location).netloc, location
    assert not any(ord(ch) < 0x21 or ch == "\\" for ch in location), location
    # Already logged in, GET /login?next= redirects the same safe way.
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302
    assert again.headers["Location"] == location


def test_an_on_site_next_is_kept(dash_app):
    response = log_in(dash_app.test_client(), next="/events?name=HostDown")
    assert response.headers["Location"] == "/events?name=HostDown"


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_login_replaces_the_session_and_its_token(dash_app):
    client = dash_app.test_client()
    page = client.get("/login")
    before = session_cookie(page).split(";", 1)[0]
    planted = csrf_of(client)
    with client.session_transaction() as sess:
        sess["planted"] = "by-an-attacker"
    response = log_in(client)
    after = session_cookie(response).split(";", 1)[0]
    assert after != before
    with client.session_transaction() as sess:
        assert "planted" not in sess, dict(sess)
        assert sess["csrf"] != planted
    # The token the attacker knew before the login no longer works.
    assert client.post("/logout", data={"csrf_token": planted}).status_code == 400
    # And the cookie from before the login is still a stranger's.
    stranger = dash_app.test_client()
    stranger.set_cookie("session", before.split("=", 1)[1])
    assert stranger.get("/").status_code == 302


def test_logout_forgets_the_session(dash_app):
    client = dash_app.test_client()
    log_in(client)
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("secure", [False, True])
def test_session_cookie_flags(make_app, tmp_path, secure):
    from tests.dashboard.conftest import use_rules

    application = make_app(
        admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD, session_cookie_secure=secure
    )
    use_rules(application, tmp_path / "rules.yml")
    cookie = session_cookie(log_in(application.test_client()))
    flags = {part.strip().split("=", 1)[0].lower(): part.strip() for part in cookie.split(";")}
    assert "httponly" in flags
    assert flags.get("samesite", "").lower() in {"samesite=lax", "samesite=strict"}
    assert ("secure" in flags) is secure


def test_session_cookie_secure_is_read_from_the_environment():
    from app.config import Config

    assert Config.from_env({"SESSION_COOKIE_SECURE": "1"}).session_cookie_secure is True
    assert Config.from_env({}).session_cookie_secure is False


# `==` between two non-constant values where either side names a secret. Each allowed
# comparison here is of a value that is not a secret, with the reason.
_SECRET_WORDS = re.compile(
    r"(?i)(token|secret|password|passwd|signature|fingerprint|api_key|webhook_key|csrf|\bfp\b|hmac)"
)
NOT_SECRETS = {
    ("rules/store.py", "signature == self._signature"): "the rules file's (mtime, size)",
    ("rules/store.py", "digest == self._digest"): "the rules file's content hash",
    (
        "scalr/environments.py",
        "('secret_key' in raw) == ('secret_key_env' in raw)",
    ): "two booleans: which keys are present",
}


def secret_comparisons() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(APP_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) for o in operands):
                continue
            text = ast.unparse(node)
            key = (str(path.relative_to(APP_DIR)), text)
            if _SECRET_WORDS.search(text) and key not in NOT_SECRETS:
                found.append((key[0], node.lineno, text))
    return found


def test_secrets_are_compared_in_constant_time_only():
    assert secret_comparisons() == []
    uses = [p for p in APP_DIR.rglob("*.py") if "secrets_equal(" in p.read_text()]
    names = {str(p.relative_to(APP_DIR)) for p in uses}
    assert {"ingest/auth.py", "api/__init__.py", "dashboard/csrf.py", "dashboard/auth.py"} <= names
