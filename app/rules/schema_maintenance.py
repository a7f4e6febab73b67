"""Read the rules file's top-level `maintenance:` list, with every problem and its line."""

from __future__ import annotations

import re
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.rules.checker import Checker, suggest
from app.rules.maintenance import MATCHER_FIELDS, WEEKDAYS, MaintenanceWindow
from app.rules.schema_where import parse_where
from app.rules.yamlsource import child, item

WINDOW_KEYS = ("name", "description", "matchers", "weekdays", "from", "to", "timezone")
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def parse_maintenance(check: Checker, value: Any) -> list[MaintenanceWindow]:
    """Return the windows of `maintenance:` (absent or empty: none)."""
    if value is None:
        return []
    if not isinstance(value, list):
        check.error("maintenance", f"`maintenance` must be a list, got {type(value).__name__}")
        return []
    windows: list[MaintenanceWindow] = []
    seen: dict[str, int | None] = {}
    for index, entry in enumerate(value):
        path = item("maintenance", index)
        check.base = path
        window = _window(check, entry, path)
        if window is None:
            continue
        if window.name in seen:
            check.error(
                child(path, "name"),
                f"duplicate maintenance window {window.name!r} (first at line {seen[window.name]})",
            )
            continue
        seen[window.name] = window.line
        windows.append(window)
    check.base = ""
    return windows


def _window(check: Checker, value: Any, path: str) -> MaintenanceWindow | None:
    mapping = check.mapping(value, path, WINDOW_KEYS, ("name", "matchers", "from", "to"))
    if mapping is None:
        return None
    name = check.get(mapping, "name", path, str, "")
    if isinstance(mapping.get("name"), str) and not NAME.fullmatch(name):
        check.error(
            child(path, "name"),
            f"bad window name {name!r}: use [a-z0-9][a-z0-9_.-], at most 64 characters",
        )
        name = ""
    check.get(mapping, "description", path, str, "")
    matchers = mapping.get("matchers")
    mpath = child(path, "matchers")
    ok = True
    if "matchers" in mapping:
        if not isinstance(matchers, dict) or not matchers:
            check.error(mpath, f"expected a non-empty mapping of {', '.join(MATCHER_FIELDS)}")
            ok = False
        else:
            for key in matchers:
                if key not in MATCHER_FIELDS:
                    check.error(
                        child(mpath, key),
                        f"a window matches on {', '.join(MATCHER_FIELDS)}; "
                        f"not {key!r}{suggest(str(key), MATCHER_FIELDS)}",
                    )
                    ok = False
    before = len(check.problems)
    where = parse_where(check, matchers if ok and isinstance(matchers, dict) else {}, mpath)
    ok = ok and len(check.problems) == before
    weekdays = _weekdays(check, mapping.get("weekdays"), child(path, "weekdays"))
    start = _clock(check, mapping, "from", path)
    end = _clock(check, mapping, "to", path)
    if start is not None and end is not None and start == end:
        check.error(child(path, "to"), "`from` and `to` are the same time: the window is empty")
        end = None
    zone = check.get(mapping, "timezone", path, str, "UTC")
    if not _zone_ok(zone):
        check.error(
            child(path, "timezone"),
            f"unknown time zone {zone!r}: use an IANA name such as Europe/Berlin or UTC",
        )
        zone = ""
    complete = start is not None and end is not None and isinstance(matchers, dict)
    if not (name and ok and weekdays and zone and complete):
        return None
    assert isinstance(matchers, dict) and start is not None and end is not None
    return MaintenanceWindow(
        name=name,
        matchers=dict(matchers),
        where=where,
        weekdays=weekdays,
        start=start,
        end=end,
        timezone=zone,
        line=check.doc.line(path),
    )


def _zone_ok(zone: str) -> bool:
    if not zone or zone.startswith(("/", ".")) or ".." in zone:
        return False
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _weekdays(check: Checker, value: Any, path: str) -> tuple[int, ...]:
    """Read `weekdays: [mon, tue]` or ranges (`mon-fri`); absent means every day."""
    if value is None:
        return tuple(range(7))
    days: set[int] = set()
    names = check.string_list(value, path, allow_single=True)
    if isinstance(value, list) and not value:
        check.error(path, "expected at least one weekday (leave `weekdays` out for every day)")
    for index, raw in enumerate(names):
        sub = item(path, index) if isinstance(value, list) else path
        parts = [_weekday(p) for p in raw.split("-")]
        if len(parts) > 2 or None in parts:
            check.error(
                sub, f"bad weekday {raw!r}: use {', '.join(WEEKDAYS)} or a range such as mon-fri"
            )
            continue
        day, last = parts[0], parts[-1]
        assert day is not None and last is not None
        days.add(day)
        while day != last:
            day = (day + 1) % 7
            days.add(day)
    return tuple(sorted(days))


def _weekday(text: str) -> int | None:
    """Return the day `text` names (`mon` or `monday`, any case), or None."""
    word = text.strip().lower()
    for index, (short, full) in enumerate(zip(WEEKDAYS, FULL_WEEKDAYS, strict=True)):
        if word in (short, full):
            return index
    return None


def _clock(check: Checker, mapping: dict[str, Any], key: str, path: str) -> time | None:
    if key not in mapping:
        return None
    raw = mapping[key]
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 24 * 60:
        # YAML 1.1 reads an unquoted 22:00 as the base-60 number 1320.
        return time(raw // 60, raw % 60)
    found = CLOCK.fullmatch(raw) if isinstance(raw, str) else None
    if found is None:
        check.error(child(path, key), f"expected a time HH:MM (00:00 to 23:59), got {raw!r}")
        return None
    return time(int(found.group(1)), int(found.group(2)))
