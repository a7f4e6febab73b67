"""Parse the durations of a rules file: `delay`, `throttle.per`, `timeout`.

Accepted: a whole number of seconds (`120`, `"120"`), or units `s`, `m`, `h`,
`d` (`30s`, `2m`, `1h`, `1d`), combinable largest first without spaces
(`1h30m`, `2m30s`), as Go and Prometheus write them. No fractions, no weeks,
no milliseconds: every delay Lifeguard schedules is whole seconds.
"""

from __future__ import annotations

import re

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_HINT = "use seconds or 30s, 2m, 1h, 1d (combinable: 1h30m)"


class DurationError(ValueError):
    """A duration that cannot be read or is out of range."""


def parse_duration(value: object, *, maximum: int | None = None, minimum: int = 0) -> int:
    """Return `value` as whole seconds, or raise `DurationError` saying why not."""
    if isinstance(value, bool):
        raise DurationError(f"expected a duration, got {str(value).lower()}: {_HINT}")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        seconds = _parse_text(value.strip())
    else:
        raise DurationError(f"expected a duration, got {type(value).__name__}: {_HINT}")
    if seconds < minimum:
        raise DurationError(
            f"duration {value!r} is below the minimum of {format_duration(minimum)}"
        )
    if maximum is not None and seconds > maximum:
        raise DurationError(
            f"duration {value!r} is above the maximum of {format_duration(maximum)}"
        )
    return seconds


def _parse_text(text: str) -> int:
    """Return the seconds that `text` names."""
    if text.isdigit():
        return int(text)
    match = _DURATION.fullmatch(text)
    if not text or match is None or not any(match.groups()):
        raise DurationError(f"bad duration {text!r}: {_HINT}")
    return sum(int(n) * unit for n, unit in zip(match.groups(), _UNITS.values(), strict=True) if n)


def format_duration(seconds: int) -> str:
    """Return `seconds` the way a rules file would write it (`90` -> `1m30s`)."""
    if seconds == 0:
        return "0s"
    parts = []
    for suffix, unit in _UNITS.items():
        count, seconds = divmod(seconds, unit)
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts)
