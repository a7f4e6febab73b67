"""The action page's chain (event, call, answer, confirmation) and its clear-hold button."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.db import utcnow
from app.models.job import ActionJob
from app.models.loop import Hold
from tests.dashboard.conftest import post
from tests.dashboard.helpers import gen_job
from tests.factories import gen_event

EXPECT = {"expect": {"events": ["HostUp"], "within": 600}, "mutating": True}


def test_verified_job_shows_the_confirming_event(admin, db_session):
    down = gen_event(db_session)
    up = gen_event(db_session, name="HostUp", server_id="new-1")
    job = gen_job(
        db_session,
        down.id,
        status="verified",
        spec=EXPECT,
        result={"ServerID": "new-1"},
        transaction_id="tx-1",
        started_at=utcnow(),
        expect_server_id="new-1",
        expect_deadline=utcnow() + timedelta(minutes=10),
        verified_event_id=up.id,
    )
    page = admin.get(f"/actions/{job.id}").get_data(as_text=True)
    assert "<h2>Chain</h2>" in page
    assert f"#{down.id} HostDown" in page and f"#{up.id} HostUp" in page
    assert "tx-1" in page and "HostUp of" in page


def test_unverified_job_shows_the_deadline_and_clears_its_hold(admin, db_session):
    down = gen_event(db_session)
    job = gen_job(
        db_session,
        down.id,
        status="unverified",
        spec=EXPECT,
        throttle_key="1978",
        expect_server_id="new-1",
        expect_deadline=utcnow() - timedelta(minutes=1),
    )
    waiting = gen_job(
        db_session, gen_event(db_session).id, status="held", spec=EXPECT, throttle_key="1978"
    )
    hold = Hold(rule=job.rule, throttle_key="1978", kind="unverified", reason="r", job_id=job.id)
    db_session.add(hold)
    db_session.commit()
    page = admin.get(f"/actions/{job.id}").get_data(as_text=True)
    assert "passed" in page and f"Clear hold #{hold.id}" in page
    answer = post(admin, f"/actions/{job.id}/clear-hold", held_jobs="cancel")
    assert answer.status_code == 303
    db_session.expire_all()
    assert db_session.get(Hold, hold.id).cleared_by
    held = db_session.scalars(select(ActionJob).where(ActionJob.id == waiting.id)).one()
    assert held.status == "cancelled" and f"hold #{hold.id}" in held.reason
    db_session.rollback()
