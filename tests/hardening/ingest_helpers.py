"""What every ingest answer must be, whatever was sent: the contract the fuzz tests check."""

from __future__ import annotations

from typing import Any

from hypothesis import event
from hypothesis.control import currently_in_test_context
from sqlalchemy import Engine, func, select

from app.db import Base
from app.models.event import Event

# The statuses DESIGN.md documents for each endpoint (404: webhooks disabled, no key set).
EVENTS_STATUSES = {202, 400, 401, 403, 413, 415, 429}
WEBHOOK_STATUSES = {200, 202, 400, 401, 403, 404, 413, 415, 429}


def _in_hypothesis() -> bool:
    return currently_in_test_context()


def row_counts(engine: Engine) -> dict[str, int]:
    """Return the number of rows of every table."""
    with engine.connect() as conn:
        return {
            table.name: conn.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def check_answer(response: Any, before: dict[str, int], engine: Engine, allowed: set[int]) -> None:
    """Assert a documented status, the JSON shape, and exactly the rows that status promises."""
    status = response.status_code
    if _in_hypothesis():
        event(f"status {status} {(response.get_json() or {}).get('error', '')}")
    assert status in allowed, (status, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json", response.mimetype
    body = response.get_json()
    after = row_counts(engine)
    if status >= 400:
        assert isinstance(body, dict) and set(body) == {"error", "message"}, body
        assert isinstance(body["error"], str) and body["error"], body
        assert isinstance(body["message"], str) and body["message"], body
        assert after == before, f"a refused delivery changed rows: {before} -> {after}"
        return
    assert isinstance(body.get("id"), int), body
    grown = {name: after[name] - before[name] for name in after if after[name] != before[name]}
    if status == 202:
        assert grown == {Event.__tablename__: 1}, grown
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).where(Event.id == body["id"])) == 1
    else:  # 200: a repeated webhook eventId, nothing new stored
        assert body.get("duplicate") is True, body
        assert grown == {}, grown
