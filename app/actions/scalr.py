"""The `scalr:` action: call a Scalr Query API action, after its guard.

Changing actions carry a guard by default (`app.actions.scalr_guards`):
reboot or terminate a Running server only, launch a terminated farm only,
run a script only where a target runs; `guard: none` opts out.

Decisions: Scalr parameters that the client sets itself (`Action`, `Version`,
`KeyID`, `Signature`, ...) are refused, and `EnvID` is chosen by `env:`; a
`ServerLaunch` without `guard: below_min_instances` draws a warning, because
Scalr's own scaling also replaces servers below MinInstances and the two may
double-launch. An `<Error>` answer ends the job unless `retry_on_error:`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from app.actions import JobView, Kind, Outcome, Runtime, register
from app.actions.scalr_guards import (
    FARM_TERMINATED,
    NO_GUARD,
    SERVER_RUNNING,
    TARGETS_RUNNING,
    check_guard,
    effective_guard,
)
from app.eventnames import strip_on_prefix
from app.rules.checker import Checker, suggest
from app.rules.operators import SCALAR_TYPES, type_name
from app.rules.schema_actions import check_templates
from app.rules.templating import RenderedAction, render_value
from app.rules.yamlsource import child
from app.scalr.actions import ACTIONS, COMMON_PARAMS, MUTATING_ACTIONS, REQUIRED_PARAMS
from app.scalr.errors import (
    ScalrAPIError,
    ScalrConfigError,
    ScalrError,
    ScalrRateLimited,
    ScalrTransportError,
)

if TYPE_CHECKING:
    from app.scalr.client import ScalrClient

# Server states that count toward a farm role's minimum (scalr-protocol.md 4, Status strings).
LIVE_STATES = {"Pending launch", "Pending", "Initializing", "Running"}

GUARDS: dict[str, tuple[str, ...]] = {
    # guard name -> the Scalr actions it may sit on
    "below_min_instances": ("ServerLaunch",),
    SERVER_RUNNING: ("ServerReboot", "ServerTerminate"),
    FARM_TERMINATED: ("FarmLaunch",),
    TARGETS_RUNNING: ("ScriptExecute",),
    NO_GUARD: tuple(ACTIONS),
}


# Actions whose server `expect:` can wait for: the answer's ServerID, else params.ServerID.
EXPECT_ACTIONS = ("ServerLaunch", "ServerReboot", "ServerTerminate")
MAX_EXPECT_WITHIN = 7 * 86400
EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Expect:
    """What success looks like: one of `events` for the action's server within `within` s."""

    events: tuple[str, ...]
    within: int

    def to_dict(self) -> dict[str, Any]:
        """Return the expectation as the job's spec keeps it."""
        return {"events": list(self.events), "within": self.within}


def parse_expect(
    check: Checker, mapping: dict[str, Any], path: str, action: str | None
) -> Expect | None:
    """Read `expect: {event: HostUp, within: 10m}`; `event` may list several names."""
    if "expect" not in mapping:
        return None
    where = child(path, "expect")
    spec = check.mapping(mapping["expect"], where, ("event", "within"), ("event", "within"))
    if spec is None:
        return None
    names = []
    for raw in check.string_list(spec.get("event", []), child(where, "event"), allow_single=True):
        name = strip_on_prefix(raw)
        if not EVENT_NAME.fullmatch(name):
            check.error(
                child(where, "event"), f"bad event name {raw!r}: a plain identifier like HostUp"
            )
        elif name not in names:
            names.append(name)
    within = check.duration(spec, "within", where, default=0, maximum=MAX_EXPECT_WITHIN, minimum=1)
    if action is not None and action not in EXPECT_ACTIONS:
        check.error(
            where,
            f"expect: is only valid on {', '.join(EXPECT_ACTIONS)} "
            "(the server it waits for is the answer's ServerID or params.ServerID)",
        )
        return None
    if not names or within <= 0:
        return None
    return Expect(tuple(names), within)


