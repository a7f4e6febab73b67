"""The audit trail: what the controls write, and the filtered, paged list of the page and API."""

from __future__ import annotations

from app.audit import audit
from app.users import Actor
from tests.conftest import API_TOKEN
from tests.dashboard.conftest import post
from tests.dashboard.helpers import gen_job
from tests.factories import gen_event

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


def _fill(db_session, count: int = 7) -> None:
    alice = Actor("alice", "operator", "dashboard", "10.0.0.5")
    bob = Actor("bob", "admin", "api", "10.0.0.6")
    for i in range(count):
        who = alice if i % 2 == 0 else bob
        audit(db_session, who, "job.retry" if i % 3 else "rule.pause", f"job:{i}", reason=f"r{i}")
    audit(db_session, bob, "kill_switch.engage", "kill_switch", outcome="denied")
    db_session.commit()


def test_api_lists_newest_first_with_filters_and_cursor(client, db_session):
    _fill(db_session)
    everything = client.get("/api/v1/audit", headers=BEARER).get_json()
    assert [e["action"] for e in everything["items"]][:2] == ["kill_switch.engage", "rule.pause"]
    assert everything["next_cursor"] is None
    first = client.get("/api/v1/audit?limit=3", headers=BEARER).get_json()
    second = client.get(
        f"/api/v1/audit?limit=3&cursor={first['next_cursor']}", headers=BEARER
    ).get_json()
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 6
    alice = client.get("/api/v1/audit?actor=alice", headers=BEARER).get_json()["items"]
    assert {e["actor"] for e in alice} == {"alice"} and len(alice) == 4
    assert alice[0]["address"] == "10.0.0.5" and alice[0]["via"] == "dashboard"
    jobs = client.get("/api/v1/audit?action=job.", headers=BEARER).get_json()["items"]
    assert {e["action"] for e in jobs} == {"job.retry"}
    one = client.get("/api/v1/audit?target=job:4", headers=BEARER).get_json()["items"]
    assert [e["reason"] for e in one] == ["r4"]
    denied = client.get("/api/v1/audit?outcome=denied&via=api", headers=BEARER).get_json()
    assert [e["action"] for e in denied["items"]] == ["kill_switch.engage"]
    assert client.get("/api/v1/audit?outcome=maybe", headers=BEARER).status_code == 400
    assert client.get("/api/v1/audit?cursor=nonsense", headers=BEARER).status_code == 400
    like = client.get("/api/v1/audit?action=%25", headers=BEARER).get_json()["items"]
    assert like == []  # a filter's % is a plain character, not a wildcard


def test_dashboard_controls_are_recorded_with_their_reason(admin, db_session, client):
    event = gen_event(db_session)
    job = gen_job(db_session, event.id, status="dead")
    post(admin, f"/actions/{job.id}/retry", reason="Scalr is back")
    post(admin, "/rules/replace-terminated-web/pause", reason="noisy farm")
    post(admin, "/rules/replace-terminated-web/dry-run", mode="on")
    post(admin, f"/actions/{job.id}/retry")  # no longer dead: refused
    items = client.get("/api/v1/audit?via=dashboard", headers=BEARER).get_json()["items"]
    got = [(e["action"], e["target"], e["outcome"], e["reason"]) for e in reversed(items)]
    assert got == [
        ("login", None, "ok", None),
        ("job.retry", f"job:{job.id}", "ok", "Scalr is back"),
        ("rule.pause", "rule:replace-terminated-web", "ok", "noisy farm"),
        ("rule.dry_run", "rule:replace-terminated-web", "ok", None),
        ("job.retry", f"job:{job.id}", "refused", None),
    ]
    assert items[1]["detail"] == {"mode": "on"}


def test_the_audit_page_filters_and_pages(admin, db_session):
    _fill(db_session, count=60)
    page = admin.get("/audit").get_data(as_text=True)
    assert page.count("<tr><td><time") == 50 and 'rel="next"' in page
    filtered = admin.get("/audit?actor=bob&outcome=denied").get_data(as_text=True)
    assert "kill_switch.engage" in filtered and "job.retry" not in filtered
    older = admin.get("/audit?before=5").get_data(as_text=True)
    assert 'rel="next"' not in older
