"""The backtest and the explanation know the kill switch, silences and maintenance windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.audit import audit
from app.db import utcnow
from app.jobs.kill_switch import engage_kill_switch
from app.models.controls import Silence
from app.queries.backtest import backtest
from app.queries.explanations import explain_event
from app.rules.loader import load_rules
from app.rules.store import RulesStore
from app.users import ADMIN, Actor
from tests.conftest import API_TOKEN
from tests.dashboard.conftest import admin, dash_app  # noqa: F401  (fixtures)
from tests.factories import gen_event

RULES = """
maintenance:
  - name: nightly-patching
    matchers: {{farm_id: 1439}}
    from: "{start}"
    to: "{end}"
rules:
  - name: replace
    events: [HostDown]
    delay: 2m
    actions:
      - email: ops@example.com
"""


def rules_with_window(start: datetime, end: datetime) -> str:
    return RULES.format(start=f"{start:%H:%M}", end=f"{end:%H:%M}")


def test_backtest_counts_what_each_control_held_back(db_session):
    now = utcnow().replace(second=0, microsecond=0)
    t0 = now - timedelta(hours=20)
    # The window covers 3h-4h after t0 (the jobs' due times), every day.
    ruleset = load_rules(rules_with_window(t0 + timedelta(hours=3), t0 + timedelta(hours=4)))
    rule = ruleset.get("replace")
    assert rule is not None

    def down(minutes: int, farm: int) -> int:
        at = t0 + timedelta(minutes=minutes)
        return gen_event(db_session, name="HostDown", farm_id=farm, received_at=at).id

    fired = down(0, 1500)
    silenced = down(60, 1500)
    in_window = down(180, 1439)
    outside_window = down(180, 1500)
    switched_off = down(300, 1500)
    after_release = down(400, 1500)
    db_session.add(
        Silence(
            matchers={"farm_id": 1500},
            starts_at=t0 + timedelta(minutes=55),
            ends_at=t0 + timedelta(minutes=70),
            comment="rebuild",
            created_by="api",
        )
    )
    actor = Actor("ada", ADMIN, "dashboard")
    audit(db_session, actor, "kill_switch.engage", "kill_switch", reason="freeze",
          now=t0 + timedelta(minutes=290))  # fmt: skip
    audit(db_session, actor, "kill_switch.release", "kill_switch",
          now=t0 + timedelta(minutes=330))  # fmt: skip
    db_session.commit()
    result = backtest(db_session, rule, t0 - timedelta(minutes=1), now, windows=ruleset.maintenance)
    decisions = {d.event_id: d for d in result.decisions}
    assert decisions[fired].outcome == "would_fire"
    assert decisions[outside_window].outcome == "would_fire"
    assert decisions[after_release].outcome == "would_fire"
    assert (decisions[silenced].outcome, decisions[silenced].control) == (
        "would_be_held_back",
        "silence",
    )
    assert decisions[silenced].detail.endswith("(rebuild)")
    assert decisions[in_window].control == "maintenance"
    assert decisions[in_window].detail == 'maintenance window "nightly-patching"'
    assert decisions[switched_off].control == "kill_switch"
    assert decisions[switched_off].detail.startswith("kill switch engaged by dashboard:ada at ")
    body = result.to_dict()
    assert body["would_be_held_back"] == 3 and body["would_fire"] == 3
    assert body["held_back_by"] == {"silence": 1, "maintenance": 1, "kill_switch": 1}
    assert body["kill_switch_now"] is None


def test_backtest_says_the_kill_switch_is_engaged_now(db_session):
    rule = load_rules(RULES.format(start="00:00", end="00:01")).get("replace")
    assert rule is not None
    now = utcnow()
    engage_kill_switch(db_session, "api", "incident 7", now - timedelta(minutes=1))
    audit(db_session, Actor("api", ADMIN, "api"), "kill_switch.engage", "kill_switch",
          reason="incident 7", now=now - timedelta(minutes=1))  # fmt: skip
    db_session.commit()
    result = backtest(db_session, rule, now - timedelta(days=1), now)
    assert result.kill_switch_now is not None and result.kill_switch_now.endswith("incident 7")
    assert result.kill_switch_now.startswith("kill switch engaged by api at ")


def test_the_explanation_says_what_held_an_event_back(db_session, tmp_path):
    now = datetime.now(UTC)
    path = tmp_path / "rules.yml"
    path.write_text(rules_with_window(now - timedelta(hours=1), now + timedelta(hours=1)))
    store = RulesStore(path)
    store.reload_if_changed()
    covered = gen_event(db_session, farm_id=1439, received_at=now - timedelta(minutes=1))
    free = gen_event(db_session, farm_id=1500, received_at=now - timedelta(days=2))
    found = explain_event(db_session, store, covered.id, now)
    assert found is not None and found.held_now is not None
    assert found.held_now.reason == 'maintenance window "nightly-patching"'
    assert found.controls_json()["at_arrival"] == {
        "control": "maintenance",
        "reason": 'maintenance window "nightly-patching"',
    }
    other = explain_event(db_session, store, free.id, now)
    assert other is not None and other.held_now is None and other.held_at_arrival is None
    engage_kill_switch(db_session, "dashboard:ada", "freeze", now - timedelta(seconds=5))
    db_session.commit()
    frozen = explain_event(db_session, store, free.id, now)
    assert frozen is not None and frozen.held_now is not None
    assert frozen.held_now.control == "kill_switch" and frozen.held_at_arrival is None


def test_the_explanation_api_and_the_event_page_say_so(client, admin, db_session):  # noqa: F811
    event = gen_event(db_session, farm_id=1500, received_at=utcnow() - timedelta(hours=1))
    engage_kill_switch(db_session, "api", "freeze", utcnow() - timedelta(seconds=5))
    db_session.commit()
    body = client.get(
        f"/api/v1/events/{event.id}/explanation",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    ).get_json()
    assert body["controls"]["now"]["control"] == "kill_switch"
    assert body["controls"]["now"]["reason"].endswith(": freeze")
    assert body["controls"]["at_arrival"] is None
    page = admin.get(f"/events/{event.id}").get_data(as_text=True)
    assert "Operator controls" in page
    assert 'Now: <span class="status s-skipped">held back</span> kill switch engaged by api' in page
    assert "When it arrived: no kill switch, silence or maintenance window" in page