@dataclass(frozen=True)
class ScalrAction:
    """Call a Scalr Query API action."""

    kind: ClassVar[str] = "scalr"
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)
    env: str | None = None
    guard: str | None = None
    retry_on_error: bool = False
    max_attempts: int = 5
    expect: Expect | None = None

    @property
    def mutating(self) -> bool:
        """Say whether the action changes something at Scalr."""
        return self.action in MUTATING_ACTIONS


ClientFactory = Callable[[str], "ScalrClient"]


class ClientCache:
    """One Scalr client per environment name for the life of a worker."""

    def __init__(self, build: ClientFactory) -> None:
        self._build = build
        self._clients: dict[str, ScalrClient] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> ScalrClient:
        """Return the client of environment `name`, building it once."""
        with self._lock:
            if name not in self._clients:
                self._clients[name] = self._build(name)
            return self._clients[name]

    def close(self) -> None:
        """Close every client's HTTP session."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def scalr_failure(exc: ScalrError, retry_on_error: bool) -> Outcome:
    """Classify a Scalr error: retry transport trouble and rate limits; an <Error> ends the job."""
    text = f"{type(exc).__name__}: {exc.message}"
    if isinstance(exc, ScalrRateLimited):
        return Outcome("retry", error=text, retry_after=exc.retry_after_seconds)
    if isinstance(exc, ScalrAPIError):
        kind = "retry" if retry_on_error else "dead"
        return Outcome(kind, error=text, transaction_id=exc.transaction_id)
    if isinstance(exc, ScalrTransportError) and exc.retryable:
        return Outcome("retry", error=text)
    return Outcome("dead", error=text)


def _newest_phrase(live: list[dict[str, Any]]) -> str:
    """Name the youngest live server: the one Scalr's scaling most likely launched in its place."""
    if not live:
        return "nothing to replace"

    def age(item: tuple[int, dict[str, Any]]) -> tuple[int, int]:
        index, server = item
        uptime = str(server.get("Uptime") or "")
        # ServerSet lists servers oldest first: among equal uptimes the last is the newest.
        return (int(uptime) if uptime.isdigit() else 1 << 30, -index)

    _, newest = min(enumerate(live), key=age)
    uptime = str(newest.get("Uptime") or "")
    when = f", up {uptime} min" if uptime.isdigit() else ""
    return f"Scalr replaced it first: the newest is {newest.get('ServerID') or '?'}{when}"


def check_min_instances(client: ScalrClient, farm_id: int, farm_role_id: int) -> Outcome | None:
    """Skip a launch when the farm role already has its minimum of live servers."""
    details = client.farm_get_details(farm_id)
    for role in details.get("FarmRoleSet") or []:
        if str(role.get("ID")) != str(farm_role_id):
            continue
        scaling = role.get("ScalingProperties") or {}
        minimum = int(scaling.get("MinInstances") or 0)
        servers = role.get("ServerSet") or []
        live = [s for s in servers if (s or {}).get("Status") in LIVE_STATES]
        if len(live) >= minimum:
            return Outcome(
                "skipped",
                reason=(
                    f"guard below_min_instances: farm role {farm_role_id} already has "
                    f"{len(live)} running or pending servers (min {minimum}); "
                    f"{_newest_phrase(live)}"
                ),
                transaction_id=details.transaction_id,
            )
        return None
    return Outcome(
        "dead",
        error=f"guard below_min_instances: farm role {farm_role_id} is not in farm {farm_id}",
    )


def run_scalr(job: JobView, clients: ClientCache) -> Outcome:
    """Call Scalr for a job, after its guard."""
    spec = job.spec
    retry_on_error = bool(spec.get("retry_on_error"))
    try:
        client = clients.get(job.environment or "default")
        guard = effective_guard(job.action, spec.get("guard"))
        if guard == "below_min_instances":
            farm_role_id = str(job.params.get("FarmRoleID") or "")
            if job.farm_id is None or not farm_role_id.isdigit():
                return Outcome(
                    "skipped",
                    reason="guard below_min_instances needs the event's farm_id and a FarmRoleID",
                )
            skip = check_min_instances(client, job.farm_id, int(farm_role_id))
            if skip is not None:
                return skip
        elif guard is not None:
            verdict = check_guard(guard, client, job.action, job.params, job.farm_id)
            if verdict is not None:
                return Outcome("skipped", reason=verdict.reason)
        answer = client.call(job.action, **job.params)
    except ScalrConfigError as exc:
        return Outcome("dead", error=f"configuration: {exc}")
    except ScalrError as exc:
        return scalr_failure(exc, retry_on_error)
    return Outcome("succeeded", result=dict(answer.data), transaction_id=answer.transaction_id)


