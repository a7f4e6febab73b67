"""Ingest gaps: a farm gone silent emits IngestGap once, with what Scalr's EventsList missed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from app.config import Config, ConfigError
from app.db import utcnow
from app.models.loop import FarmTraffic
from app.models.ops import PeriodicTask
from tests.loop.test_own_events import own_events
from tests.scalr.conftest import receiver  # noqa: F401  (fixture)

RULES = """
rules:
  - name: tell-ops
    events: [IngestGap]
    actions:
      - webhook: RECEIVER/ops
        body: {farm: "{{ event.farm_id }}", missed: "{{ event.data.missed }}", text: "{{ event.message }}"}
"""


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("12", "farm_id=seconds pairs"),
        ("12=", "farm_id=seconds pairs"),
        ("x=60", "farm_id=seconds pairs"),
        ("0=60", "farm_id=seconds pairs"),
        ("12=-1", "farm_id=seconds pairs"),
        ("12=60,12=30", "names farm 12 twice"),
    ],
)
def test_bad_ingest_gap_farms_are_refused(raw, words):
    with pytest.raises(ConfigError, match="INGEST_GAP_FARMS") as caught:
        Config.from_env({"INGEST_GAP_FARMS": raw})
    assert words in str(caught.value)


def test_ingest_gap_bounds_read():
    config = Config.from_env({"INGEST_GAP_SECONDS": "3600", "INGEST_GAP_FARMS": "12=600, 14=0"})
    assert config.ingest_gap_bound(12) == 600
    assert config.ingest_gap_bound(14) == 0  # off for that farm
    assert config.ingest_gap_bound(99) == 3600
    with pytest.raises(ConfigError, match="INGEST_GAP_SECONDS must be a whole number"):
        Config.from_env({"INGEST_GAP_SECONDS": "1h"})


def sim_post(stack, path: str, body: dict) -> None:
    answer = requests.post(f"{stack.sim.base_url}/_sim/{path}", json=body, timeout=5)
    assert answer.status_code == 200, answer.text


def test_a_silent_farm_is_a_gap_and_events_list_says_how_many_were_lost(make_stack, receiver):  # noqa: F811
    # Only farm 1439 has a bound (the per-farm setting); the default is off.
    stack = make_stack(
        RULES.replace("RECEIVER", receiver.url),
        ingest_gap_seconds=0,
        ingest_gap_farms=((1439, 600),),
    )
    stack.worker.sync_inventory(3600)  # legacy notifications name no farm: the inventory does
    web = sorted(
        (s for s in stack.state.servers.values() if s.farm_role_id == 1978),
        key=lambda s: s.server_id,
    )
    # The farm speaks: an address changes, a server begins a reboot.
    stack.state.change_ip(web[0])
    stack.state.reboot_server(web[1])
    stack.state.notifier.flush()
    stack.drain()
    start = utcnow()
    # Its notification URL breaks: Scalr records the events, none arrives.
    sim_post(stack, "faults", {"kind": "drop_notifications", "farm_id": 1439})
    stack.state.crash_server(web[0])
    stack.state.change_ip(web[1])
    stack.state.advance(3)  # the reboot completes
    stack.state.notifier.flush()
    stack.drain()
    dropped = [d for d in stack.state.notifier.deliveries if d.kind == "dropped"]
    assert [d.event for d in dropped] == ["HostCrash", "IPAddressChanged", "RebootComplete"]
    assert len(stack.state.events) == 5

    stack.worker.clock = lambda: start + timedelta(seconds=300)
    assert stack.worker.check_ingest_gaps() == []  # silent, but not for longer than 600 s
    with stack.factory() as session:
        traffic = session.get(FarmTraffic, 1439)
        assert traffic.events == 2 and traffic.gap_since is None
        assert session.scalars(select(FarmTraffic.farm_id)).all() == [1439]

    stack.worker.clock = lambda: start + timedelta(seconds=700)
    [gap_id] = stack.worker.check_ingest_gaps()
    [gap] = own_events(stack, "IngestGap")
    assert gap.id == gap_id and gap.farm_id == 1439 and gap.source == "lifeguard"
    assert gap.data["missed"] == 3 and gap.data["bound_seconds"] == 600
    assert gap.data["events_seen"] == 2 and gap.data["silent_seconds"] >= 600
    assert "Scalr's EventsList shows 3 events that never arrived" in gap.message
    assert len(stack.state.calls("EventsList")) == 1

    # Once per gap: a later check emits nothing more.
    stack.worker.clock = lambda: start + timedelta(seconds=800)
    assert stack.worker.check_ingest_gaps() == []
    stack.drain(until=lambda: any(j.rule == "tell-ops" and j.finished_at for j in stack.jobs()))
    [told] = [json.loads(r.body) for r in receiver.wait_for(1) if r.path == "/ops"]
    assert told["farm"] == "1439" and told["missed"] == "3"

    # The farm speaks again, which closes the gap; the worker's clock (moved on by the test)
    # finds it silent again, so the next check opens a second gap. Its EventsList fails:
    # that is said, not guessed.
    requests.delete(f"{stack.sim.base_url}/_sim/faults", timeout=5)
    stack.state.change_ip(web[0])
    stack.state.notifier.flush()
    stack.drain()
    sim_post(stack, "faults", {"kind": "error", "action": "EventsList", "message": "Boom"})
    stack.worker.clock = lambda: start + timedelta(seconds=900)
    [again_id] = stack.worker.check_ingest_gaps()
    again = next(e for e in own_events(stack, "IngestGap") if e.id == again_id)
    assert (
        again.data["events_seen"] == 3 and again.data["last_event_id"] > gap.data["last_event_id"]
    )
    assert again.data["missed"] is None and "Boom" in again.data["missed_check"]
    assert "unknown" in again.message
    with stack.factory() as session:
        traffic = session.get(FarmTraffic, 1439)
        assert traffic.gap_event_id == again_id and traffic.gap_missed is None


def test_the_worker_loop_runs_the_check_as_a_periodic_task(make_stack, receiver):  # noqa: F811
    stack = make_stack(RULES.replace("RECEIVER", receiver.url), ingest_gap_seconds=60)
    stack.worker.sync_inventory(3600)
    server = next(s for s in stack.state.servers.values() if s.farm_role_id == 1979)
    stack.state.change_ip(server)
    stack.state.notifier.flush()
    stack.drain()
    start = utcnow()
    stack.worker.clock = lambda: start + timedelta(seconds=120)
    # The loop looks every 10 s (and the deployment once a minute of the worker's clock).
    stack.drain(
        until=lambda: any(j.rule == "tell-ops" and j.finished_at for j in stack.jobs()),
        timeout=40,
    )
    [gap] = own_events(stack, "IngestGap")
    assert gap.farm_id == 1439 and gap.data["missed"] == 0
    assert "Scalr's EventsList shows no event that did not arrive" in gap.message
    with stack.factory() as session:
        task = session.get(PeriodicTask, "ingest_gap")
        assert task.last_run_by == "test-worker" and "1 new gaps" in task.last_result
