"""Webhook actions reach only allowed URLs, on the wire: redirects are not followed, and
what the allow list admits is where the request really goes (path and host as sent).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from app.actions import JobView
from app.actions.webhook import run_webhook, url_allowed
from app.config import Config
from tests.hardening.settings import bounded


class Recorder:
    """A loopback HTTP server that records each request's path and answers as told."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.paths: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                recorder.paths.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    """An outside server (not allowed), and an allowed one that redirects to it."""
    outside = Recorder()
    allowed = Recorder(status=302, location=f"http://127.0.0.1:{outside.port}/stolen")
    yield allowed, outside
    allowed.close()
    outside.close()


def job(url: str, method: str = "POST") -> JobView:
    params = {"url": url, "method": method, "headers": {}, "timeout": 5, "body": "x"}
    return JobView(1, "webhook", "webhook", None, params, {}, None)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_redirect_out_of_the_allow_list_is_not_followed(servers, status, method):
    allowed, outside = servers
    config = Config().with_overrides(webhook_allowed_urls=(f"http://127.0.0.1:{allowed.port}/",))
    with requests.Session() as http:
        outcome = run_webhook(job(f"http://127.0.0.1:{allowed.port}/hook", method), config, http)
    assert allowed.paths == ["/hook"]
    assert outside.paths == [], "the redirect was followed"
    assert outcome.kind == "dead"
    assert outcome.result == {"status": 302, "body": "ok"}


def test_even_a_redirect_the_allow_list_would_admit_is_not_followed(servers):
    allowed, outside = servers
    config = Config().with_overrides(webhook_allowed_urls=("http://127.0.0.1:",))
    with requests.Session() as http:
        run_webhook(job(f"http://127.0.0.1:{allowed.port}/hook"), config, http)
    assert outside.paths == []


def test_a_url_outside_the_allow_list_is_never_sent(servers):
    allowed, outside = servers
    config = Config().with_overrides(webhook_allowed_urls=(f"http://127.0.0.1:{allowed.port}/",))
    with requests.Session() as http:
        outcome = run_webhook(job(f"http://127.0.0.1:{outside.port}/x"), config, http)
    assert outcome.kind == "dead" and "does not allow" in (outcome.error or "")
    assert outside.paths == [] and allowed.paths == []


DOT_PATHS = [
    "/hooks/../admin",
    "/hooks/./../admin",
    "/hooks/x/../../admin",
    "/hooks/..",
    "/hooks/%2e%2e/admin",
    "/hooks/%2E%2E/admin",
    "/hooks/.%2e/admin",
    "/hooks/..%2fadmin",
    "/hooks/..;/admin",
    "/hooks/..\\admin",
]


@pytest.mark.parametrize("path", DOT_PATHS)
def test_dot_segments_cannot_climb_out_of_the_allowed_path(path):
    """What is sent is what was judged: a path the allow list admits stays below it."""
    server = Recorder()
    try:
        base = f"http://127.0.0.1:{server.port}"
        config = Config().with_overrides(webhook_allowed_urls=(f"{base}/hooks",))
        with requests.Session() as http:
            run_webhook(job(base + path), config, http)
        for sent in server.paths:
            assert sent == "/hooks" or sent.startswith("/hooks/"), (path, sent)
            segments = sent.split("?", 1)[0].split("/")
            assert ".." not in segments and "%2e%2e" not in sent.lower(), (path, sent)
    finally:
        server.close()


HOSTS = st.sampled_from(
    ["chat.example", "CHAT.example", "chat.example.evil.net", "evil.net", "127.0.0.1", "[::1]",
     "chat.example.", "xn--chat-example", "chat%2eexample", "chat.example\\@evil.net"]
)  # fmt: skip
URLS = st.builds(
    lambda scheme, user, host, port, path: f"{scheme}://{user}{host}{port}{path}",
    st.sampled_from(["https", "http", "HTTPS", "ftp", "javascript"]),
    st.sampled_from(["", "u@", "u:p@", "chat.example@", ":@"]),
    HOSTS,
    st.sampled_from(["", ":443", ":8443", ":", ":0", ":99999", ":443@evil.net"]),
    st.sampled_from(["", "/", "/hooks", "/hooks/ops", "/hooksevil", "/hooks/../x", "/x/hooks"])
    | st.text(max_size=20).map(lambda t: "/" + t),
)


@bounded(300)
@given(URLS)
def test_an_admitted_url_goes_to_the_allowed_host_and_path(url):
    if not url_allowed(url, ("https://chat.example/hooks",)):
        return
    parts = urlsplit(url)
    assert parts.scheme.lower() == "https"
    assert parts.hostname == "chat.example"
    assert parts.port in (None, 443)
    assert parts.username is None and parts.password is None
    assert parts.path == "/hooks" or parts.path.startswith("/hooks/")
    # requests/urllib3 would connect to the same host.
    prepared = requests.Request("POST", url).prepare()
    assert urlsplit(prepared.url).hostname == "chat.example"
