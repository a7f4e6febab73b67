"""Chaos: hit random running servers at an average rate, as a flaky cloud would."""

from __future__ import annotations

import random

from simulator import lifecycle
from simulator.model import RUNNING
from simulator.store import Store

CHAOS_KINDS = frozenset({"terminate", "reboot", "crash", "ip"})


class Chaos:
    """How often and how servers are hit; the state calls strike() on every tick."""

    def __init__(self, rng: random.Random, now: float) -> None:
        self.random = rng
        self.rate_per_minute = 0.0
        self.kinds: tuple[str, ...] = ("terminate", "reboot")
        self._budget = 0.0
        self._last_strike = now

    def set(self, rate_per_minute: float, kinds: tuple[str, ...] | None = None) -> None:
        """Hit random running servers at this average rate (0 turns chaos off)."""
        self.rate_per_minute = rate_per_minute
        if kinds:
            unknown = set(kinds) - CHAOS_KINDS
            if unknown:
                raise ValueError(f"unknown chaos kinds: {', '.join(sorted(unknown))}")
            self.kinds = tuple(kinds)

    def strike(self, store: Store, now: float) -> None:
        """Hit as many servers as the rate allows for the time since the last strike."""
        elapsed, self._last_strike = max(0.0, now - self._last_strike), now
        if self.rate_per_minute <= 0:
            self._budget = 0.0
            return
        self._budget += self.rate_per_minute * elapsed / 60
        while self._budget >= 1:
            self._budget -= 1
            running = [s for s in store.servers.values() if s.status == RUNNING]
            if not running:
                return
            victim = self.random.choice(running)
            kind = self.random.choice(self.kinds)
            if kind == "terminate":
                lifecycle.terminate(store, victim)
            elif kind == "crash":
                lifecycle.crash(store, victim)
            elif kind == "reboot" and victim.rebooting_until is None:
                lifecycle.reboot(store, victim)
            elif kind == "ip":
                lifecycle.change_ip(store, victim)
