"""Hold the running rules and reload them when the file changes.

A bad file never replaces good rules: `reload_if_changed` keeps the last good
`RuleSet` and records the problems and since when the file has been broken,
so the dashboard can say "rules file broken since 14:02, still running
version 3f9c2a1b7e40". Change detection is cheap: `stat` (mtime, size, inode)
first, then a SHA-256 of the bytes, so a `touch` does not re-validate.
Before the first successful load the store serves an empty rule set.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.rules.errors import RuleProblem, RulesError
from app.rules.loader import load_rules_bytes, read_rules_bytes
from app.rules.model import RuleSet

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RulesStatus:
    """What the store runs and what is wrong with the file, for a dashboard."""

    path: str
    version: str  # of the running rules
    rule_count: int
    loaded_at: datetime | None  # when the running rules were loaded; None: never
    checked_at: datetime | None
    errors: tuple[RuleProblem, ...]  # of the file on disk; empty when it is good
    broken_since: datetime | None
    warnings: tuple[RuleProblem, ...]

    @property
    def ok(self) -> bool:
        """Say whether the file on disk is the one running."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """Return the status as a JSON-ready dict."""

        def stamp(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "path": self.path,
            "version": self.version,
            "rule_count": self.rule_count,
            "loaded_at": stamp(self.loaded_at),
            "checked_at": stamp(self.checked_at),
            "ok": self.ok,
            "errors": [problem.to_dict() for problem in self.errors],
            "broken_since": stamp(self.broken_since),
            "warnings": [problem.to_dict() for problem in self.warnings],
        }


class RulesStore:
    """The current good rules of one file, reloaded on demand; safe across threads."""

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.path = os.fspath(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._rules = RuleSet(source=self.path)
        self._signature: tuple[int, int, int] | None = None
        self._digest: str | None = None
        self._errors: tuple[RuleProblem, ...] = ()
        self._broken_since: datetime | None = None
        self._checked_at: datetime | None = None
        self._looked_at = float("-inf")

    @property
    def current(self) -> RuleSet:
        """Return the rules in force (the last good version)."""
        return self._rules

    def status(self) -> RulesStatus:
        """Return the running version and the state of the file on disk."""
        with self._lock:
            return RulesStatus(
                path=self.path,
                version=self._rules.version,
                rule_count=len(self._rules),
                loaded_at=self._rules.loaded_at,
                checked_at=self._checked_at,
                errors=self._errors,
                broken_since=self._broken_since,
                warnings=self._rules.warnings,
            )

    def refresh(self, every: float = 2.0) -> None:
        """Look at the file again if the last look is older than `every` seconds.

        The worker looks every two seconds in its loop; a web process calls this
        on the requests that show rules, so its pages and /metrics describe the
        file as it is now, not as it was when the process started.
        """
        now = time.monotonic()
        if now - self._looked_at >= every:
            self._looked_at = now
            self.reload_if_changed()

    def reload_if_changed(self, *, force: bool = False) -> bool:
        """Load the file if it changed since the last look; say whether new rules took effect."""
        with self._lock:
            self._checked_at = self._clock()
            try:
                st = os.stat(self.path)
            except OSError as exc:
                self._signature = self._digest = None
                missing = isinstance(exc, FileNotFoundError)
                if missing and not self._errors:
                    # Said once, and what to do about it: a fresh clone has no rules.yml.
                    log.warning(
                        "no rules file at %s: events are stored, no rule runs. Copy "
                        "rules.example.yml there (or set RULES_FILE); it is read when it appears",
                        self.path,
                    )
                self._fail(
                    [RuleProblem(None, "", f"cannot read: {exc.strerror or exc}")], quiet=missing
                )
                return False
            signature = (st.st_mtime_ns, st.st_size, st.st_ino)
            if signature == self._signature and not force:
                return False
            try:
                data = read_rules_bytes(self.path)
            except RulesError as exc:
                self._signature = self._digest = None
                self._fail(exc.errors)
                return False
            self._signature = signature
            digest = hashlib.sha256(data).hexdigest()
            if digest == self._digest and not force:
                return False
            self._digest = digest
            try:
                rules = load_rules_bytes(data, self.path)
            except RulesError as exc:
                self._fail(exc.errors)
                return False
            changed = rules.sha256 != self._rules.sha256 or self._rules.loaded_at is None
            self._rules, self._errors, self._broken_since = rules, (), None
            if changed:
                log.info(
                    "rules %s: loaded version %s, %d rules", self.path, rules.version, len(rules)
                )
            return changed

    def _fail(self, errors: list[RuleProblem], quiet: bool = False) -> None:
        """Record that the file is broken, keeping the running rules."""
        if tuple(errors) != self._errors and not quiet:
            log.warning(
                "rules %s: refused (%d problems), still running version %s: %s",
                self.path, len(errors), self._rules.version,
                errors[0].format(self.path) if errors else "",
            )  # fmt: skip
        self._errors = tuple(errors)
        if self._broken_since is None:
            self._broken_since = self._checked_at
