"""Logging: one format, and secrets redacted from every line that might carry one."""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

# Query parameters and headers whose values are credentials: an ingest token in a
# Scalr callback URL, a Query API signature (valid forever, scalr-protocol.md 3.3).
SECRET_PARAMS = ("token", "signature", "keyid_secret", "secret", "password", "api_key")
_PARAM_RE = re.compile(
    r"(?i)(?P<key>(?:^|[?&;\s\"'])(?:" + "|".join(SECRET_PARAMS) + r")=)(?P<value>[^&\s\"';]*)"
)
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Replace secret query parameter values and bearer tokens in `text`."""
    text = _PARAM_RE.sub(lambda m: m.group("key") + REDACTED, text)
    return _BEARER_RE.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingFilter(logging.Filter):
    """Redact secrets from a record's formatted message before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug; let it through
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Give the root logger one handler with the redacting filter, once."""
    root = logging.getLogger()
    if any(getattr(h, "_lifeguard", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    handler._lifeguard = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    # Loggers that print request lines redact at the source, whatever handler is attached.
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error"):
        source = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in source.filters):
            source.addFilter(RedactingFilter())
    # urllib3 logs full request URLs at DEBUG; keep it quiet even under a DEBUG root.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


class RedactingGunicornLogger(GunicornLogger):
    """Gunicorn's logger with the query string's secrets redacted from the access log."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q", "U", "{raw_uri}e"):
            if key in atoms and isinstance(atoms[key], str):
                atoms[key] = redact(atoms[key])
        return atoms
