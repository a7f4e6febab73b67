"""Silences: matchers, the claim's skip, the API, the page, and one that ends while jobs wait."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.jobs.control import ControlError, retry_job
from app.jobs.silences import create_silence, matching_silence, parse_matchers
from app.models.controls import AuditEntry, Silence
from tests.conftest import API_TOKEN
from tests.dashboard.conftest import post
from tests.jobs.helpers import claim, matched, two_steps
from tests.worker.test_remediation_e2e import host_down

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
SID = "5bbd72c5-908c-4535-a7ec-2fbf56486ff3"


def silence(session, matchers, comment="db maintenance", minutes=60, starts=0) -> Silence:
    now = utcnow()
    row = create_silence(
        session, "api", matchers, now + timedelta(minutes=starts),
        now + timedelta(minutes=minutes), comment, now,
    )  # fmt: skip
    session.commit()
    return row


@pytest.mark.parametrize(
    "matchers,hit",
    [
        ({"farm_id": 1439}, True),
        ({"farm_id": "1439"}, True),
        ({"farm_id": 1440}, False),
        ({"role_name": "web-*"}, True),
        ({"role_name": "db-*"}, False),
        ({"name": {"in": ["HostDown", "HostCrash"]}}, True),
        ({"server_id": {"regex": "^5bbd"}}, True),
        ({"farm_id": 1439, "role_name": "db-*"}, False),
        ({"farm_role_id": {"gte": 5}}, True),
    ],
)
def test_matchers_use_the_rules_operators(matchers, hit):
    fields = {"name": "HostDown", "farm_id": 1439, "farm_role_id": 7, "role_name": "web-1",
              "server_id": SID}  # fmt: skip
    row = Silence(id=1, matchers=matchers, comment="c")
    assert (matching_silence([row], fields) is row) is hit


@pytest.mark.parametrize(
    "matchers,message",
    [
        ({}, "non-empty"),
        ([], "non-empty"),
        ({"message": "x"}, "not message"),
        ({"farm_id": {"regex": "("}}, "bad regex"),
        ({"farm_id": {"nope": 1}}, "unknown operator"),
        ({"farm_id": [1, 2]}, "ambiguous"),
    ],
)
def test_bad_matchers_are_refused_with_the_reason(matchers, message):
    with pytest.raises(ControlError) as caught:
        parse_matchers(matchers)
    assert message in caught.value.message


def test_the_claim_skips_a_silenced_job_and_a_person_may_still_run_it(db_session):
    other = silence(db_session, {"farm_id": 9999}, comment="not this one")
    hit = silence(db_session, {"farm_id": 1439, "name": "HostDown"})
    silence(db_session, {"farm_id": 1439}, comment="pending", starts=30)
    first, _ = matched(db_session, two_steps(), farm_id=1439)
    job = claim(db_session, two_steps())
    assert job.id == first.id and job.status == "skipped"
    assert job.reason == f"silenced by #{hit.id} (db maintenance)"
    assert other.id != hit.id
    retry_job(db_session, first.id, "dashboard:otto")
    db_session.commit()
    assert claim(db_session, two_steps()).status == "running"


def test_an_unmatched_or_ended_silence_lets_jobs_run(db_session):
    row = silence(db_session, {"farm_id": 1439})
    row.ends_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    matched(db_session, two_steps(), farm_id=1439)
    assert claim(db_session, two_steps()).status == "running"


def test_api_create_list_expire(client, db_session):
    body = {"matchers": {"farm_id": 1439, "role_name": "web-*"}, "duration": "2h",
            "comment": "farm 1439 rebuild"}  # fmt: skip
    created = client.post("/api/v1/silences", headers=BEARER, json=body)
    assert created.status_code == 201, created.get_json()
    made = created.get_json()
    assert made["state"] == "active" and made["created_by"] == "api"
    assert made["matchers"] == {"farm_id": 1439, "role_name": "web-*"}
    start = made["starts_at"]
    later = {**body, "starts_at": "2099-01-01T00:00:00+00:00", "ends_at": "2099-01-02T00:00:00Z"}
    del later["duration"]
    pending = client.post("/api/v1/silences", headers=BEARER, json=later).get_json()
    assert pending["state"] == "pending"
    listed = client.get("/api/v1/silences", headers=BEARER).get_json()
    assert [s["id"] for s in listed["items"]] == [pending["id"], made["id"]]
    active = client.get("/api/v1/silences?state=active", headers=BEARER).get_json()["items"]
    assert [s["id"] for s in active] == [made["id"]]
    gone = client.delete(f"/api/v1/silences/{made['id']}", headers=BEARER)
    assert gone.status_code == 200 and gone.get_json()["state"] == "expired"
    assert gone.get_json()["expired_by"] == "api" and gone.get_json()["starts_at"] == start
    assert client.delete(f"/api/v1/silences/{made['id']}", headers=BEARER).status_code == 409
    assert client.delete("/api/v1/silences/999", headers=BEARER).status_code == 404
    audit = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    db_session.commit()
    assert audit == ["silence.create", "silence.create", "silence.expire", "silence.expire",
                     "silence.expire"]  # fmt: skip


@pytest.mark.parametrize(
    "body,code",
    [
        ({"matchers": {"farm_id": 1}, "comment": "x"}, "invalid_window"),
        ({"matchers": {"farm_id": 1}, "duration": "2h", "ends_at": "2099-01-01T00:00:00Z",
          "comment": "x"}, "invalid_window"),
        ({"matchers": {"farm_id": 1}, "duration": "soon", "comment": "x"}, "invalid_window"),
        ({"matchers": {"farm_id": 1}, "ends_at": "2099-01-01T00:00:00", "comment": "x"},
         "invalid_window"),
        ({"matchers": {"farm_id": 1}, "ends_at": "2001-01-01T00:00:00Z", "comment": "x"},
         "invalid_window"),
        ({"matchers": {"farm_id": 1}, "duration": "2h", "comment": " "}, "comment_required"),
        ({"matchers": {"farm_id": 1}, "duration": "2h"}, "comment_required"),
        ({"matchers": {"msg": 1}, "duration": "2h", "comment": "x"}, "invalid_matchers"),
        ({"matchers": {"farm_id": 1}, "duration": "100d", "comment": "x"}, "invalid_window"),
    ],
)  # fmt: skip
def test_api_refuses_bad_silences(client, body, code):
    answer = client.post("/api/v1/silences", headers=BEARER, json=body)
    assert answer.status_code == 400 and answer.get_json()["error"] == code, answer.get_json()


def test_dashboard_page_creates_and_expires(admin, db_session):
    page = admin.get("/silences").get_data(as_text=True)
    assert "Create the silence" in page and "No silences" in page
    done = post(admin, "/silences", farm_id="1439", role_name="web-*", duration="30m",
                comment="rolling restart")  # fmt: skip
    assert done.status_code == 303
    row = db_session.scalars(select(Silence)).one()
    db_session.commit()
    assert row.matchers == {"farm_id": 1439, "role_name": "web-*"}
    assert row.created_by == "dashboard:admin" and row.comment == "rolling restart"
    assert timedelta(minutes=29) < row.ends_at - row.starts_at <= timedelta(minutes=30)
    page = admin.get("/silences?state=active").get_data(as_text=True)
    assert "rolling restart" in page and "farm_id: 1439" in page and ">Expire<" in page
    refused = post(admin, "/silences", duration="30m", comment="nothing matched")
    assert refused.status_code == 303
    assert "non-empty" in admin.get("/silences").get_data(as_text=True)
    assert post(admin, f"/silences/{row.id}/expire").status_code == 303
    page = admin.get("/silences").get_data(as_text=True)
    assert "expired by dashboard:admin" in page
    post(admin, "/silences", farm_id="1", duration="30m", comment=" ")
    assert "Say why" in admin.get("/silences").get_data(as_text=True)


LAUNCH_NOW_AND_LATER = """
rules:
  - name: launch-now
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: 1978, IncreaseMaxInstances: 1}
  - name: launch-later
    events: [HostDown]
    delay: 3s
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: 1978, IncreaseMaxInstances: 1}
"""


def test_a_silence_that_ends_while_jobs_wait(make_stack):
    stack = make_stack(LAUNCH_NOW_AND_LATER)
    with stack.factory() as session:
        now = utcnow()
        row = create_silence(session, "api", {"farm_id": 1439}, now, now + timedelta(seconds=2),
                             "farm 1439 rebuild", now)  # fmt: skip
        session.commit()
        silence_id = row.id
    host_down(stack, SID, "&farm_id=1439")
    host_down(stack, "6ccd72c5-908c-4535-a7ec-2fbf56486ff3", "&farm_id=1500")
    stack.drain(
        until=lambda: len(stack.jobs()) == 4 and sum(bool(j.finished_at) for j in stack.jobs()) == 2
    )
    by_rule = {(j.rule, j.server_id): j for j in stack.jobs()}
    silenced = by_rule[("launch-now", SID)]
    assert (silenced.status, silenced.reason) == (
        "skipped",
        f"silenced by #{silence_id} (farm 1439 rebuild)",
    )
    other_farm = by_rule[("launch-now", "6ccd72c5-908c-4535-a7ec-2fbf56486ff3")]
    assert other_farm.status == "succeeded", other_farm.error
    # The delayed job of the silenced farm falls due after the silence ended: it runs.
    time.sleep(max(0.0, (now + timedelta(seconds=2) - utcnow()).total_seconds()))
    stack.drain(until=lambda: all(j.finished_at for j in stack.jobs()), timeout=15)
    later = [j for j in stack.jobs() if j.rule == "launch-later"]
    assert [j.status for j in later] == ["succeeded", "succeeded"], [j.reason for j in later]
    assert len(stack.state.calls("ServerLaunch")) == 3
