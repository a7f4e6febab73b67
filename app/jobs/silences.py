"""Silences: a person's "do not act on events like these until then", kept in the database.

Matchers use the rules' `where:` syntax and operators (values, globs,
`{in: [...]}`, `{regex: ...}`, ...) over a few event fields. The claim skips a
job whose event an active silence matches, with `silenced by #N (comment)`;
events keep arriving and being matched. Expiring a silence ends it now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobs.control import ControlError
from app.models.controls import Silence
from app.rules.checker import Checker
from app.rules.durations import DurationError, parse_duration
from app.rules.maintenance import MATCHER_FIELDS
from app.rules.matching import check_condition
from app.rules.model import Group
from app.rules.schema_where import parse_where
from app.rules.yamlsource import Document

SILENCE_FIELDS = MATCHER_FIELDS  # the same fields as a maintenance window's matchers
MAX_SILENCE_SECONDS = 90 * 86400
MAX_COMMENT = 1000
ACTIVE, PENDING, EXPIRED = "active", "pending", "expired"
# A silence and its compiled matchers.
Matcher = tuple[Silence, Group]


def parse_matchers(matchers: object) -> Group:
    """Compile a silence's matchers; ControlError("invalid_matchers") says what is wrong."""
    if not isinstance(matchers, dict) or not matchers:
        raise ControlError(
            "invalid_matchers",
            f"matchers must be a non-empty mapping of {', '.join(SILENCE_FIELDS)}.",
        )
    unknown = [key for key in matchers if key not in SILENCE_FIELDS]
    if unknown:
        raise ControlError(
            "invalid_matchers",
            f"matchers may name {', '.join(SILENCE_FIELDS)}; not {', '.join(map(str, unknown))}.",
        )
    check = Checker(Document(matchers))
    group = parse_where(check, matchers, "")
    if check.problems:
        text = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in check.problems)
        raise ControlError("invalid_matchers", text)
    return group


def silence_window(
    now: datetime,
    starts_at: datetime | None,
    ends_at: datetime | None,
    duration: object,
) -> tuple[datetime, datetime]:
    """Return a silence's start and end from an end or a duration; ControlError when unusable."""
    start = starts_at or now
    if (ends_at is None) == (duration in (None, "")):
        raise ControlError("invalid_window", "Give either ends_at or duration (30m, 2h, 1d).")
    if ends_at is None:
        try:
            seconds = parse_duration(duration, minimum=1, maximum=MAX_SILENCE_SECONDS)
        except DurationError as exc:
            raise ControlError("invalid_window", f"duration: {exc}") from None
        ends_at = start + timedelta(seconds=seconds)
    if ends_at <= start or ends_at <= now:
        raise ControlError(
            "invalid_window", "The silence must end after it starts, and later than now."
        )
    if ends_at - start > timedelta(seconds=MAX_SILENCE_SECONDS):
        raise ControlError("invalid_window", "A silence lasts at most 90 days.")
    return start, ends_at


def create_silence(
    session: Session,
    who: str,
    matchers: object,
    starts_at: datetime,
    ends_at: datetime,
    comment: str,
    now: datetime,
) -> Silence:
    """Store a silence (caller commits); ControlError when the matchers or comment are unusable."""
    parse_matchers(matchers)
    assert isinstance(matchers, dict)
    comment = comment.strip()
    if not comment:
        raise ControlError(
            "comment_required", "Say why: the comment is shown on every job it skips."
        )
    silence = Silence(
        matchers=dict(matchers),
        starts_at=starts_at,
        ends_at=ends_at,
        comment=comment[:MAX_COMMENT],
        created_by=who,
        created_at=now,
    )
    session.add(silence)
    session.flush()
    return silence


def expire_silence(session: Session, silence_id: int, who: str, now: datetime) -> Silence:
    """End an active or pending silence now (caller commits)."""
    silence = session.get(Silence, silence_id, with_for_update=True)
    if silence is None:
        raise ControlError("not_found", f"No silence {silence_id}.")
    if silence.ends_at <= now:
        raise ControlError("not_active", f"Silence {silence_id} has already ended.")
    silence.ends_at = now
    silence.starts_at = min(silence.starts_at, now)
    silence.expired_by = who
    return silence


def silence_state(silence: Silence, now: datetime) -> str:
    """Say whether a silence is active, pending (starts later) or expired."""
    if silence.ends_at <= now:
        return EXPIRED
    return PENDING if silence.starts_at > now else ACTIVE


def active_silences(session: Session, now: datetime) -> list[Silence]:
    """Return the silences in force at `now`, oldest first."""
    query = (
        select(Silence)
        .where(Silence.starts_at <= now)
        .where(Silence.ends_at > now)
        .order_by(Silence.id)
    )
    return list(session.scalars(query))


def compile_silences(silences: Sequence[Silence]) -> list[Matcher]:
    """Pair each silence with its compiled matchers, in order, once for many events."""
    compiled = []
    for silence in silences:
        try:
            compiled.append((silence, parse_matchers(silence.matchers)))
        except ControlError:
            continue  # stored before a stricter check: it silences nothing rather than all
    return compiled


def first_match(compiled: Sequence[Matcher], fields: Mapping[str, Any]) -> Silence | None:
    """Return the first compiled silence whose matchers all hold for the event `fields`."""
    for silence, group in compiled:
        if check_condition(group, fields) is None:
            return silence
    return None


def matching_silence(silences: Sequence[Silence], fields: Mapping[str, Any]) -> Silence | None:
    """Return the first of `silences` whose matchers all hold for the event `fields`."""
    return first_match(compile_silences(silences), fields)


def silence_json(silence: Silence, now: datetime) -> dict[str, Any]:
    """Describe a silence for the API and the pages."""
    return {
        "id": silence.id,
        "matchers": silence.matchers,
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "comment": silence.comment,
        "created_by": silence.created_by,
        "created_at": silence.created_at.isoformat(),
        "expired_by": silence.expired_by,
        "state": silence_state(silence, now),
    }
