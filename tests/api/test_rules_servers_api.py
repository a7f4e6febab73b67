"""/api/v1/rules (pause, resume, backtest), /api/v1/servers, the event explanation."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from app.db import utcnow
from app.models.ops import RuleState
from app.rules.store import RulesStore
from app.services import services_of
from tests.conftest import API_TOKEN
from tests.dashboard.conftest import use_rules
from tests.dashboard.helpers import gen_job, gen_server
from tests.factories import gen_event

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def api(app, tmp_path):
    use_rules(app, tmp_path / "rules.yml")
    return app.test_client()


def test_rules_list_and_detail(api):
    body = api.get("/api/v1/rules", headers=AUTH).get_json()
    assert [r["name"] for r in body["items"]] == ["replace-terminated-web", "notify-crash"]
    assert body["next_cursor"] is None
    first = body["items"][0]
    assert first["throttle"] == {"key": "{{ event.farm_role_id }}", "max": 2, "per": 3600}
    assert first["paused"] is False and first["dry_run"] is False
    assert api.get("/api/v1/rules/notify-crash", headers=AUTH).get_json()["events"] == ["HostCrash"]
    assert api.get("/api/v1/rules/nope", headers=AUTH).status_code == 404


def test_pause_resume_persisted(api, db_session):
    body = api.post("/api/v1/rules/notify-crash/pause", headers=AUTH).get_json()
    assert body["paused"] is True
    row = db_session.get(RuleState, "notify-crash")
    assert row.paused and row.updated_by == "api"
    db_session.rollback()
    assert api.post("/api/v1/rules/notify-crash/resume", headers=AUTH).get_json()["paused"] is False
    db_session.expire_all()
    assert not db_session.get(RuleState, "notify-crash").paused
    db_session.rollback()
    assert api.post("/api/v1/rules/nope/pause", headers=AUTH).status_code == 404


def test_backtest(api, db_session):
    now = utcnow()
    for minutes in (0, 10, 20):
        gen_event(db_session, name="HostDown", farm_id=1439, role_name="web-1", farm_role_id=5,
                  server_id=f"s{minutes}", received_at=now - timedelta(hours=5) + timedelta(minutes=minutes))  # fmt: skip
    response = api.post(
        "/api/v1/rules/replace-terminated-web/backtest", json={"days": 1}, headers=AUTH
    )
    body = response.get_json()
    assert response.status_code == 200
    assert (body["would_fire"], body["would_be_throttled"], body["scanned"]) == (2, 1, 3)
    assert (body["would_be_held"], body["would_be_skipped_flapping"]) == (0, 0)
    assert body["loop_events_read"] == 3  # the down/up events the flapping check read
    assert [d["outcome"] for d in body["decisions"]] == [
        "would_fire",
        "would_fire",
        "would_be_throttled",
    ]
    for bad in ({"days": 0}, {"days": 91}, {"days": "7"}, {"days": True}, {}, None):
        response = api.post("/api/v1/rules/replace-terminated-web/backtest", json=bad, headers=AUTH)
        assert response.status_code == 400
        assert response.get_json()["error"] == "invalid_days"


def test_rules_without_a_store(client, app, tmp_path):
    services_of(app).rules = RulesStore(tmp_path / "never-written.yml")
    response = client.get("/api/v1/rules", headers=AUTH)
    assert response.status_code == 503 and response.get_json()["error"] == "rules_not_loaded"


def test_servers_list_pages_and_filters(api, db_session):
    for name in ("c", "a", "b"):
        gen_server(db_session, f"srv-{name}", farm_id=1 if name != "b" else 2)
    body = api.get("/api/v1/servers?limit=2", headers=AUTH).get_json()
    assert [s["server_id"] for s in body["items"]] == ["srv-a", "srv-b"]
    rest = api.get(f"/api/v1/servers?limit=2&cursor={body['next_cursor']}", headers=AUTH).get_json()
    assert [s["server_id"] for s in rest["items"]] == ["srv-c"] and rest["next_cursor"] is None
    ids = [
        s["server_id"]
        for s in api.get("/api/v1/servers?farm_id=2", headers=AUTH).get_json()["items"]
    ]
    assert ids == ["srv-b"]
    assert api.get("/api/v1/servers?cursor=bad!", headers=AUTH).status_code == 400
    assert api.get("/api/v1/servers?farm_id=x", headers=AUTH).status_code == 400


def test_server_detail_with_timeline(api, db_session):
    t0 = utcnow() - timedelta(hours=1)
    gen_server(db_session, "old-1")
    down = gen_event(db_session, name="HostDown", server_id="old-1", received_at=t0)
    job = gen_job(db_session, down.id, server_id="old-1", status="succeeded",
                  started_at=t0 + timedelta(minutes=2), result={"ServerID": "new-1"})  # fmt: skip
    gen_event(db_session, name="HostUp", server_id="new-1", received_at=t0 + timedelta(minutes=5))
    body = api.get("/api/v1/servers/old-1", headers=AUTH).get_json()
    assert body["server"]["server_id"] == "old-1"
    kinds = [(e["kind"], (e.get("event") or {}).get("name")) for e in body["timeline"]]
    assert kinds == [("event", "HostDown"), ("job", None), ("replacement", "HostUp")]
    assert body["timeline"][1]["job"]["id"] == job.id
    assert body["timeline"][1]["job"]["launched_server_id"] == "new-1"
    assert api.get("/api/v1/servers/nobody", headers=AUTH).status_code == 404


def test_event_explanation(api, db_session):
    stored = [
        {"rule_name": "replace-terminated-web", "matched": False, "reason": "x", "failures": []}
    ]
    event = gen_event(db_session, name="HostDown", farm_id=7, evaluations=stored,
                      processed_at=utcnow(), rules_version="v1")  # fmt: skip
    job = gen_job(db_session, event.id)
    body = api.get(f"/api/v1/events/{event.id}/explanation", headers=AUTH).get_json()
    assert body["evaluations"] == stored
    assert body["rules_version"] == "v1"
    assert [j["id"] for j in body["jobs"]] == [job.id]
    assert body["loop"] == []  # no hold, storm or flapping concerns it
    current = {e["rule_name"]: e for e in body["current"]["evaluations"]}
    assert current["replace-terminated-web"]["failures"][0]["path"] == "where.farm_id"
    assert current["replace-terminated-web"]["failures"][0]["actual"] == 7
    assert current["notify-crash"]["matched"] is False
    assert api.get("/api/v1/events/99999/explanation", headers=AUTH).status_code == 404


def test_the_web_process_sees_a_changed_rules_file(api, app, tmp_path):
    """The running web process looks at the file again: pages and /metrics tell the truth."""
    path = tmp_path / "rules.yml"
    assert len(api.get("/api/v1/rules", headers=AUTH).get_json()["items"]) == 2
    path.write_text("rules:\n  - name: Bad Name\n    events: []\n")
    time.sleep(2.1)  # the store looks at most every two seconds
    metrics = api.get("/metrics").get_data(as_text=True)
    assert "lifeguard_rules_file_ok 0.0" in metrics
    # The last good rules keep running while the file is broken.
    assert len(api.get("/api/v1/rules", headers=AUTH).get_json()["items"]) == 2
    path.write_text(
        "rules:\n  - name: only-one\n    events: [HostUp]\n    actions:\n      - email: ops@example.com\n"
    )
    time.sleep(2.1)
    names = [r["name"] for r in api.get("/api/v1/rules", headers=AUTH).get_json()["items"]]
    assert names == ["only-one"]
    assert "lifeguard_rules_file_ok 1.0" in api.get("/metrics").get_data(as_text=True)
