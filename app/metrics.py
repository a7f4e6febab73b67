"""Process metrics: what arrived, what was refused, how long ingest and Scalr calls took.

Counters and histograms live in the process that observes them. Under
gunicorn several processes serve `/metrics`, so `gunicorn.conf.py` sets
`PROMETHEUS_MULTIPROC_DIR` before any worker starts; prometheus_client then
keeps each process's values in a file there and `/metrics` adds them up
(its documented multiprocess mode). The worker process serves its own on
`WORKER_METRICS_PORT`. Gauges that describe shared state (jobs by status,
breakers, the heartbeat) are read from the database at scrape time instead
(`app/health.py`), so every process reports the same numbers.

Label values are bounded: an event name outside the names Scalr sends is
counted as `other`, so a sender cannot grow the series without limit.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess

from app.rules.model import KNOWN_EVENTS

EVENTS_RECEIVED = Counter(
    "lifeguard_events_received",
    "Deliveries stored (or spooled), by event name and source.",
    ["name", "source"],
)
INGEST_REFUSED = Counter(
    "lifeguard_ingest_refused",
    "Deliveries refused, by the error code of the answer.",
    ["reason"],
)
INGEST_SECONDS = Histogram(
    "lifeguard_ingest_seconds",
    "Time from a delivery's arrival to its answer, by endpoint.",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SCALR_CALLS = Counter(
    "lifeguard_scalr_calls",
    "Scalr Query API calls, by action and outcome (ok or the error type).",
    ["action", "outcome"],
)
SCALR_SECONDS = Histogram(
    "lifeguard_scalr_call_seconds",
    "Duration of Scalr Query API calls that were sent, by action.",
    ["action"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
JOB_OUTCOMES = Counter(
    "lifeguard_job_outcomes",
    "Attempts of action jobs, by kind and the status they left the job in.",
    ["kind", "status"],
)


def event_label(name: str) -> str:
    """Return `name` if Scalr sends it, else `other` (bounded label values)."""
    return name if name in KNOWN_EVENTS else "other"


def multiprocess_dir() -> str | None:
    """Return the multiprocess directory when this process shares its metrics, else None."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def process_registry() -> CollectorRegistry:
    """Return a registry holding the counters of this process (or of every process sharing
    the multiprocess directory)."""
    if multiprocess_dir():
        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY
