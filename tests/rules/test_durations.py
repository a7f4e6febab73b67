"""Durations: seconds, units, combinations, and clear refusals."""

from __future__ import annotations

import pytest

from app.rules.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(0, 0), (45, 45), ("120", 120), ("30s", 30), ("2m", 120), ("1h", 3600), ("1d", 86400),
     ("1h30m", 5400), ("2m30s", 150), ("1d2h3m4s", 93784), (" 5m ", 300)],
)  # fmt: skip
def test_parse(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("2 minutes", "bad duration"), ("1.5h", "bad duration"), ("30m1h", "bad duration"),
     ("", "bad duration"), ("5ms", "bad duration"), (-5, "below the minimum"), (1.5, "got float"),
     (True, "got true"), (None, "got NoneType"), ("1w", "bad duration")],
)  # fmt: skip
def test_refuse(value: object, fragment: str) -> None:
    with pytest.raises(DurationError, match=fragment):
        parse_duration(value)


def test_bounds() -> None:
    assert parse_duration("7d", maximum=7 * 86400) == 604800
    with pytest.raises(DurationError, match="above the maximum of 7d"):
        parse_duration("8d", maximum=7 * 86400)
    with pytest.raises(DurationError, match="below the minimum of 1s"):
        parse_duration(0, minimum=1)


def test_format_round_trips() -> None:
    for seconds in (0, 1, 59, 60, 90, 3600, 5400, 93784):
        assert parse_duration(format_duration(seconds)) == seconds
    assert format_duration(5400) == "1h30m"
