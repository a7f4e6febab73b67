"""Why each rule did or did not fire for an event: the verdicts stored then, and those of now.

One builder for the event page and for GET /api/v1/events/<id>/explanation.
It says too what the closed loop's guards did and say now (app.queries.loop_explain):
which hold keeps a job waiting, whether the server flaps or the farm role is in a storm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.config import Config
from app.db import utcnow
from app.models.event import Event
from app.models.job import ActionJob
from app.queries.events import get_event
from app.queries.jobs import jobs_of_event
from app.queries.loop_explain import loop_notes
from app.rules.matching import explain_all
from app.rules.store import RulesStore


@dataclass(frozen=True)
class Verdicts:
    """Every rule's evaluation of one event under one version of the rules."""

    rules_version: str
    evaluations: list[dict[str, Any]]


@dataclass(frozen=True)
class Explanation:
    """An event, the verdicts stored when it was matched, its jobs, and the verdicts of now."""

    event: Event
    jobs: list[ActionJob]
    current: Verdicts | None  # None: no good rules file was ever loaded
    # The closed loop's guards: holds, flapping, storms ({"guard", "rule", "job_id", "text"}).
    loop: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stored(self) -> list[dict[str, Any]]:
        """Return the verdicts recorded when the event was matched (none before that)."""
        return self.event.evaluations or []


def current_verdicts(rules: RulesStore, event: Event) -> Verdicts | None:
    """Evaluate `event` against the rules running now; None when none were ever loaded."""
    if rules.status().loaded_at is None:
        return None
    ruleset = rules.current
    return Verdicts(ruleset.version, [e.to_dict() for e in explain_all(ruleset, event.fields())])


def explain_event(
    session: Session,
    rules: RulesStore,
    event_id: int,
    config: Config | None = None,
    now: datetime | None = None,
) -> Explanation | None:
    """Return the explanation of event `event_id`, or None when there is no such event."""
    event = get_event(session, event_id)
    if event is None:
        return None
    jobs = jobs_of_event(session, event.id)
    ruleset = rules.current if rules.status().loaded_at is not None else None
    notes = loop_notes(session, event, jobs, ruleset, config or Config(), now or utcnow())
    return Explanation(event, jobs, current_verdicts(rules, event), notes)
