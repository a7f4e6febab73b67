"""Time rule matching against generated rule sets, with a trivial baseline in the same run.

    python -m bench.bench_matching [--rules 1000,10000] [--seconds 1.0]

For each size: `matching_rules` and `explain_all` per event, the baseline (fetching the
event's rules from the index and touching each once), and how much JSON the worker stores
on the event (`app.jobs.create.stored_evaluations`).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.rules.matching import event_name, explain_all, matching_rules
from app.rules.model import RuleSet
from bench.rulesgen import EVENT, ruleset


@dataclass(frozen=True)
class MatchingFigures:
    """Per-event costs at one rule-set size, in milliseconds, and the stored size in bytes."""

    rules: int
    keyed: bool
    matching_ms: float
    explain_ms: float
    baseline_ms: float
    stored_bytes: int
    matched: int


def per_call_ms(body: Callable[[], Any], seconds: float) -> float:
    """Return the best per-call time of `body` over a few batches filling `seconds`."""
    body()
    started, calls = time.perf_counter(), 0
    while time.perf_counter() - started < seconds / 10:
        body()
        calls += 1
    batch = max(1, calls)
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        for _ in range(batch):
            body()
        best = min(best, (time.perf_counter() - t) / batch)
    return best * 1000


def baseline(rules: RuleSet, event: dict[str, Any]) -> list[Any]:
    """Do the least any matcher must: find the event's rules and look at each once."""
    return [rule for rule in rules.rules_for(event_name(event)) if rule.enabled]


def stored_size(rules: RuleSet, event: dict[str, Any]) -> int:
    """Return the bytes of JSON the worker stores on the event for these rules."""
    from app.jobs.create import stored_evaluations

    return len(json.dumps(stored_evaluations(rules, event, matching_rules(rules, event))))


def measure(count: int, seconds: float, keyed: bool = True) -> MatchingFigures:
    """Return the figures for a generated rule set of `count` rules."""
    rules = ruleset(count, keyed=keyed)
    event = dict(EVENT)
    matched = len(matching_rules(rules, event))
    return MatchingFigures(
        rules=count,
        keyed=keyed,
        matching_ms=per_call_ms(lambda: matching_rules(rules, event), seconds),
        explain_ms=per_call_ms(
            lambda: [e.to_dict() for e in explain_all(rules, event)], seconds / 2
        ),
        baseline_ms=per_call_ms(lambda: baseline(rules, event), seconds),
        stored_bytes=stored_size(rules, event),
        matched=matched,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", default="1000,10000")
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    print(f"{'rules':>16} {'matching ms':>12} {'explain_all ms':>15} {'baseline ms':>12} "
          f"{'x baseline':>11} {'stored bytes':>13}")  # fmt: skip
    sizes = [int(n) for n in args.rules.split(",")]
    for count, keyed in [(n, True) for n in sizes] + [(sizes[0], False)]:
        f = measure(count, args.seconds, keyed)
        label = f"{f.rules:,}" + ("" if keyed else " unkeyed")
        print(
            f"{label:>16} {f.matching_ms:12.4f} {f.explain_ms:15.3f} {f.baseline_ms:12.4f} "
            f"{f.matching_ms / f.baseline_ms:10.1f}x {f.stored_bytes:13,d}"
        )


if __name__ == "__main__":
    main()
