"""Value limits every layer shares: the id range and the one whole-number reader.

Ingest, the API, the dashboard and the console all read ids and hints from
untrusted text; they read them here, so "a whole number" means one thing.
"""

from __future__ import annotations

import re

# A database id (BIGINT on PostgreSQL, INTEGER on SQLite) is at most this.
MAX_ID = 2**63 - 1
_DIGITS_RE = re.compile(r"[0-9]{1,19}", re.ASCII)


def positive_int(raw: str | None) -> int | None:
    """Return raw as an int in 1..2**63-1 if it is plain ASCII digits, else None."""
    if raw is None or not _DIGITS_RE.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


def whole_number(raw: str | None) -> int | None:
    """Return `raw` (surrounding blanks allowed) as an id-sized whole number, else None."""
    return positive_int((raw or "").strip())
