"""The explanation says what holds, storms and flapping did to an event's jobs, and say now."""

from __future__ import annotations

from datetime import timedelta

from app.config import Config
from app.db import utcnow
from app.models.loop import Hold
from app.queries.explanations import explain_event
from app.rules.store import RulesStore
from tests.dashboard.helpers import gen_job, gen_server
from tests.factories import gen_event

RULES_YAML = """\
rules:
  - name: replace
    events: [HostDown, HostUp]
    storm: {share: 0.5, per: 5m}
    flap: {max: 2, per: 30m}
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}"}
        guard: none
  - name: tell
    events: [HostDown]
    actions:
      - email: ops@example.com
"""


def store(tmp_path) -> RulesStore:
    path = tmp_path / "rules.yml"
    path.write_text(RULES_YAML)
    rules = RulesStore(path)
    rules.reload_if_changed()
    return rules


def test_held_flapping_and_storm_are_explained(db_session, tmp_path):
    rules = store(tmp_path)
    now = utcnow()
    for name in ("A", "B", "C", "D"):
        gen_server(db_session, name, farm_role_id=5)
    downs = [
        gen_event(db_session, server_id=s, farm_role_id=5, received_at=now - timedelta(minutes=1))
        for s in ("A", "B", "C")
    ]
    # Server A also went up, down and up again: three changes, more than `flap: {max: 2}`.
    for name in ("HostUp", "HostDown", "HostUp"):
        gen_event(db_session, name=name, server_id="A", farm_role_id=5, received_at=now)
    event = downs[0]
    hold = Hold(rule="", throttle_key="", kind="storm", reason="launches of farm role 5 held: storm",
                farm_id=1439, farm_role_id=5, created_at=now)  # fmt: skip
    db_session.add(hold)
    db_session.flush()
    held = gen_job(db_session, event.id, rule="replace", status="held", hold_id=hold.id,
                   reason=f"hold #{hold.id}: launches of farm role 5 held: storm")  # fmt: skip
    skipped = gen_job(db_session, event.id, rule="tell", kind="email", action="email",
                      status="skipped", reason="flapping: server A changed ...")  # fmt: skip
    db_session.commit()

    found = explain_event(db_session, rules, event.id, Config(), now)
    by = {(n["guard"], n["job_id"], n["rule"]): n["text"] for n in found.loop}
    assert by[("storm", held.id, "replace")].startswith(
        f"held: hold #{hold.id} (storm) is in force"
    )
    assert by[("flapping", skipped.id, "tell")] == "skipped: flapping: server A changed ..."
    assert by[("flapping", None, "replace")].startswith("now: flapping: server A changed between")
    assert ("flapping", None, "tell") not in by  # the default FLAP_MAX 3: three is not more
    assert by[("storm", None, "replace")].startswith(f"now: hold #{hold.id} (storm) is in force")

    # Once the hold is cleared, the storm is judged afresh from the clearing on.
    hold.cleared_at, hold.cleared_by = now - timedelta(seconds=30), "api"
    db_session.commit()
    found = explain_event(db_session, rules, event.id, Config(), now)
    by = {(n["guard"], n["job_id"], n["rule"]): n["text"] for n in found.loop}
    assert "was cleared by api" in by[("storm", held.id, "replace")]
    assert by[("storm", None, "replace")].startswith(
        "now: no storm (1 of 4 known servers"
    )  # A, again
    found = explain_event(db_session, rules, event.id, Config(), now + timedelta(hours=2))
    assert not [n for n in found.loop if n["job_id"] is None and n["guard"] == "flapping"]
