"""The actions list and page, and retry / cancel / run-now through the forms."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.models.job import ActionJob
from tests.dashboard.conftest import post
from tests.dashboard.helpers import gen_attempt, gen_job
from tests.factories import gen_event


def job_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td><a href="/actions/(\d+)">', page)]


def reload(session, job_id: int) -> ActionJob:
    """Read the job afresh and end the transaction (SQLite: it holds the write lock)."""
    session.expire_all()
    job = session.scalars(select(ActionJob).where(ActionJob.id == job_id)).one()
    session.expunge(job)
    session.rollback()
    return job


def test_list_filters(admin, db_session):
    event = gen_event(db_session)
    other = gen_event(db_session, server_id="srv-2")
    dead = gen_job(db_session, event.id, status="dead")
    scheduled = gen_job(db_session, event.id, status="scheduled", rule="notify-crash")
    on_other = gen_job(db_session, other.id, status="succeeded", server_id="srv-2")

    def ids(query: str) -> list[int]:
        return job_ids(admin.get(f"/actions?{query}").get_data(as_text=True))

    assert ids("") == [on_other.id, scheduled.id, dead.id]
    assert ids("status=dead") == [dead.id]
    assert ids("rule=notify-crash") == [scheduled.id]
    assert ids("server=srv-2") == [on_other.id]
    assert ids(f"event={event.id}") == [scheduled.id, dead.id]
    page = admin.get("/actions?status=bogus").get_data(as_text=True)
    assert "status must be one of" in page


def test_list_pages(admin, db_session):
    event = gen_event(db_session)
    ids = [gen_job(db_session, event.id).id for _ in range(53)]
    page = admin.get("/actions").get_data(as_text=True)
    assert job_ids(page) == sorted(ids, reverse=True)[:50]
    url = re.search(r'href="([^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    assert job_ids(admin.get(url).get_data(as_text=True)) == sorted(ids, reverse=True)[50:]


def test_action_page_shows_everything(admin, db_session):
    event = gen_event(db_session)
    job = gen_job(
        db_session,
        event.id,
        status="succeeded",
        transaction_id="6c2a9b8e-tx",
        result={"ServerID": "new-server-1", "TransactionID": "6c2a9b8e-tx"},
        params={"FarmRoleID": "5", "headers": {"Authorization": "Bearer leak-me"}},
        attempts=2,
    )
    gen_attempt(db_session, job, 1, error="HTTP 503 from Scalr", outcome="retry")
    gen_attempt(db_session, job, 2, outcome="succeeded", transaction_id="6c2a9b8e-tx")
    page = admin.get(f"/actions/{job.id}").get_data(as_text=True)
    assert "6c2a9b8e-tx" in page
    assert "HTTP 503 from Scalr" in page
    assert 'href="/servers/new-server-1"' in page
    assert "FarmRoleID" in page
    assert "leak-me" not in page and "[redacted]" in page
    assert "Retry" not in page and "Cancel</button>" not in page


def test_missing_action_is_404(admin):
    assert admin.get("/actions/424242").status_code == 404
    assert post(admin, "/actions/424242/retry").status_code == 404


def test_retry_dead_job(admin, db_session):
    job = gen_job(db_session, gen_event(db_session).id, status="dead", attempts=5, error="boom")
    page = admin.get(f"/actions/{job.id}").get_data(as_text=True)
    assert f'action="/actions/{job.id}/retry"' in page
    response = post(admin, f"/actions/{job.id}/retry")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/actions/{job.id}"
    job = reload(db_session, job.id)
    assert job.status == "retrying"
    assert job.reason == "retried by dashboard:admin"
    assert "queued to run again" in admin.get(f"/actions/{job.id}").get_data(as_text=True)


def test_cancel_scheduled_job(admin, db_session):
    job = gen_job(db_session, gen_event(db_session).id, status="scheduled")
    assert post(admin, f"/actions/{job.id}/cancel", reason="test").status_code == 303
    job = reload(db_session, job.id)
    assert job.status == "cancelled"
    assert job.finished_at is not None


def test_run_scheduled_job_now(admin, db_session):
    job = gen_job(db_session, gen_event(db_session).id, status="scheduled")
    before = job.run_at
    assert post(admin, f"/actions/{job.id}/run", reason="test").status_code == 303
    job = reload(db_session, job.id)
    assert job.status == "scheduled"
    assert job.run_at < before
    assert job.reason == "run now by dashboard:admin: test"


def test_control_that_does_not_apply_says_why(admin, db_session):
    job = gen_job(db_session, gen_event(db_session).id, status="succeeded")
    response = post(admin, f"/actions/{job.id}/cancel", reason="test")
    assert response.status_code == 303
    page = admin.get(f"/actions/{job.id}").get_data(as_text=True)
    assert "only scheduled or retrying jobs can be cancelled" in page
    assert reload(db_session, job.id).status == "succeeded"


def test_unknown_operation_is_404(admin, db_session):
    job = gen_job(db_session, gen_event(db_session).id)
    assert post(admin, f"/actions/{job.id}/explode").status_code == 404
