"""Logging: one format (text or JSON), a request id on every line, secrets redacted.

`LOG_FORMAT=json` writes one JSON object per line (for Loki, Elasticsearch,
CloudWatch); the default is one readable text line. Every line carries the
fields bound to the current context: `request_id` in the web process (taken
from `X-Request-ID` when a proxy sent a sane one, else made here), and in the
worker the `request_id` of the delivery that stored the event, `event_id`
and `job_id`, so one id follows an event from ingest into its jobs and their
Scalr calls (whose lines carry the TransactionID beside it).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

from app.redaction import RedactingFilter, install_on, redact

_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "lifeguard_log_context", default=None
)
CONTEXT_FIELDS = ("request_id", "event_id", "job_id")
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"


def first_line(exc: BaseException, limit: int = 200) -> str:
    """Return the first line of an exception's message, cut at `limit`, for one log line
    ("" when it has no message): a driver's error can run to pages of SQL and context."""
    text = str(exc)
    return text.splitlines()[0][:limit] if text.strip() else ""


def new_request_id(offered: str | None = None) -> str:
    """Return `offered` when it is a sane id (a proxy's X-Request-ID), else a new one."""
    if offered and _REQUEST_ID_RE.fullmatch(offered):
        return offered
    return secrets.token_hex(16)  # 32 hex digits, as uuid4().hex, without the UUID object


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log line written inside the block (this thread or task)."""
    merged = {**(_CONTEXT.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    token = _CONTEXT.set(merged)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bind(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Set fields for the rest of this context; give the token to `unbind`."""
    merged = {**(_CONTEXT.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    return _CONTEXT.set(merged)


def unbind(token: contextvars.Token[dict[str, Any] | None]) -> None:
    """Undo a `bind`."""
    _CONTEXT.reset(token)


def current_context() -> dict[str, Any]:
    """Return the fields bound now."""
    return dict(_CONTEXT.get() or {})


class ContextFilter(logging.Filter):
    """Copy the bound fields onto each record (and a text suffix for the plain format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT.get() or {}
        for key in CONTEXT_FIELDS:
            if key in context and not hasattr(record, key):
                setattr(record, key, context[key])
        suffix = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_FIELDS if hasattr(record, k))
        record.context = f" [{suffix}]" if suffix else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            if hasattr(record, key):
                body[key] = getattr(record, key)
        if record.exc_info:
            body["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(body, default=str)


def json_logs() -> bool:
    """Say whether LOG_FORMAT asks for JSON lines."""
    return os.environ.get("LOG_FORMAT", "text").strip().lower() == "json"


def configure_logging(level: int = logging.INFO) -> None:
    """Give the root logger one handler with the redacting and context filters, once."""
    root = logging.getLogger()
    if any(getattr(h, "_lifeguard", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_logs() else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactingFilter())
    handler.addFilter(ContextFilter())
    handler._lifeguard = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    # Loggers that print request lines redact at the source, whatever handler is attached.
    install_on("werkzeug", "gunicorn.access", "gunicorn.error", "urllib3.connectionpool")
    # urllib3 logs full request URLs at DEBUG; keep it quiet even under a DEBUG root.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


class RedactingGunicornLogger(GunicornLogger):
    """Gunicorn's logger: the query string's secrets redacted; JSON lines under LOG_FORMAT=json."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q", "U", "{raw_uri}e"):
            if key in atoms and isinstance(atoms[key], str):
                atoms[key] = redact(atoms[key])
        return atoms

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not json_logs():
            super().access(resp, req, environ, request_time)
            return
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        atoms = self.atoms(resp, req, environ, request_time)
        line = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "remote": atoms.get("h"),
            "method": atoms.get("m"),
            "path": atoms.get("U"),
            "query": atoms.get("q"),
            "status": atoms.get("s"),
            "bytes": atoms.get("B"),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "user_agent": atoms.get("a"),
            "request_id": atoms.get("{x-request-id}o"),
        }
        self.access_log.info(json.dumps(line, default=str))
