"""What the jobs of one claim transaction share, read once and kept current as they are settled.

A claim settles up to SETTLE_BATCH jobs a guard stops in one transaction, and
commits its decisions together at the end; a decision there was always "as of
some moment during the claim". So the facts every job asks again (the kill
switch, a rule's state, the silences, a rule's hold, a farm role's storm, a
breaker) are read once a claim, and the per-job ones (each job's event, its
server's recent events, a later cancelling event) once for each chunk of jobs
the claim locks. Whatever the claim itself changes is kept here as it changes:
the storm hold it places, the breaker it opens. Counts that settling a job can
move (a throttle's fires) are still read each time, under their locks. What a
person changes while a claim runs (a silence, a pause, the kill switch) applies
to the jobs it settles from the next claim on, at most about SETTLE_SECONDS
later; the job that is to run is checked again on facts read then (claim._decide).

Locks are taken as before, once a claim: a transaction-scoped advisory lock or a
row lock is held until the commit anyway, and while it is held no other claim
can change what it guards (a storm hold, a breaker), so what was read under it
stays true for the rest of the claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from app.config import Config
from app.eventnames import LIFEGUARD_EVENTS
from app.jobs import flapping, policy, storms
from app.jobs.holds import active_hold
from app.jobs.kill_switch import kill_switch_verdict
from app.jobs.locks import advisory_lock
from app.jobs.silences import Matcher, active_silences, compile_silences
from app.models.event import Event
from app.models.job import ActionJob
from app.models.loop import Hold
from app.models.ops import Breaker, RuleState
from app.rules.model import RuleSet

OWN_EVENTS = frozenset(LIFEGUARD_EVENTS)


class ClaimReads:
    """The facts the guards of one claim ask for, each read at most once in its transaction."""

    def __init__(self, session: Session, ruleset: RuleSet, config: Config, now: datetime) -> None:
        self.session = session
        self.ruleset = ruleset
        self.config = config
        self.now = now
        self._kill_switch: tuple[policy.Verdict | None] | None = None
        self._silences: list[Matcher] | None = None
        self._states: dict[str, RuleState | None] = {}
        self._holds: dict[tuple[str, str], Hold | None] = {}
        self._storm_holds: dict[int, Hold | None] = {}
        self._storm_counts: dict[tuple[int, int], tuple[list[str], int]] = {}
        self._breakers: dict[str, Breaker | None] = {}
        self._locked_breakers: set[str] = set()
        self._locks: set[tuple[str, ...]] = set()
        # The jobs this claim locked so far, and what was read for them in one go.
        self._chunk: list[ActionJob] = []
        self._chunk_ids: set[int] = set()
        self._events: dict[int, Event | None] = {}
        self._flaps: dict[int, dict[str, list[tuple[str, datetime]]]] = {}
        self._cancel_checked: set[int] = set()
        self._cancellers: dict[str, list[tuple[int, str]]] = {}

    # -- the claimed jobs ------------------------------------------------------
    def claimed(self, jobs: Sequence[ActionJob]) -> None:
        """Take in a chunk of jobs the claim just locked, and read their events in one go."""
        self._chunk = list(jobs)
        self._chunk_ids = {job.id for job in jobs}
        missing = {job.event_id for job in jobs} - self._events.keys()
        if missing:
            found = self.session.scalars(
                select(Event).where(Event.id.in_(missing)).options(defer(Event.evaluations))
            )
            self._events.update({event.id: event for event in found})
            self._events.update({event_id: None for event_id in missing - self._events.keys()})

    def event(self, event_id: int) -> Event | None:
        """Return a job's triggering event (held here, so the session keeps it loaded)."""
        if event_id not in self._events:
            self._events[event_id] = self.session.get(Event, event_id)
        return self._events[event_id]

    # -- read once a claim -----------------------------------------------------
    def lock(self, *parts: str) -> bool:
        """Take the advisory lock on `parts` unless this claim holds it; say whether it was new."""
        if parts in self._locks:
            return False
        advisory_lock(self.session, *parts)
        self._locks.add(parts)
        return True

    def kill_switch(self) -> policy.Verdict | None:
        """Return the kill switch's verdict for every job of the claim."""
        if self._kill_switch is None:
            self._kill_switch = (kill_switch_verdict(self.session),)
        return self._kill_switch[0]

    def rule_state(self, name: str) -> RuleState | None:
        """Return what a person switched for the rule (paused, dry run), if anything."""
        if name not in self._states:
            self._states[name] = self.session.get(RuleState, name)
        return self._states[name]

    def silences(self) -> list[Matcher]:
        """Return the silences in force at the claim's `now`, their matchers compiled."""
        if self._silences is None:
            self._silences = compile_silences(active_silences(self.session, self.now))
        return self._silences

    def hold(self, rule: str, key: str | None) -> Hold | None:
        """Return the hold in force on a rule's throttle key (the claim places none)."""
        at = (rule, key or "")
        if at not in self._holds:
            self._holds[at] = active_hold(self.session, rule, key)
        return self._holds[at]

    def storm_hold(self, farm_role_id: int, fresh: bool = False) -> Hold | None:
        """Return the storm hold on a farm role; `fresh` reads it again (a lock was just taken)."""
        if fresh or farm_role_id not in self._storm_holds:
            self._storm_holds[farm_role_id] = storms.storm_hold(self.session, farm_role_id)
        return self._storm_holds[farm_role_id]

    def placed_storm_hold(self, hold: Hold) -> None:
        """Remember the storm hold this claim placed, for the farm role's later launches."""
        assert hold.farm_role_id is not None
        self._storm_holds[hold.farm_role_id] = hold

    def storm_counts(self, farm_role_id: int, per: int) -> tuple[list[str], int]:
        """Return a farm role's servers down in the storm window, and its known servers."""
        at = (farm_role_id, per)
        if at not in self._storm_counts:
            cleared = storms.last_cleared(self.session, farm_role_id)
            since = policy.storm_since(self.now, per, cleared)
            down = storms.down_servers(self.session, farm_role_id, since)
            self._storm_counts[at] = (down, storms.known_servers(self.session, farm_role_id, down))
        return self._storm_counts[at]

    def breaker(self, environment: str, locked: bool = False) -> Breaker | None:
        """Return an environment's breaker; `locked` reads it FOR UPDATE once a claim."""
        if environment in self._breakers and (not locked or environment in self._locked_breakers):
            return self._breakers[environment]
        if locked:
            # Read afresh under the lock: an unlocked read of this claim may be out of date.
            self._breakers[environment] = self.session.get(
                Breaker, environment, with_for_update=True, populate_existing=True
            )
            self._locked_breakers.add(environment)
        else:
            self._breakers[environment] = self.session.get(Breaker, environment)
        return self._breakers[environment]

    def opened_breaker(self, breaker: Breaker) -> None:
        """Remember the breaker this claim created, so the jobs after it find it open."""
        self._breakers[breaker.environment] = breaker
        self._locked_breakers.add(breaker.environment)

    # -- read once a chunk -------------------------------------------------------
    def flap_events(self, server_id: str, per: int) -> list[tuple[str, datetime]]:
        """Return a server's down and up events within `per`, oldest first (see flapping)."""
        fetched = self._flaps.setdefault(per, {})
        if server_id not in fetched:
            servers = {server_id} | {j.server_id for j in self._chunk if j.server_id}
            servers -= fetched.keys()
            since = self.now - timedelta(seconds=per)
            found = flapping.flap_events(self.session, sorted(servers), since)
            fetched.update({server: found.get(server, []) for server in servers})
        return fetched[server_id]

    def cancelling(self, job: ActionJob) -> tuple[str, int] | None:
        """Return the name and id of the first later event of the job's server that cancels it.

        A job whose `cancel_on` names one of Lifeguard's own events asks the database
        each time: the claim itself may have just emitted one (FlapDetected).
        """
        if not job.server_id or not job.cancel_on:
            return None
        names = set(job.cancel_on)
        if names & OWN_EVENTS or job.id not in self._chunk_ids:
            return first_canceller(self.session, job)
        if job.id not in self._cancel_checked:
            self._read_cancellers()
        for event_id, name in self._cancellers.get(job.server_id, []):
            if event_id > job.event_id and name in names:
                return name, event_id
        return None

    def _read_cancellers(self) -> None:
        jobs = [
            j
            for j in self._chunk
            if j.server_id
            and j.cancel_on
            and j.attempts == 0
            and j.id not in self._cancel_checked
            and not set(j.cancel_on) & OWN_EVENTS
        ]
        if not jobs:
            return
        self._cancel_checked.update(j.id for j in jobs)
        rows = self.session.execute(
            select(Event.id, Event.server_id, Event.name)
            .where(Event.server_id.in_({j.server_id for j in jobs}))
            .where(Event.name.in_({name for j in jobs for name in j.cancel_on}))
            .where(Event.id > min(j.event_id for j in jobs))
        )
        found: dict[str, set[tuple[int, str]]] = {}
        for event_id, server_id, name in rows:
            found.setdefault(server_id, set()).add((event_id, name))
        for server_id, more in found.items():
            self._cancellers[server_id] = sorted(more.union(self._cancellers.get(server_id, ())))


def first_canceller(session: Session, job: ActionJob) -> tuple[str, int] | None:
    """Ask the database for the first later event of the job's server that cancels it."""
    found = session.execute(
        select(Event.name, Event.id)
        .where(Event.server_id == job.server_id)
        .where(Event.name.in_(job.cancel_on))
        .where(Event.id > job.event_id)
        .order_by(Event.id)
        .limit(1)
    ).first()
    return (found[0], found[1]) if found is not None else None
