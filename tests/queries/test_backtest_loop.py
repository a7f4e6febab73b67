"""The backtest accounts for the closed loop: holds in force then, storms, flapping servers."""

from __future__ import annotations

from datetime import timedelta

from app.db import utcnow
from app.models.loop import Hold
from app.queries.backtest import backtest
from app.queries.backtest_loop import LoopLimits
from app.rules.loader import load_rules
from tests.dashboard.helpers import gen_server
from tests.factories import gen_event

RULES = load_rules("""
rules:
  - name: replace
    events: [HostDown]
    storm: {share: 0.5, per: 5m}
    flap: {max: 3, per: 30m}
    throttle: {key: "{{ event.farm_role_id }}", max: 100, per: 1h}
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}"}
        guard: none
  - name: tell
    events: [HostDown]
    actions:
      - email: ops@example.com
""")


def test_storms_flapping_and_holds_are_replayed(db_session):
    now = utcnow()
    t0 = now - timedelta(days=1)
    for name in ("A", "B", "C", "D"):  # farm role 5 has four servers today
        gen_server(db_session, name, farm_role_id=5)

    def down(server: str, minute: float, farm_role: int = 5, name: str = "HostDown"):
        return gen_event(db_session, name=name, server_id=server, farm_role_id=farm_role,
                         received_at=t0 + timedelta(minutes=minute)).id  # fmt: skip

    first = down("A", 0)  # 1 of 4 down: fires
    second = down("B", 1)  # 2 of 4: not more than half, fires
    storm = down("C", 2)  # 3 of 4 within 5m: a storm
    later = down("D", 60)  # the window has passed: fires
    # Server F of farm role 9 flaps: down, up, down, up, down is four changes.
    for i, name in enumerate(["HostDown", "HostUp", "HostDown", "HostUp"]):
        down("F", 100 + i, farm_role=9, name=name)
    flapping = down("F", 105, farm_role=9)
    # A person's hold on the rule for key 9 was in force from 200 to 210 minutes.
    db_session.add(Hold(rule="replace", throttle_key="9", kind="unverified", reason="job 1 unverified",
                        created_at=t0 + timedelta(minutes=200), cleared_at=t0 + timedelta(minutes=210),
                        cleared_by="dashboard:ann"))  # fmt: skip
    held = down("G", 205, farm_role=9)
    after = down("H", 215, farm_role=9)
    db_session.commit()

    rule = RULES.get("replace")
    result = backtest(db_session, rule, now - timedelta(days=2), now, limits=LoopLimits.of(rule))
    outcomes = {d.event_id: (d.outcome, d.detail) for d in result.decisions}
    assert outcomes[first][0] == outcomes[second][0] == outcomes[later][0] == "would_fire"
    assert outcomes[storm] == (
        "would_be_held",
        "storm: 3 of 4 known servers of farm role 5 went down in the last 5m (more than 50%); "
        "its launches wait for a person to release or cancel them",
    )
    assert outcomes[flapping][0] == "would_be_skipped_flapping"
    assert outcomes[flapping][1].startswith("flapping: server F changed between down and up 4")
    assert outcomes[held][0] == "would_be_held"
    assert outcomes[held][1].startswith("hold #") and "in force then" in outcomes[held][1]
    assert outcomes[after][0] == "would_fire"
    summary = result.to_dict()
    assert summary["would_be_held"] == 2 and summary["would_be_skipped_flapping"] == 1
    assert summary["loop_events_read"] == 11

    # A notification rule is neither held nor stormed; flapping (the default FLAP_MAX 3) still
    # applies to it, as it does at run time.
    tell = RULES.get("tell")
    plain = backtest(db_session, tell, now - timedelta(days=2), now)
    told = {d.event_id: d.outcome for d in plain.decisions}
    assert told[storm] == told[held] == "would_fire"
    assert told[flapping] == "would_be_skipped_flapping"
    # Storms and flapping off (the rule's own keys aside, as a deployment's defaults say).
    off = LoopLimits(flap_max=0, flap_per=1800, storm_share=0.0, storm_per=300)
    quiet = backtest(db_session, tell, now - timedelta(days=2), now, limits=off)
    assert (
        quiet.to_dict()["would_fire"] == quiet.matched and quiet.to_dict()["loop_events_read"] == 0
    )
