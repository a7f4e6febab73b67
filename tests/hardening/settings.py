"""Hypothesis settings for the hardening suite: bounded and derandomized, so CI is stable.

`derandomize=True` draws the same examples on every run (no example database is read
or written), so a failure in CI fails again on a laptop. `LIFEGUARD_FUZZ_EXAMPLES`
raises the number of examples for a deeper local run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = max(1, int(os.environ.get("LIFEGUARD_FUZZ_EXAMPLES", "1")))


def bounded(max_examples: int) -> settings:
    """Return settings for a property test: `max_examples` (times the scale), fixed seed."""
    return settings(
        max_examples=max_examples * SCALE,
        derandomize=True,
        database=None,
        # Generous: shared CI cores are slow, and a pathological case (quadratic parse,
        # a hang) is still caught. Timing noise must never make a run red.
        deadline=5000,
        # The app fixtures are function-scoped on purpose: each example counts rows itself.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        print_blob=True,
    )
