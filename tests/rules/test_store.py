"""The store keeps the last good rules, records a broken file, and picks up changes."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.rules import store as store_module
from app.rules.model import RuleSet
from app.rules.store import RulesStore
from tests.rules.helpers import rule_yaml

GOOD = rule_yaml()
BETTER = rule_yaml("delay: 2m\n")
BAD = rule_yaml("delay: soon\nevnts: [HostUp]\n")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)


def write(path: Path, text: str) -> None:
    """Write `text` and move the mtime forward, as a real edit a moment later would."""
    previous = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(previous + 1_000_000_000, previous + 1_000_000_000))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yml"
    write(path, GOOD)
    return path


def test_before_the_first_load_the_store_is_empty(path: Path) -> None:
    store = RulesStore(path)
    assert len(store.current) == 0
    assert store.status().loaded_at is None


def test_loads_and_skips_an_unchanged_file(
    path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses: list[str] = []
    real = store_module.load_rules_bytes

    def spy(data: bytes, source: str) -> RuleSet:
        parses.append(source)
        return real(data, source)

    monkeypatch.setattr(store_module, "load_rules_bytes", spy)
    store = RulesStore(path, clock=clock)
    assert store.reload_if_changed() is True
    assert [r.name for r in store.current] == ["r1"]
    status = store.status()
    assert (status.ok, status.rule_count, status.path) == (True, 1, str(path))
    assert status.loaded_at is not None

    assert store.reload_if_changed() is False  # same stat: not even read
    write(path, GOOD)  # touched, same bytes: read and hashed, not parsed again
    assert store.reload_if_changed() is False
    assert len(parses) == 1


def test_picks_up_a_changed_file_without_restart(path: Path, clock: Clock) -> None:
    store = RulesStore(path, clock=clock)
    store.reload_if_changed()
    first = store.current.version
    write(path, BETTER)
    assert store.reload_if_changed() is True
    assert store.current.version != first
    assert store.current.rules[0].delay == 120


def test_bad_file_keeps_the_last_good_rules(path: Path, clock: Clock) -> None:
    store = RulesStore(path, clock=clock)
    store.reload_if_changed()
    good = store.current
    clock.advance(5)
    write(path, BAD)
    assert store.reload_if_changed() is False
    assert store.current is good
    status = store.status()
    assert not status.ok
    assert status.version == good.version
    assert [(p.line, p.path) for p in status.errors] == [
        (4, "rules[0].delay"),
        (5, "rules[0].evnts"),
    ]
    assert status.broken_since == clock.now
    broken_at = clock.now

    clock.advance(5)
    write(path, BAD + "# still broken, differently\n")
    store.reload_if_changed()
    assert store.status().broken_since == broken_at  # broken since the first failure
    assert store.status().checked_at == clock.now

    write(path, BETTER)
    assert store.reload_if_changed() is True
    status = store.status()
    assert (status.ok, status.errors, status.broken_since) == (True, (), None)
    data = status.to_dict()
    assert data["ok"] is True and data["version"] == store.current.version


def test_first_load_of_a_bad_file_serves_no_rules(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(BAD)
    store = RulesStore(path, clock=clock)
    assert store.reload_if_changed() is False
    assert len(store.current) == 0
    status = store.status()
    assert status.loaded_at is None and len(status.errors) == 2
    assert status.to_dict()["errors"][0] == {
        "line": 4,
        "path": "rules[0].delay",
        "message": "bad duration 'soon': use seconds or 30s, 2m, 1h, 1d (combinable: 1h30m)",
    }


def test_missing_file_is_recorded_and_rules_kept(path: Path, clock: Clock) -> None:
    store = RulesStore(path, clock=clock)
    store.reload_if_changed()
    path.unlink()
    assert store.reload_if_changed() is False
    assert len(store.current) == 1
    assert "cannot read" in store.status().errors[0].message
    write(path, GOOD)
    store.reload_if_changed()
    assert store.status().ok


def test_concurrent_reloads_load_once(path: Path) -> None:
    store = RulesStore(path)
    store.reload_if_changed()
    write(path, BETTER)
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def reload() -> None:
        barrier.wait()
        results.append(store.reload_if_changed())

    threads = [threading.Thread(target=reload) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert store.current.rules[0].delay == 120
