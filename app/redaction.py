"""Keep credentials out of every text meant for people: log lines, error messages.

No imports beyond the standard library, so the Scalr client (no Flask) and the
web process's logging share one definition of what a secret looks like.
"""

from __future__ import annotations

import logging
import re

# Query parameters whose values are credentials: the ingest token in a Scalr
# callback URL, a Query API Signature (valid forever, scalr-protocol.md 3.3).
SECRET_PARAMS = ("token", "signature", "keyid_secret", "secret", "password", "api_key")
_PARAM_RE = re.compile(
    r"(?i)(?P<key>(?:^|[?&;\s\"'])(?:" + "|".join(SECRET_PARAMS) + r")=)(?P<value>[^&\s\"';#]*)"
)
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
REDACTED = "[redacted]"


def redact(text: str, *secrets: str) -> str:
    """Replace secret parameter values, bearer tokens and the given literal secrets."""
    text = _PARAM_RE.sub(lambda m: m.group("key") + REDACTED, text)
    text = _BEARER_RE.sub(lambda m: m.group(1) + REDACTED, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


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
