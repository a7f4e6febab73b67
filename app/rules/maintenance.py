"""Maintenance windows: recurring times, in the rules file, when matching events are not acted on.

A window is `weekdays` and `from`-`to` in a time zone; `to` before `from`
crosses midnight (22:00-02:00 holds from 22:00 on a listed day until 02:00
the day after). Its matchers are a silence's: the rules' `where:` syntax over
a few event fields. Plain values in, an answer out: no session, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.rules.model import Group

# The event fields a silence or a window may match on.
MATCHER_FIELDS = ("farm_id", "farm_role_id", "server_id", "role_name", "name")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class MaintenanceWindow:
    """One validated `maintenance:` entry of the rules file."""

    name: str
    matchers: dict[str, Any]  # as written, for the pages and the API
    where: Group  # compiled matchers
    weekdays: tuple[int, ...]  # 0 = Monday
    start: time
    end: time
    timezone: str
    line: int | None = None

    def active_at(self, now: datetime) -> bool:
        """Say whether the window is open at the aware moment `now`."""
        local = now.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(tzinfo=None)
        day = local.weekday()
        if self.start < self.end:
            return day in self.weekdays and self.start <= clock < self.end
        # Crosses midnight: the evening of a listed day, or the morning after one.
        yesterday = (local - timedelta(days=1)).weekday()
        return (day in self.weekdays and clock >= self.start) or (
            yesterday in self.weekdays and clock < self.end
        )

    def matches(self, fields: Mapping[str, Any]) -> bool:
        """Say whether the event `fields` pass the window's matchers."""
        from app.rules.matching import check_condition  # matching builds on the model

        return check_condition(self.where, fields) is None

    def describe(self) -> str:
        """Name the window's times for people: `mon-fri 22:00-02:00 Europe/Berlin`."""
        every = len(self.weekdays) == 7
        days = "every day" if every else ",".join(WEEKDAYS[d] for d in self.weekdays)
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.timezone}"

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """Describe the window for the API and the pages (with `active` when `now` is given)."""
        body: dict[str, Any] = {
            "name": self.name,
            "matchers": self.matchers,
            "weekdays": [WEEKDAYS[d] for d in self.weekdays],
            "from": f"{self.start:%H:%M}",
            "to": f"{self.end:%H:%M}",
            "timezone": self.timezone,
            "line": self.line,
        }
        if now is not None:
            body["active"] = self.active_at(now)
        return body


def active_window(
    windows: Iterable[MaintenanceWindow], fields: Mapping[str, Any], now: datetime
) -> MaintenanceWindow | None:
    """Return the first window open at `now` whose matchers the event `fields` pass."""
    for window in windows:
        if window.active_at(now) and window.matches(fields):
            return window
    return None