class ScalrKind(Kind):
    """`scalr: ServerLaunch` with `params:`, `env:`, `guard:`, `retry_on_error:`, `expect:`."""

    name = "scalr"
    keys = ("scalr", "env", "params", "guard", "retry_on_error", "expect")

    def parse(
        self, check: Checker, mapping: dict[str, Any], path: str, attempts: int
    ) -> ScalrAction | None:
        """Return the Scalr call at `path`, or None after recording what is wrong with it."""
        name = mapping["scalr"]
        if not isinstance(name, str) or name not in ACTIONS:
            shown = name if isinstance(name, str) else type_name(name)
            check.error(
                child(path, "scalr"), f"unknown Scalr action {shown!r}{suggest(str(name), ACTIONS)}"
            )
            name = None
        params = check.get(mapping, "params", path, dict, {})
        for key, value in params.items():
            if key in COMMON_PARAMS:
                check.error(
                    child(child(path, "params"), key),
                    f"{key} is set by the Scalr client" + (" (use env:)" if key == "EnvID" else ""),
                )
            elif not isinstance(value, (*SCALAR_TYPES, dict, list)):
                check.error(
                    child(child(path, "params"), key), f"unsupported value {type_name(value)}"
                )
        check_templates(check, params, child(path, "params"))
        missing = [p for p in REQUIRED_PARAMS.get(name or "", ()) if p not in params]
        if missing:
            where = child(path, "params") if "params" in mapping else child(path, "scalr")
            names = ", ".join(missing)
            check.error(where, f"{name} needs {names} (Scalr answers 'Missing required parameter')")
        guard = check.get(mapping, "guard", path, str, None)
        if guard is not None and guard not in GUARDS:
            check.error(child(path, "guard"), f"unknown guard {guard!r}{suggest(guard, GUARDS)}")
            guard = None
        elif guard is not None and name is not None and name not in GUARDS[guard]:
            where = " or ".join(GUARDS[guard])
            check.error(child(path, "guard"), f"guard {guard!r} is only valid on {where}")
            guard = None
        if name == "ServerLaunch" and guard is None and "guard" not in mapping:
            check.warn(
                child(path, "scalr"),
                "ServerLaunch without `guard: below_min_instances` may "
                "double-launch: Scalr's own scaling also replaces servers below MinInstances",
            )
        env = check.get(mapping, "env", path, str, None)
        retry = check.get(mapping, "retry_on_error", path, bool, False)
        expect = parse_expect(check, mapping, path, name)
        if name is None:
            return None
        return ScalrAction(name, params, env or None, guard, retry, attempts, expect)

    def render(self, action: ScalrAction, context: Mapping[str, Any]) -> RenderedAction:
        """Render the call's params; the action name, env and guard are not templates."""
        return RenderedAction(
            kind=self.name,
            action=action.action,
            params=render_value(dict(action.params), context, "params"),
            env=action.env,
            guard=action.guard,
            retry_on_error=action.retry_on_error,
            max_attempts=action.max_attempts,
            mutating=action.mutating,
            expect=action.expect.to_dict() if action.expect is not None else None,
        )

    def perform(self, job: JobView, runtime: Runtime) -> Outcome:
        """Call Scalr through the worker's client of the job's environment."""
        return run_scalr(job, runtime.clients)

    def label(self, action: ScalrAction) -> str:
        """Return `scalr ServerLaunch`."""
        return f"scalr {action.action}"


register(ScalrKind())
