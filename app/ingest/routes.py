"""POST /events (legacy RESTEventObserver) and POST /webhooks/scalr (5.x webhooks).

The only place where ingest meets HTTP: the views build a `Delivery` from the request,
call the plain functions of `auth`, `wire` and `store`, and answer their typed errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
from flask import Blueprint, Flask, Response, current_app, g, request
from flask.blueprints import BlueprintSetupState

from app.errors import APIError, json_error
from app.ingest import auth, parsing, spool, store, wire
from app.ingest.front import (
    OBSERVER_PATH,
    STORE_FAILED,
    WEBHOOK_PATH,
    IngestFront,
    answer_of,
    checked_row,
)
from app.ingest.service import ingest_of, install
from app.metrics import INGEST_REFUSED, INGEST_SECONDS
from app.services import get_services, services_of
from app.web import get_clock, get_config

# `flask --app wsgi spool replay` is this blueprint's command group.
bp = Blueprint("ingest", __name__, cli_group="spool")

# Failed posts per address are counted in this file of the instance folder, shared by the
# machine's web processes (app.ingest.auth.SharedCounts).
FAILURE_COUNTS_FILE = "ingest-failures.bin"

# Each typed refusal, its status and its machine code; the message is the error's own text.
# Looked up along the error's class hierarchy, so a subclass may have a row of its own.
ANSWERS: dict[type[Exception], tuple[int, str]] = {
    auth.IngestNotConfigured: (401, "ingest_not_configured"),
    auth.MissingToken: (401, "missing_token"),
    auth.BadToken: (401, "bad_token"),
    auth.AddressNotAllowed: (403, "address_not_allowed"),
    auth.Flooded: (429, "too_many_requests"),
    auth.WebhooksDisabled: (404, "webhooks_disabled"),
    auth.MissingDate: (401, "missing_date"),
    auth.MissingSignature: (401, "missing_signature"),
    auth.BadDate: (401, "bad_date"),
    auth.StaleDate: (401, "stale_date"),
    auth.BadSignature: (401, "bad_signature"),
    wire.InvalidEncoding: (400, "invalid_encoding"),
    wire.MalformedForm: (400, "malformed_form"),
    wire.MalformedJSON: (400, "malformed_json"),
    wire.UnsupportedMediaType: (415, "unsupported_media_type"),
    wire.DuplicateField: (400, "duplicate_field"),
    wire.ConflictingField: (400, "conflicting_field"),
    wire.InvalidField: (400, "invalid_field"),
    store.MissingEvent: (400, "missing_event"),
    parsing.InvalidEventName: (400, "invalid_event"),
    parsing.InvalidHint: (400, "invalid_hint"),
    parsing.InvalidPayload: (400, "invalid_payload"),
    spool.SpoolFull: (503, "spool_full"),
}
REFUSALS = (
    auth.AuthError,
    wire.WireError,
    store.MissingEvent,
    parsing.InvalidEventName,
    parsing.InvalidHint,
    parsing.InvalidPayload,
    spool.SpoolFull,
)


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    """Build this app's ingest (group-commit writer, spool) and its shared failure counts."""
    app = state.app
    assert isinstance(app, Flask)
    services = services_of(app)
    config = services.config
    install(app, config, services.session_factory)
    # The deliveries that are stored skip Flask's request machinery (app.ingest.front).
    app.wsgi_app = IngestFront(app, app.wsgi_app)  # type: ignore[method-assign]
    # create_app builds a limiter of this process's memory; across gunicorn workers the
    # count must be one, so it is replaced by the same limit over the shared file.
    services.flood_limiter = auth.FloodLimiter(
        config.ingest_rate_per_minute,
        clock=time.time,
        path=config.instance_path / FAILURE_COUNTS_FILE,
    )


def api_error(exc: Exception) -> APIError:
    """Return the HTTP answer to a typed ingest refusal."""
    for cls in type(exc).__mro__:
        if cls in ANSWERS:
            status, code = ANSWERS[cls]
            break
    else:
        raise TypeError(f"no answer for {type(exc).__name__}") from exc
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, auth.Flooded) else None
    return APIError(status, code, str(exc), headers)


def _refused(exc: Exception) -> Response:
    error = api_error(exc)
    INGEST_REFUSED.labels(error.code).inc()
    return json_error(error.status, error.code, error.message, error.headers)


@bp.before_request
def _start_clock() -> None:
    g.ingest_started = time.perf_counter()
    ingest_of(current_app).start()


@bp.after_request
def _observe(response: Response) -> Response:
    started = g.get("ingest_started")
    if started is not None:
        INGEST_SECONDS.labels(request.endpoint or "unknown").observe(time.perf_counter() - started)
    return response


for _refusal in REFUSALS:
    bp.register_error_handler(_refusal, _refused)


def _authenticate(address: str | None, check: Callable[[], None]) -> None:
    """Run `check`; a failure is counted against the address (429 past the flood limit)."""
    try:
        check()
    except auth.AuthError as exc:
        raise auth.counted_refusal(address, get_services().flood_limiter, exc) from None


def _stored(row: dict[str, Any]) -> Response:
    """Commit `row` (or spool it) and answer: 202 new, 200 a repeated eventId, 202 spooled."""
    failed = request.environ.pop(STORE_FAILED, None)
    if failed is not None:
        # app.ingest.front tried to store this delivery and failed: answer that failure
        # here (spool full, an unexpected error) instead of storing the row again.
        raise failed
    status, body = answer_of(ingest_of(current_app).store(row))
    return Response(body, status, mimetype="application/json")


def _checked(path: str) -> dict[str, Any]:
    """Check this request's delivery as the front does, failures counted; return its row."""
    body = request.get_data(cache=True)
    return checked_row(request.environ, path, body, get_config(), get_clock(), _authenticate)


@bp.post(OBSERVER_PATH)
def receive_event() -> Response:
    """Store a RESTEventObserver notification (form body, query string or JSON)."""
    return _stored(_checked(OBSERVER_PATH))


@bp.post(WEBHOOK_PATH)
def receive_webhook() -> Response:
    """Store a signed Scalr 5.x webhook; a repeated eventId answers 200."""
    return _stored(_checked(WEBHOOK_PATH))


@bp.cli.command("replay")
def spool_replay() -> None:
    """Move spooled deliveries that no running process holds into the database."""
    ingest = ingest_of(current_app)
    moved = ingest.spool.replay(ingest.factory, ingest.writer_commit_for_replay)
    stats = ingest.stats()
    click.echo(f"replayed {moved}; left in the spool: {stats.depth} in {stats.segments} files")
