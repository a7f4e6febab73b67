"""/api/v1/actions: list, detail with attempts, retry / cancel / run."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models.job import ActionJob
from tests.conftest import API_TOKEN
from tests.dashboard.helpers import gen_attempt, gen_job
from tests.factories import gen_event

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
FIELDS = {
    "id", "event_id", "rule", "action_index", "kind", "action", "params", "status", "reason",
    "attempts", "run_at", "started_at", "finished_at", "transaction_id", "result", "error",
}  # fmt: skip


def status_of(session, job_id: int) -> str:
    value = session.scalar(select(ActionJob.status).where(ActionJob.id == job_id))
    session.commit()  # end the read (SQLite: it holds the write lock); nothing expires
    return value


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/actions"),
        ("get", "/api/v1/actions/1"),
        ("post", "/api/v1/actions/1/retry"),
        ("post", "/api/v1/actions/1/cancel"),
        ("post", "/api/v1/actions/1/run"),
        ("get", "/api/v1/events/1/explanation"),
        ("get", "/api/v1/rules"),
        ("get", "/api/v1/rules/x"),
        ("post", "/api/v1/rules/x/pause"),
        ("post", "/api/v1/rules/x/resume"),
        ("post", "/api/v1/rules/x/backtest"),
        ("get", "/api/v1/servers"),
        ("get", "/api/v1/servers/x"),
    ],
)
@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "missing_token"), ({"Authorization": "Bearer wrong"}, "bad_token")],
    ids=["none", "wrong"],
)
def test_every_route_needs_the_token(client, method, url, headers, code):
    response = getattr(client, method)(url, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == code


def test_list_filters_and_pages(client, db_session):
    event = gen_event(db_session)
    other = gen_event(db_session)
    jobs = [gen_job(db_session, event.id, status="dead") for _ in range(3)]
    crash = gen_job(db_session, other.id, rule="notify-crash", server_id="srv-9")
    body = client.get("/api/v1/actions", headers=AUTH).get_json()
    assert [j["id"] for j in body["items"]] == [crash.id] + [j.id for j in reversed(jobs)]
    assert set(body["items"][0]) >= FIELDS
    assert body["next_cursor"] is None

    def ids(query: str) -> list[int]:
        return [
            j["id"]
            for j in client.get(f"/api/v1/actions?{query}", headers=AUTH).get_json()["items"]
        ]

    assert ids("status=dead") == [j.id for j in reversed(jobs)]
    assert ids("rule=notify-crash") == [crash.id]
    assert ids("server_id=srv-9") == [crash.id]
    assert ids(f"event_id={other.id}") == [crash.id]
    seen, url = [], "/api/v1/actions?limit=2"
    while url:
        page = client.get(url, headers=AUTH).get_json()
        seen += [j["id"] for j in page["items"]]
        url = (
            f"/api/v1/actions?limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else None
        )
    assert seen == sorted(seen, reverse=True) and len(seen) == 4


@pytest.mark.parametrize("query", ["status=bogus", "event_id=x", "limit=0", "cursor=zz!"])
def test_bad_filters_are_400(client, query):
    response = client.get(f"/api/v1/actions?{query}", headers=AUTH)
    assert response.status_code == 400
    assert set(response.get_json()) == {"error", "message"}


def test_detail_with_attempts(client, db_session):
    job = gen_job(db_session, gen_event(db_session).id, status="dead", error="boom",
                  transaction_id="tx-1", params={"Authorization": "Bearer x", "FarmRoleID": "5"})  # fmt: skip
    gen_attempt(db_session, job, 1, error="boom", transaction_id="tx-1")
    body = client.get(f"/api/v1/actions/{job.id}", headers=AUTH).get_json()
    assert body["transaction_id"] == "tx-1"
    assert body["attempt_log"][0]["error"] == "boom"
    assert body["params"] == {"Authorization": "[redacted]", "FarmRoleID": "5"}
    missing = client.get("/api/v1/actions/987654", headers=AUTH)
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"


def test_retry_cancel_run(client, db_session):
    event = gen_event(db_session)
    dead = gen_job(db_session, event.id, status="dead")
    waiting = gen_job(db_session, event.id, status="scheduled")
    other = gen_job(db_session, event.id, status="scheduled")
    response = client.post(f"/api/v1/actions/{dead.id}/retry", headers=AUTH)
    assert response.status_code == 200 and response.get_json()["status"] == "retrying"
    assert status_of(db_session, dead.id) == "retrying"
    response = client.post(f"/api/v1/actions/{waiting.id}/cancel", headers=AUTH)
    assert response.get_json()["status"] == "cancelled"
    assert status_of(db_session, waiting.id) == "cancelled"
    response = client.post(f"/api/v1/actions/{other.id}/run", headers=AUTH)
    assert response.status_code == 200 and response.get_json()["reason"] == "run now by api"


def test_control_conflicts_and_missing(client, db_session):
    job = gen_job(db_session, gen_event(db_session).id, status="succeeded")
    response = client.post(f"/api/v1/actions/{job.id}/retry", headers=AUTH)
    assert response.status_code == 409
    assert response.get_json()["error"] == "not_retryable"
    assert client.post(f"/api/v1/actions/{job.id}/cancel", headers=AUTH).status_code == 409
    assert client.post("/api/v1/actions/987654/cancel", headers=AUTH).status_code == 404
    assert client.post(f"/api/v1/actions/{job.id}/explode", headers=AUTH).status_code == 404
