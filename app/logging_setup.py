"""Logging: one format, and secrets redacted from every line that might carry one."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

from app.redaction import RedactingFilter, install_on, redact


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
    install_on("werkzeug", "gunicorn.access", "gunicorn.error", "urllib3.connectionpool")
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
