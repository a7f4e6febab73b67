"""Keep every process of the deployment under Scalr's hourly request limit (protocol 3.5).

Scalr counts per environment in fixed clock-hour windows. We count the same
way in the shared database and reserve a slot atomically before each call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction, utcnow
from app.models.scalr import ScalrApiUsage
from app.scalr.environments import ScalrEnvironment
from app.scalr.errors import ScalrRateLimited

WINDOW = timedelta(hours=1)


class RateLimiter(Protocol):
    """Something that grants or refuses one more call to an environment."""

    def reserve(self, environment: ScalrEnvironment, *, action: str | None = None) -> int:
        """Take one call from the budget, or raise ScalrRateLimited."""
        ...


def window_start(moment: datetime) -> datetime:
    """Return the start of the UTC clock hour holding `moment`."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def seconds_to_next_window(moment: datetime) -> float:
    """Return how long until the current hourly window resets."""
    return (window_start(moment) + WINDOW - moment.astimezone(UTC)).total_seconds()


class DatabaseRateLimiter:
    """Count calls per environment and clock hour in the shared database."""

    def __init__(
        self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock

    def _upsert(self, dialect: str, environment: str, start: datetime, limit: int) -> Insert:
        # INSERT ... ON CONFLICT DO UPDATE ... WHERE count < limit RETURNING count: one atomic
        # statement, the same on both backends (their insert constructs share the API).
        makers: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
        make_insert = makers.get(dialect)
        if make_insert is None:
            raise NotImplementedError(f"no atomic upsert for database {dialect!r}")
        values = {"environment": environment, "window_start": start, "count": 1}
        return (
            make_insert(ScalrApiUsage)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["environment", "window_start"],
                set_={"count": ScalrApiUsage.count + 1},
                where=ScalrApiUsage.count < limit,
            )
            .returning(ScalrApiUsage.count)
        )

    def reserve(self, environment: ScalrEnvironment, *, action: str | None = None) -> int:
        """Take one call from this hour's budget and return the count; raise when spent."""
        now = self.clock()
        start = window_start(now)
        with transaction(self.session_factory) as session:
            statement = self._upsert(
                session.get_bind().dialect.name,
                environment.name,
                start,
                environment.requests_per_hour,
            )
            # No row back means the conditional update did not run: the window is full.
            count = session.execute(statement).scalar_one_or_none()
        if count is None:
            raise ScalrRateLimited(
                f"hourly budget of {environment.requests_per_hour} Scalr API calls for "
                f"environment {environment.name!r} is spent",
                seconds_to_next_window(now),
                action=action,
                local=True,
            )
        return count

    def usage(self, environment_name: str, at: datetime | None = None) -> int:
        """Return how many calls were reserved in the window holding `at` (default now)."""
        start = window_start(at or self.clock())
        with transaction(self.session_factory) as session:
            count = session.execute(
                select(ScalrApiUsage.count).where(
                    ScalrApiUsage.environment == environment_name,
                    ScalrApiUsage.window_start == start,
                )
            ).scalar_one_or_none()
        return count or 0
