"""Perform one claimed job through its action kind (app.actions). No database writes here."""

from __future__ import annotations

import logging

import requests

from app.actions import JobView, Outcome, Runtime, UnknownKindError, get_kind
from app.actions.scalr import ClientCache, ClientFactory
from app.config import Config

log = logging.getLogger(__name__)

__all__ = ["ClientCache", "ClientFactory", "JobView", "Outcome", "perform"]


def perform(job: JobView, config: Config, clients: ClientCache, http: requests.Session) -> Outcome:
    """Run `job` and classify how it ended; never raises for an action's failure."""
    try:
        kind = get_kind(job.kind)
    except UnknownKindError as exc:
        return Outcome("dead", error=str(exc))
    try:
        return kind.perform(job, Runtime(config, clients, http))
    except Exception as exc:  # a bug must end the job visibly, not kill the worker
        log.exception("job %s crashed", job.id)
        return Outcome("dead", error=f"internal error: {type(exc).__name__}")
