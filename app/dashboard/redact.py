"""Hide credential-looking values (webhook headers, tokens) before anything shows them."""

from __future__ import annotations

import re
from typing import Any

from app.redaction import REDACTED

_SECRET_KEY = re.compile(
    r"(?i)(authorization|password|passwd|secret|token|api[_-]?key|signature|cookie|credential)"
)


def redact_params(value: Any, key: str = "") -> Any:
    """Return `value` with the values of credential-like keys replaced, recursively."""
    if key and _SECRET_KEY.search(key) and not isinstance(value, dict | list):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, dict):
        return {k: redact_params(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_params(v) for v in value]
    return value
