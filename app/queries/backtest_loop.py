"""The closed loop's guards in a backtest: holds in force then, storms, flapping servers.

The replay (app.queries.backtest) asks `LoopGuards.verdict` when a job comes
due, before the throttle, in the claim's order: a hold in force at that
moment (from the stored holds, a storm's too), then a storm of the job's farm
role, then a flapping server. The decisions and their texts are the
claim's own (`app.jobs.policy`). The down and up events are read once, in
a query of their own, from a window before the period on; a storm's known
servers are the inventory's of today, as nothing older is kept.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.config import Config
from app.jobs import policy
from app.jobs.storms import STORM, known_servers
from app.models.event import SOURCE_LIFEGUARD, Event
from app.models.loop import Hold
from app.rules.model import Rule
from app.scalr.actions import MUTATING_ACTIONS

HELD, FLAPPING = "would_be_held", "would_be_skipped_flapping"
FACTS_CAP = 100_000


@dataclass(frozen=True)
class LoopLimits:
    """The flapping and storm limits a rule runs with: its own keys, else the global defaults."""

    flap_max: int
    flap_per: int
    storm_share: float
    storm_per: int

    @classmethod
    def of(cls, rule: Rule, config: Config | None = None) -> LoopLimits:
        """Return the rule's limits as the claim would use them."""
        config = config or Config()
        flap = rule.flap
        storm = rule.storm
        return cls(
            flap.max if flap is not None else config.flap_max,
            flap.per if flap is not None else config.flap_window_seconds,
            storm.share if storm is not None else config.storm_share,
            storm.per if storm is not None else config.storm_window_seconds,
        )


class LoopGuards:
    """The facts of one replay's period, and the loop guards' decision for a job due then."""

    def __init__(
        self, session: Session, rule: Rule, limits: LoopLimits, since: datetime, until: datetime
    ) -> None:
        self.session = session
        self.rule = rule
        self.limits = limits
        scalr = [a for a in rule.actions if a.kind == "scalr"]
        self.changing = any(getattr(a, "action", "") in MUTATING_ACTIONS for a in scalr)
        self.launches = any(getattr(a, "action", "") == "ServerLaunch" for a in scalr)
        self.holds = self._holds(until) if self.changing else []
        self.by_server: dict[str, tuple[list[datetime], list[str]]] = {}
        self.down_by_role: dict[int, tuple[list[datetime], list[str]]] = {}
        self.facts = 0
        self.known: dict[tuple[int, tuple[str, ...]], int] = {}
        storms = self.launches and limits.storm_share > 0
        if limits.flap_max > 0 or storms:
            window = max(limits.flap_per, limits.storm_per if storms else 0)
            self._load(since - timedelta(seconds=window), until)

    def _holds(self, until: datetime) -> list[Hold]:
        return list(
            self.session.scalars(
                select(Hold)
                .where(or_(Hold.rule == self.rule.name, Hold.kind == STORM))
                .where(Hold.created_at < until)
                .order_by(Hold.id)
            )
        )

    def _load(self, since: datetime, until: datetime) -> None:
        rows = self.session.execute(
            select(Event.name, Event.server_id, Event.farm_role_id, Event.received_at)
            .where(Event.name.in_(policy.FLAP_DOWN + policy.FLAP_UP))
            .where(Event.source != SOURCE_LIFEGUARD)
            .where(Event.server_id.is_not(None))
            .where(Event.received_at >= since, Event.received_at < until)
            .order_by(Event.received_at, Event.id)
            .limit(FACTS_CAP)
        ).all()
        self.facts = len(rows)
        servers: dict[str, tuple[list[datetime], list[str]]] = defaultdict(lambda: ([], []))
        roles: dict[int, tuple[list[datetime], list[str]]] = defaultdict(lambda: ([], []))
        for name, server_id, farm_role_id, at in rows:
            servers[server_id][0].append(at)
            servers[server_id][1].append(name)
            if farm_role_id is not None and name in policy.STORM_DOWN:
                roles[farm_role_id][0].append(at)
                roles[farm_role_id][1].append(server_id)
        self.by_server, self.down_by_role = dict(servers), dict(roles)

    def verdict(
        self, server_id: str | None, farm_role_id: int | None, key: str | None, due: datetime
    ) -> tuple[str, str] | None:
        """Return (outcome, detail) when a loop guard would have stopped the job due at `due`."""
        if (found := self._held(farm_role_id, key, due)) is not None:
            return found
        if (found := self._storm(farm_role_id, due)) is not None:
            return found
        return self._flapping(server_id, due)

    def _held(
        self, farm_role_id: int | None, key: str | None, due: datetime
    ) -> tuple[str, str] | None:
        for hold in self.holds:
            if not (hold.created_at <= due and (hold.cleared_at is None or due < hold.cleared_at)):
                continue
            storm_hold = (
                hold.kind == STORM and self.launches and hold.farm_role_id == farm_role_id
                and not (self.rule.storm is not None and self.rule.storm.share <= 0)
            )  # fmt: skip
            rule_hold = hold.kind != STORM and hold.throttle_key == (key or "")
            if storm_hold or rule_hold:
                return HELD, policy.held(
                    hold.id, hold.reason
                ).reason + " (the hold was in force then)"
        return None

    def _storm(self, farm_role_id: int | None, due: datetime) -> tuple[str, str] | None:
        if not self.launches or self.limits.storm_share <= 0 or farm_role_id is None:
            return None
        times, servers = self.down_by_role.get(farm_role_id, ([], []))
        cleared = [
            h.cleared_at
            for h in self.holds
            if h.kind == STORM and h.farm_role_id == farm_role_id
            and h.cleared_at is not None and h.cleared_at <= due
        ]  # fmt: skip
        since = policy.storm_since(due, self.limits.storm_per, max(cleared, default=None))
        down = sorted(set(servers[bisect_left(times, since) : bisect_right(times, due)]))
        if len(down) < policy.STORM_MIN_DOWN:
            return None
        cache = (farm_role_id, tuple(down))
        if cache not in self.known:
            self.known[cache] = known_servers(self.session, farm_role_id, down)
        verdict = policy.storm(
            farm_role_id, len(down), self.known[cache], self.limits.storm_share,
            self.limits.storm_per,
        )  # fmt: skip
        return (HELD, verdict.reason) if verdict is not None else None

    def _flapping(self, server_id: str | None, due: datetime) -> tuple[str, str] | None:
        if not server_id or self.limits.flap_max <= 0:
            return None
        times, names = self.by_server.get(server_id, ([], []))
        since = due - timedelta(seconds=self.limits.flap_per)
        window = names[bisect_left(times, since) : bisect_right(times, due)]
        verdict = policy.flapping(
            server_id, policy.flap_transitions(window), self.limits.flap_max, self.limits.flap_per
        )
        return (FLAPPING, verdict.reason) if verdict is not None else None
