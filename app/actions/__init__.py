"""The action kinds a rule can use (`scalr:`, `webhook:`, `email:`), registered once.

Each kind is one module holding its whole story: the dataclass the loader
builds, the validation of its YAML mapping (with line numbers, through the
rules' `Checker`), the rendering of its params in the sandbox, and how the
worker performs it. The rules engine and the worker ask this registry by
name; neither knows a kind's details. A new kind is one module here plus its
name in `BUILTIN_KINDS`.

The kind modules use the rules engine's generic parts (checker, templating),
and the rules engine uses this registry, so the kinds are imported on the
first look-up rather than with this package: importing the registry never
starts an import cycle.
"""

from __future__ import annotations

import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import requests

    from app.actions.scalr import ClientCache
    from app.config import Config
    from app.rules.checker import Checker
    from app.rules.templating import RenderedAction

# Modules that register a kind, in the order messages list them ("one of scalr, webhook, email").
BUILTIN_KINDS = ("app.actions.scalr", "app.actions.webhook", "app.actions.email")
# Read for every kind by the registry's caller, so a kind lists only its own keys.
# `approve:` is read by the rules' schema (app.rules.schema_actions.parse_approve).
COMMON_KEYS = ("max_attempts", "approve")


class Action(Protocol):
    """A validated action of a rule, as the loader built it."""

    @property
    def kind(self) -> str: ...

    @property
    def max_attempts(self) -> int: ...

    @property
    def mutating(self) -> bool: ...


@dataclass
class Outcome:
    """How one attempt ended; the recorder turns it into the job's next status."""

    kind: str  # succeeded | retry | dead | skipped
    result: dict[str, Any] | None = None
    transaction_id: str | None = None
    error: str | None = None
    reason: str | None = None
    retry_after: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobView:
    """What the executor needs of a job, detached from the database session."""

    id: int
    kind: str
    action: str
    environment: str | None
    params: dict[str, Any]
    spec: dict[str, Any]
    farm_id: int | None


@dataclass(frozen=True)
class Runtime:
    """The worker's long-lived parts an action may use while it is performed."""

    config: Config
    clients: ClientCache
    http: requests.Session


class Kind(ABC):
    """One action kind: its YAML keys, validation, rendering and execution."""

    name: ClassVar[str]  # the key that selects the kind in a rule: `scalr`, `webhook`, ...
    keys: ClassVar[tuple[str, ...]]  # the keys of its mapping, `name` first

    @abstractmethod
    def parse(
        self, check: Checker, mapping: dict[str, Any], path: str, attempts: int
    ) -> Action | None:
        """Return the action in `mapping` at `path`, or None after recording its problems."""

    @abstractmethod
    def render(self, action: Any, context: Mapping[str, Any]) -> RenderedAction:
        """Render `action`'s templates in `context`; raise a `TemplateError` naming the part."""

    @abstractmethod
    def perform(self, job: JobView, runtime: Runtime) -> Outcome:
        """Run a job of this kind once and classify how it ended."""

    @abstractmethod
    def label(self, action: Any) -> str:
        """Name `action` briefly for people: `scalr ServerLaunch`, `email a@b`."""


class UnknownKindError(LookupError):
    """No action kind of that name is registered."""


_kinds: dict[str, Kind] = {}
_loaded = False
_lock = threading.Lock()


def register(kind: Kind) -> Kind:
    """Add `kind` to the registry; a second kind of the same name is a bug."""
    if kind.name in _kinds:
        raise ValueError(f"action kind {kind.name!r} is already registered")
    _kinds[kind.name] = kind
    return kind


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            for module in BUILTIN_KINDS:
                importlib.import_module(module)
            _loaded = True


def _rank(kind: Kind) -> int:
    module = type(kind).__module__
    return BUILTIN_KINDS.index(module) if module in BUILTIN_KINDS else len(BUILTIN_KINDS)


def kinds() -> tuple[Kind, ...]:
    """Return every registered kind: the built-in ones in their order, then the rest as added."""
    _load_builtins()
    # Importing a kind module directly registers it early; the order must not depend on that.
    return tuple(sorted(_kinds.values(), key=_rank))


def get_kind(name: str) -> Kind:
    """Return the kind called `name`; raise `UnknownKindError` if there is none."""
    _load_builtins()
    try:
        return _kinds[name]
    except KeyError:
        raise UnknownKindError(f"unknown action kind {name!r}") from None
