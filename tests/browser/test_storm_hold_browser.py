"""A storm's hold in a real browser: the held job's page says why, and a reason clears it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models.controls import AuditEntry
from app.models.job import ActionJob
from app.models.loop import Hold
from tests.browser.conftest import log_in
from tests.dashboard.helpers import gen_job
from tests.factories import gen_event

pytestmark = pytest.mark.browser


def test_release_a_storm_hold_with_a_reason_from_the_action_page(page, db_session):
    hold = Hold(rule="", throttle_key="", kind="storm", farm_id=1439, farm_role_id=5,
                reason="launches of farm role 5 held: storm: 3 of 4 known servers <b>x</b>")  # fmt: skip
    db_session.add(hold)
    db_session.flush()
    held = [
        gen_job(
            db_session,
            gen_event(db_session).id,
            status="held",
            hold_id=hold.id,
            reason=f"hold #{hold.id}: {hold.reason}",
        )
        for _ in range(2)
    ]
    db_session.commit()
    log_in(page, f"/actions/{held[0].id}")
    text = page.locator("main").inner_text()
    assert f"Hold #{hold.id} in force since" in text
    assert "3 of 4 known servers <b>x</b>" in text  # escaped, shown as written
    form = page.locator(f'form[action="/actions/{held[0].id}/clear-hold"]')
    form.locator("input[name=reason]").fill("new image rolled out")
    form.locator("button[value=release]").click()
    page.wait_for_load_state()
    assert f"Hold #{hold.id} cleared; 2 held jobs released." in page.locator("main").inner_text()
    db_session.expire_all()
    assert db_session.get(Hold, hold.id).cleared_by
    statuses = db_session.scalars(
        select(ActionJob.status).where(ActionJob.id.in_([j.id for j in held]))
    ).all()
    assert statuses == ["scheduled", "scheduled"]
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "hold.clear")).one()
    assert entry.reason == "new image rolled out" and entry.detail == {"held_jobs": "release"}
    db_session.commit()
