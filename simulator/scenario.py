"""A scripted opening: strikes at set seconds after start, so a demo shows each path early.

Random chaos may take minutes to hit the server that tells a given story; a
scenario says "at 20 s terminate a web server" and it happens then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator import lifecycle
from simulator.chaos import CHAOS_KINDS
from simulator.model import RUNNING
from simulator.store import Store


@dataclass
class Step:
    """Hit one running server of `farm_role_id` `at` seconds after the scenario started."""

    at: float
    do: str
    farm_role_id: int
    done: bool = False


class Scenario:
    """The steps still to come; the state calls run_due() on every tick."""

    def __init__(self, steps: list[Step], started: float) -> None:
        unknown = {s.do for s in steps} - CHAOS_KINDS
        if unknown:
            raise ValueError(f"unknown scenario steps: {', '.join(sorted(unknown))}")
        self.steps = sorted(steps, key=lambda s: s.at)
        self.started = started

    @classmethod
    def from_config(cls, items: list[dict[str, Any]], started: float) -> Scenario:
        """Read `[{at: 20, do: terminate, farm_role: 1978}, ...]`."""
        steps = [Step(float(i["at"]), str(i["do"]), int(i["farm_role"])) for i in items]
        return cls(steps, started)

    def run_due(self, store: Store, now: float) -> None:
        """Take every step whose time has come (a role with no running server skips it)."""
        for step in self.steps:
            if step.done or now < self.started + step.at:
                continue
            step.done = True
            running = [
                s
                for s in store.servers.values()
                if s.farm_role_id == step.farm_role_id and s.status == RUNNING
            ]
            if not running:
                continue
            victim = running[0]
            if step.do == "terminate":
                lifecycle.terminate(store, victim)
            elif step.do == "crash":
                lifecycle.crash(store, victim)
            elif step.do == "reboot":
                lifecycle.reboot(store, victim)
            else:
                lifecycle.change_ip(store, victim)
