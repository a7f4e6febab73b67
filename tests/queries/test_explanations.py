"""The one explanation builder behind the event page and the API's explanation."""

from __future__ import annotations

from app.db import utcnow
from app.queries.explanations import explain_event
from app.rules.store import RulesStore
from tests.dashboard.helpers import gen_job
from tests.factories import gen_event

RULES_YAML = """\
rules:
  - name: replace-terminated-web
    events: [HostDown]
    where: {farm_id: 1439, role_name: "web-*"}
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}"}
  - name: notify-crash
    events: [HostCrash]
    actions:
      - email: ops@example.com
"""
STORED = [{"rule_name": "old-rule", "matched": False, "reason": "gone", "failures": []}]


def loaded_store(tmp_path) -> RulesStore:
    path = tmp_path / "rules.yml"
    path.write_text(RULES_YAML)
    store = RulesStore(path)
    store.reload_if_changed()
    return store


def test_stored_verdicts_jobs_and_the_rules_of_now(db_session, tmp_path):
    store = loaded_store(tmp_path)
    event = gen_event(db_session, farm_id=7, evaluations=STORED, processed_at=utcnow(),
                      rules_version="abc123")  # fmt: skip
    other = gen_event(db_session)
    second = gen_job(db_session, event.id, action_index=1)
    first = gen_job(db_session, event.id, action_index=0)
    gen_job(db_session, other.id)
    found = explain_event(db_session, store, event.id)
    assert found is not None
    assert found.event.id == event.id
    assert found.stored == STORED
    assert [j.id for j in found.jobs] == [second.id, first.id]  # in the order they were made
    assert found.current is not None
    assert found.current.rules_version == store.current.version
    verdicts = {e["rule_name"]: e for e in found.current.evaluations}
    assert list(verdicts) == ["replace-terminated-web", "notify-crash"]  # file order
    assert verdicts["replace-terminated-web"]["matched"] is False
    assert "1439" in verdicts["replace-terminated-web"]["reason"]
    assert "HostCrash" in verdicts["notify-crash"]["reason"]


def test_an_unmatched_event_has_no_stored_verdicts(db_session, tmp_path):
    event = gen_event(db_session, farm_id=1439, role_name="web-1")
    found = explain_event(db_session, loaded_store(tmp_path), event.id)
    assert found is not None
    assert found.stored == [] and found.jobs == []
    assert found.current is not None
    assert found.current.evaluations[0]["matched"] is True


def test_no_rules_ever_loaded_means_no_current_verdicts(db_session, tmp_path):
    store = RulesStore(tmp_path / "missing.yml")
    event = gen_event(db_session)
    found = explain_event(db_session, store, event.id)
    assert found is not None and found.current is None


def test_a_missing_event_has_no_explanation(db_session, tmp_path):
    store = loaded_store(tmp_path)
    assert explain_event(db_session, store, 999_999) is None
    assert explain_event(db_session, store, 2**63) is None  # past the id column's range
