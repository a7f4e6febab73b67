"""Template filters for dates, durations and JSON; registered on the app's Jinja env."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from app.dashboard import bp
from app.redaction import redact_params
from app.rules.durations import format_duration
from app.web import get_clock


@bp.app_template_filter("dt")
def format_datetime(value: datetime | None) -> str:
    """Show an aware datetime as `2024-05-01 12:34:56 UTC`."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def span(seconds: float) -> str:
    """Show a duration in its two largest units: `2h 5m`, `40s`."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0s"


@bp.app_template_filter("rel")
def relative(value: datetime | None) -> str:
    """Show how far `value` is from now: `in 2m 5s` or `3h 2m ago`."""
    if value is None:
        return ""
    delta = (value - get_clock()()).total_seconds()
    if abs(delta) < 1:
        return "now"
    return f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"


@bp.app_template_filter("duration")
def duration(seconds: int | float | None) -> str:
    """Show seconds the way the rules file writes them: `2m`, `1h`, `90s`."""
    if seconds is None:
        return "—"
    return format_duration(int(seconds)) if seconds else "none"


@bp.app_template_filter("iso")
def iso(value: datetime | None) -> str:
    """Return the ISO form scripts read from data attributes."""
    return value.isoformat() if value else ""


@bp.app_template_filter("pretty")
def pretty(value: Any) -> str:
    """Indent JSON for a <pre> block (autoescaping still applies)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@bp.app_template_filter("safe_params")
def safe_params(value: Any) -> Any:
    """Hide header values and keys that look like credentials."""
    return redact_params(value)
