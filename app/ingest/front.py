"""The two ingest posts answered in WSGI terms, in front of Flask, when they are stored.

`IngestFront` wraps the Flask app's `wsgi_app`. A POST to exactly `/events` or
`/webhooks/scalr` that passes the same checks the views make (body limit, allow-list,
token or signature, parsing) is stored and answered here, without Flask's app and
request contexts, URL routing, the app-wide hooks and the `LocalProxy` look-ups: under
wrk that machinery cost about a fifth of a delivery's own CPU (bench/cpu.py).

Everything else goes to Flask unchanged: other methods and paths, and every delivery this
layer would not answer 2xx. A delivery is handed on *before* anything of it has had an
effect here (no flood count, no metric, no row), so Flask answers it exactly as it did
before this layer existed: same status, JSON, headers, metrics, flood count and log
line, from the same code (`app.ingest.routes`, `app.errors`). The one exception is a
delivery whose store failed (spool full, an unexpected error): it is handed on with that
outcome in the wsgi_env (`STORE_FAILED`), and the view raises it instead of storing the
row a second time, so its answer too comes from Flask's handlers.

Like `routes`, this module speaks HTTP; the rest of `app.ingest` does not.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from flask import Flask
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_input_stream

from app.config import Config
from app.ingest import auth, store, wire
from app.ingest.service import Spooled, ingest_of
from app.ingest.store import Stored
from app.logging_setup import bind, new_request_id, unbind
from app.metrics import INGEST_SECONDS
from app.services import services_of

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

OBSERVER_PATH = "/events"
WEBHOOK_PATH = "/webhooks/scalr"
# The Flask endpoints of the two views: the label of INGEST_SECONDS either way.
ENDPOINTS = {OBSERVER_PATH: "ingest.receive_event", WEBHOOK_PATH: "ingest.receive_webhook"}
# Where a failed store's exception travels to the view (a WSGI server sets no such key
# from a request: its HTTP headers all become HTTP_*).
STORE_FAILED = "lifeguard.ingest.store_failed"

# The headers a delivery keeps (store.KEPT_HEADERS), and Authorization to say it was there,
# each with its wsgi_env key as werkzeug's EnvironHeaders reads it.
READ_HEADERS = (*store.KEPT_HEADERS, "Authorization")
_ENVIRON_KEYS = tuple(
    (name, key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}")
    for name in READ_HEADERS
    for key in [name.upper().replace("-", "_")]
)


def read_headers(wsgi_env: dict[str, Any]) -> dict[str, str]:
    """Return the headers of READ_HEADERS the request has, as `request.headers.get` reads them."""
    return {name: wsgi_env[key] for name, key in _ENVIRON_KEYS if key in wsgi_env}


def answer_of(outcome: Stored | Spooled) -> tuple[int, str]:
    """Return the status and JSON text of a stored (or spooled) delivery's answer.

    Written directly, as jsonify writes it (compact, a final newline): 202 new, 200 a
    repeated eventId, 202 spooled. An ingest key is hex: nothing in it to escape.
    """
    if isinstance(outcome, Spooled):
        return 202, f'{{"id":null,"spooled":"{outcome.reference}"}}\n'
    if outcome.duplicate:
        return 200, f'{{"id":{outcome.id:d},"duplicate":true}}\n'
    return 202, f'{{"id":{outcome.id:d}}}\n'


Authenticate = Callable[[str | None, Callable[[], None]], None]


def _check(_address: str | None, check: Callable[[], None]) -> None:
    check()


def checked_row(
    wsgi_env: dict[str, Any],
    path: str,
    body: bytes,
    config: Config,
    clock: Callable[[], datetime],
    authenticate: Authenticate = _check,
) -> dict[str, Any]:
    """Check a delivery to `path` and return its event row; raise the typed refusal if not.

    The one sequence of checks of both endpoints, for this layer and for the Flask views
    alike: the allow-list, then the token (legacy) or the signature (webhook), each through
    `authenticate` (the views count a failure against the address), then the parsing.
    """
    address = wsgi_env.get("REMOTE_ADDR")
    auth.admit(address, config.ingest_allowed_ips)
    query_string = wsgi_env.get("QUERY_STRING", "").encode("latin1")
    headers = read_headers(wsgi_env)
    query = wire.decode_query(query_string) if path == OBSERVER_PATH else None
    delivery = wire.Delivery(
        method="POST",
        path=path,
        query_string=query_string,
        body=body,
        content_type=headers.get("Content-Type"),
        headers=headers,
        remote_addr=address,
        query=query,
    )
    if query is not None:
        presented = auth.presented_token(query, headers.get("Authorization"))
        authenticate(address, lambda: auth.check_ingest_token(config.ingest_token, presented))
        return store.observer_row(delivery)
    authenticate(
        address,
        lambda: auth.check_webhook_signature(
            config.scalr_webhook_key,
            body,
            headers.get("Date"),
            wsgi_env.get("HTTP_X_SIGNATURE"),
            config.webhook_max_skew_seconds,
            clock(),
        ),
    )
    return store.webhook_row(delivery, config.webhook_keep_user_variables)


# werkzeug's status lines ("202 ACCEPTED"), as a Flask Response would send them.
_STATUS = {code: f"{code} {HTTP_STATUS_CODES[code].upper()}" for code in (200, 202)}


class _Unreadable:
    """An input stream that raises what reading the real one raised (for Flask to answer)."""

    def __init__(self, error: BaseException) -> None:
        self._error = error

    def read(self, *_args: Any) -> bytes:
        raise self._error

    def readinto(self, _buffer: Any) -> int:
        raise self._error


class IngestFront:
    """WSGI middleware: store and answer the ingest posts it can, hand the rest to Flask."""

    def __init__(self, app: Flask, wrapped: WSGIApp) -> None:
        self.app = app
        self.wrapped = wrapped
        self._timers: dict[str, Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # The request's WSGI dictionary, named apart from the process environment.
        wsgi_env = environ
        path = wsgi_env.get("PATH_INFO")
        if wsgi_env.get("REQUEST_METHOD") != "POST" or path not in ENDPOINTS:
            return self.wrapped(wsgi_env, start_response)
        started = time.perf_counter()
        request_id = new_request_id(wsgi_env.get("HTTP_X_REQUEST_ID"))
        token = bind(request_id=request_id)
        try:
            outcome = self._store(wsgi_env, path)
        finally:
            unbind(token)
        if outcome is None:  # not stored here: Flask answers it, from the start
            return self.wrapped(wsgi_env, start_response)
        status, body = answer_of(outcome)
        data = body.encode()
        start_response(
            _STATUS[status],
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                ("X-Request-ID", request_id),
            ],
        )
        self._timer(ENDPOINTS[path]).observe(time.perf_counter() - started)
        return [data]

    def _timer(self, endpoint: str) -> Any:
        timer = self._timers.get(endpoint)
        if timer is None:
            timer = self._timers[endpoint] = INGEST_SECONDS.labels(endpoint)
        return timer

    def _store(self, wsgi_env: dict[str, Any], path: str) -> Stored | Spooled | None:
        """Store the delivery and return where it went; None to leave it to Flask."""
        app = self.app
        ingest = ingest_of(app)
        ingest.start()
        try:
            # The same stream Flask's request.get_data reads, with the same limit (413).
            stream = get_input_stream(wsgi_env, max_content_length=app.config["MAX_CONTENT_LENGTH"])
        except Exception:
            return None  # nothing read: Flask reads it again and refuses it
        try:
            body = stream.read()
        except Exception as exc:
            # Partly read: Flask's read raises the same error, so it gives the same answer.
            wsgi_env["wsgi.input"] = _Unreadable(exc)
            return None
        # Flask reads the body again from here if it answers this delivery.
        wsgi_env["wsgi.input"] = io.BytesIO(body)
        try:
            row = checked_row(wsgi_env, path, body, app.config["LIFEGUARD"], services_of(app).clock)
        except Exception:
            return None  # a refusal (or a bug): Flask finds and answers it the same way
        try:
            return ingest.store(row)
        except Exception as exc:
            wsgi_env[STORE_FAILED] = exc
            return None
