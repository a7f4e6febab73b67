"""The backtest replays a rule with its delay, cancel_on and throttle over stored events."""

from __future__ import annotations

from datetime import timedelta

from app.db import utcnow
from app.queries.backtest import backtest
from app.rules.loader import load_rules
from tests.dashboard.conftest import RULES_YAML
from tests.factories import gen_event

RULE = load_rules(RULES_YAML).get("replace-terminated-web")


def seed(session):
    """Store the story the tests replay; return (now, ids by label)."""
    now = utcnow()
    t0 = now - timedelta(days=2)
    web = {"farm_id": 1439, "role_name": "web-1"}

    def down(label: str, minutes: int, farm_role: int, server: str, **extra):
        at = t0 + timedelta(minutes=minutes)
        fields = {**web, "farm_role_id": farm_role, "server_id": server, **extra}
        return label, gen_event(session, name="HostDown", received_at=at, **fields).id

    ids = dict(
        [
            down("a", 0, 5, "A"),
            down("b", 10, 5, "B"),
            down("c", 20, 5, "C"),  # third of key 5 within the hour: throttled
            down("d", 30, 6, "D"),  # another key
            down("e", 40, 5, "E"),  # its server comes back within the 2m delay: cancelled
            down("f", 90, 5, "F"),  # the fires at 2m and 12m have left the window
            down("other-farm", 50, 5, "G", farm_id=7),
        ]
    )
    gen_event(session, name="HostUp", server_id="E", received_at=t0 + timedelta(minutes=41))
    gen_event(session, name="HostUp", server_id="A", received_at=t0 + timedelta(minutes=5))
    gen_event(session, name="HostCrash", received_at=t0 + timedelta(minutes=1))
    gen_event(session, name="HostDown", received_at=now - timedelta(days=9), **web,
              farm_role_id=5, server_id="old")  # fmt: skip
    return now, ids


def test_backtest_applies_delay_cancel_and_throttle(db_session):
    now, ids = seed(db_session)
    result = backtest(db_session, RULE, now - timedelta(days=7), now)
    assert result.scanned == 9  # 7 HostDown + 2 HostUp, in the period
    assert not result.capped
    assert result.matched == 6
    outcomes = {d.event_id: d.outcome for d in result.decisions}
    assert outcomes == {
        ids["a"]: "would_fire",
        ids["b"]: "would_fire",
        ids["c"]: "would_be_throttled",
        ids["d"]: "would_fire",
        ids["e"]: "would_be_cancelled",
        ids["f"]: "would_fire",
    }
    body = result.to_dict()
    assert (body["would_fire"], body["would_be_throttled"], body["would_be_cancelled"]) == (4, 1, 1)
    assert body["not_matched_because"] == {"where.farm_id": 1}
    first = result.decisions[0]
    assert first.due_at - first.received_at == timedelta(minutes=2)
    assert first.key == "5"


def test_backtest_stops_at_the_cap(db_session):
    now, _ = seed(db_session)
    result = backtest(db_session, RULE, now - timedelta(days=7), now, cap=3)
    assert result.capped
    assert result.scanned == 3
    assert result.to_dict()["capped"] is True


def test_backtest_without_throttle_or_delay(db_session):
    rule = load_rules(RULES_YAML).get("notify-crash")
    now = utcnow()
    for i in range(3):
        gen_event(db_session, name="HostCrash", received_at=now - timedelta(minutes=i))
    result = backtest(db_session, rule, now - timedelta(days=1), now + timedelta(seconds=1))
    assert result.counts["would_fire"] == 3
    assert [d.received_at for d in result.decisions] == sorted(
        d.received_at for d in result.decisions
    )
