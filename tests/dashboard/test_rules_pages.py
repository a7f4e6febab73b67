"""Rules pages: state, pause/resume, dry run, the test bench, the backtest form."""

from __future__ import annotations

import json
from datetime import timedelta

from app.db import utcnow
from app.models.ops import RuleState
from app.rules.store import RulesStore
from app.services import services_of
from tests.dashboard.conftest import post, use_rules
from tests.dashboard.helpers import gen_job
from tests.factories import gen_event

URL = "/rules/replace-terminated-web"


def state(session, name="replace-terminated-web") -> RuleState | None:
    session.expire_all()
    row = session.get(RuleState, name)
    if row is not None:
        session.expunge(row)
    session.rollback()  # SQLite: the open transaction would hold the write lock
    return row


def test_rules_list_shows_rules_state_and_activity(admin, db_session):
    event = gen_event(db_session)
    gen_job(db_session, event.id, created_at=utcnow() - timedelta(hours=1))
    gen_job(db_session, event.id, created_at=utcnow() - timedelta(hours=1), action_index=1)
    gen_job(db_session, gen_event(db_session).id, created_at=utcnow() - timedelta(days=3))
    page = admin.get("/rules").get_data(as_text=True)
    assert "replace-terminated-web" in page and "notify-crash" in page
    assert "<td>1</td><td>2</td>" in page  # one match, two actions in the last day
    assert "version <code>" in page


def test_broken_rules_file_is_shown_with_every_error(admin, dash_app, tmp_path):
    store = services_of(dash_app).rules
    (tmp_path / "rules.yml").write_text("rules:\n  - name: Bad Name\n    events: []\n")
    store.reload_if_changed(force=True)
    page = admin.get("/rules").get_data(as_text=True)
    assert "The rules file is broken" in page
    assert "bad rule name" in page
    assert "replace-terminated-web" in page  # still running the last good version
    assert "The rules file is broken" in admin.get("/").get_data(as_text=True)


def test_pause_and_resume_are_persisted(admin, db_session):
    assert post(admin, f"{URL}/pause", reason="test").status_code == 303
    row = state(db_session)
    assert row.paused and row.updated_by == "dashboard:admin: test"
    assert "paused" in admin.get("/rules").get_data(as_text=True)
    assert 'action="/rules/replace-terminated-web/resume"' in admin.get(URL).get_data(as_text=True)
    assert post(admin, f"{URL}/resume").status_code == 303
    assert not state(db_session).paused


def test_dry_run_switch(admin, db_session):
    assert post(admin, f"{URL}/dry-run", mode="on").status_code == 303
    assert state(db_session).dry_run is True
    assert post(admin, f"{URL}/dry-run", mode="off").status_code == 303
    assert state(db_session).dry_run is False
    assert post(admin, f"{URL}/dry-run", mode="file").status_code == 303
    assert state(db_session).dry_run is None
    assert post(admin, f"{URL}/dry-run", mode="maybe").status_code == 400


def test_unknown_rule_is_404(admin):
    assert admin.get("/rules/nope").status_code == 404
    assert post(admin, "/rules/nope/pause", reason="test").status_code == 404


def test_rule_page_shows_definition(admin):
    page = admin.get(URL).get_data(as_text=True)
    assert "farm_id eq 1439" in page
    assert "at most 2 per 1h" in page
    assert "ServerLaunch" in page


def test_test_bench_with_a_stored_event(admin, db_session):
    event = gen_event(db_session, farm_id=1439, role_name="web-3", farm_role_id=77)
    page = post(admin, f"{URL}/test", event_id=str(event.id)).get_data(as_text=True)
    assert "matched" in page
    assert "&#34;FarmRoleID&#34;: &#34;77&#34;" in page
    assert "Throttle key: <code>77</code>" in page


def test_test_bench_explains_a_miss(admin):
    pasted = json.dumps({"name": "OnHostDown", "farm_id": 1440, "role_name": "web-1"})
    page = post(admin, f"{URL}/test", event_json=pasted).get_data(as_text=True)
    assert "no match" in page
    assert '<code class="actual">1440</code>' in page


def test_test_bench_redacts_rendered_secrets(admin):
    pasted = json.dumps({"name": "HostCrash", "server_id": "s-1"})
    page = post(admin, "/rules/notify-crash/test", event_json=pasted).get_data(as_text=True)
    assert "crash s-1" in page
    assert "sekrit-header-value" not in page


def test_test_bench_refuses_bad_input(admin):
    assert post(admin, f"{URL}/test").status_code == 400
    assert post(admin, f"{URL}/test", event_id="999999").status_code == 400
    response = post(admin, f"{URL}/test", event_json="{not json")
    assert response.status_code == 400 and "Not valid JSON" in response.get_data(as_text=True)
    assert post(admin, f"{URL}/test", event_json="[1]").status_code == 400


def test_backtest_form(admin, db_session):
    now = utcnow()
    for minutes in (0, 10, 20):
        gen_event(db_session, name="HostDown", farm_id=1439, role_name="web-1", farm_role_id=5,
                  server_id=f"s{minutes}", received_at=now - timedelta(hours=5, minutes=-minutes))  # fmt: skip
    page = post(admin, f"{URL}/backtest", days="1").get_data(as_text=True)
    assert "<strong>2</strong> would fire" in page
    assert "<strong>1</strong> would be throttled" in page
    assert post(admin, f"{URL}/backtest", days="0").status_code == 400
    assert post(admin, f"{URL}/backtest", days="abc").status_code == 400
    assert post(admin, f"{URL}/backtest", days="91").status_code == 400


def test_without_a_rules_store(admin, dash_app, tmp_path):
    services_of(dash_app).rules = RulesStore(tmp_path / "never-written.yml")
    assert "not loaded" in admin.get("/rules").get_data(as_text=True)
    assert admin.get(URL).status_code == 404


def test_swapping_rules_files(admin, dash_app, tmp_path):
    use_rules(dash_app, tmp_path / "other.yml", "rules:\n  - name: only-one\n    events: [HostUp]\n"
              "    actions:\n      - email: ops@example.com\n")  # fmt: skip
    page = admin.get("/rules").get_data(as_text=True)
    assert "only-one" in page and "notify-crash" not in page
