"""Keep credentials out of everything meant for people: log lines, error messages, pages.

No imports beyond the standard library, so the Scalr client (no Flask), the
web process's logging, the dashboard and the API share one definition of what
a secret looks like.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# Query parameters whose values are credentials: the ingest token in a Scalr
# callback URL, a Query API Signature (valid forever, scalr-protocol.md 3.3).
SECRET_PARAMS = ("token", "signature", "keyid_secret", "secret", "password", "api_key")
_PARAM_RE = re.compile(
    r"(?i)(?P<key>(?:^|[?&;\s\"'])(?:" + "|".join(SECRET_PARAMS) + r")=)(?P<value>[^&\s\"';#]*)"
)
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
REDACTED = "[redacted]"
# Keys of action parameters and answers whose values are credentials (webhook headers, tokens).
_SECRET_KEY = re.compile(
    r"(?i)(authorization|password|passwd|secret|token|api[_-]?key|signature|cookie|credential)"
)


def redact(text: str, *secrets: str) -> str:
    """Replace secret parameter values, bearer tokens and the given literal secrets."""
    text = _PARAM_RE.sub(lambda m: m.group("key") + REDACTED, text)
    text = _BEARER_RE.sub(lambda m: m.group(1) + REDACTED, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def redact_params(value: Any, key: str = "") -> Any:
    """Return `value` with the values of credential-like keys replaced, recursively."""
    if key and _SECRET_KEY.search(key) and not isinstance(value, dict | list):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, dict):
        return {k: redact_params(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_params(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Redact a record's formatted message; on a logger it cleans the record at its source."""

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


def install_on(*logger_names: str) -> None:
    """Attach one RedactingFilter to each named logger (idempotent)."""
    for name in logger_names:
        source = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in source.filters):
            source.addFilter(RedactingFilter())
