"""The dashboard in a real browser: log in, filter, explain, retry, cancel, no script runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.models.job import ActionJob
from app.rules.loader import load_rules
from app.rules.matching import explain_all
from tests.browser.conftest import LAPTOP, PHONE, log_in
from tests.dashboard.conftest import RULES_YAML
from tests.dashboard.helpers import gen_heartbeat, gen_job
from tests.factories import gen_event

pytestmark = pytest.mark.browser


def shoot(tab, artifacts_dir, name: str) -> None:
    """Save the page as seen on a laptop and on a phone."""
    tab.set_viewport_size(LAPTOP)
    tab.screenshot(path=str(artifacts_dir / f"dashboard-{name}-laptop.png"), full_page=True)
    tab.set_viewport_size(PHONE)
    tab.screenshot(path=str(artifacts_dir / f"dashboard-{name}-phone.png"), full_page=True)
    tab.set_viewport_size(LAPTOP)


def matched_event(session, **fields):
    """Store an event with the explanations the matcher would have stored."""
    event = gen_event(session, **fields)
    ruleset = load_rules(RULES_YAML)
    event.evaluations = [e.to_dict() for e in explain_all(ruleset, event.fields())]
    event.processed_at = utcnow()
    event.rules_version = ruleset.version
    session.commit()
    return event


def job_status(session, job_id: int) -> str:
    value = session.scalar(select(ActionJob.status).where(ActionJob.id == job_id))
    session.commit()
    return value


def test_log_in_and_see_the_overview(page, db_session, artifacts_dir):
    now = utcnow()
    for hours, name in [
        (0, "HostDown"),
        (1, "HostUp"),
        (1, "HostUp"),
        (3, "HostInit"),
        (5, "HostCrash"),
    ]:
        gen_event(db_session, name=name, received_at=now - timedelta(hours=hours))
    event = gen_event(db_session)
    gen_job(db_session, event.id, status="scheduled")
    gen_job(
        db_session, event.id, status="dead", error="Scalr answered <Error>: farm role not found"
    )
    gen_heartbeat(db_session, "worker-1")
    page.goto("/")
    assert "/login" in page.url
    shoot(page, artifacts_dir, "login")
    log_in(page, "/")
    assert page.locator("h1").inner_text() == "Overview"
    assert page.locator("figure.chart svg rect").count() >= 4
    countdown = page.locator("time.countdown").first.inner_text()
    assert countdown.startswith("in ")
    shoot(page, artifacts_dir, "overview")


def test_filter_events_and_see_new_ones_live(page, db_session, artifacts_dir):
    gen_event(db_session, name="HostUp", message="host came up")
    down = gen_event(db_session, name="HostDown", message="host went down")
    log_in(page, "/events")
    page.fill("input[name=name]", "HostDown")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert "name=HostDown" in page.url
    rows = page.locator("#event-rows tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-id") == str(down.id)
    shoot(page, artifacts_dir, "events")
    fresh = gen_event(db_session, name="HostDown", message="a new one arrives")
    gen_event(db_session, name="HostUp", message="filtered out")
    page.wait_for_selector(f'#event-rows tr[data-id="{fresh.id}"]', timeout=15_000)
    assert page.locator("#event-rows tr").count() == 2
    assert "1 new since" in page.locator("#live-count").inner_text()


def test_open_an_event_and_read_why_a_rule_did_not_fire(page, db_session, artifacts_dir):
    event = matched_event(
        db_session, name="HostDown", farm_id=1440, role_name="web-1", farm_role_id=5
    )
    log_in(page, f"/events/{event.id}")
    row = page.locator("table.evaluations tr", has_text="replace-terminated-web").first
    assert "no match" in row.inner_text()
    assert "where.farm_id" in row.inner_text()
    assert row.locator("code.actual").inner_text() == "1440"
    assert row.locator("code.expected").inner_text() == "1439"
    shoot(page, artifacts_dir, "event")


def test_retry_a_dead_action(page, db_session, artifacts_dir):
    event = gen_event(db_session)
    job = gen_job(db_session, event.id, status="dead", attempts=5, error="HTTP 503 five times")
    log_in(page, f"/actions/{job.id}")
    assert page.locator("h1 .status").inner_text() == "dead"
    page.click("button:has-text('Retry')")
    page.wait_for_load_state()
    # The worker is not running here: the job is queued again (retrying), not yet run.
    assert page.locator("h1 .status").inner_text() == "retrying"
    assert "queued to run again" in page.locator(".flash.ok").inner_text()
    assert job_status(db_session, job.id) == "retrying"
    shoot(page, artifacts_dir, "action")


def test_cancel_a_scheduled_action(page, db_session, artifacts_dir):
    job = gen_job(db_session, gen_event(db_session).id, status="scheduled")
    log_in(page, "/actions?status=scheduled")
    page.click(f"a[href='/actions/{job.id}']")
    page.wait_for_load_state()
    page.click("summary:has-text('Cancel')")
    page.fill("details[open] input[name=reason]", "duplicate of #1")
    page.click("details[open] button:has-text('Cancel this action')")
    page.wait_for_load_state()
    assert page.locator("h1 .status").inner_text() == "cancelled"
    assert job_status(db_session, job.id) == "cancelled"


def test_script_in_an_event_is_shown_as_text(page, db_session, artifacts_dir):
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    event = matched_event(db_session, message=evil, role_name="<b onmouseover=alert(3)>web</b>")
    log_in(page, "/events")
    assert evil in page.locator(f'#event-rows tr[data-id="{event.id}"] td.msg').inner_text()
    page.goto(f"/events/{event.id}")
    assert evil in page.locator("dd.msg").inner_text()
    page.hover("dl.fields")
    page.goto("/")
    shoot(page, artifacts_dir, "xss-event")
    assert page.problems.dialogs == []


def test_rules_pages_and_backtest(page, db_session, artifacts_dir):
    now = utcnow()
    for minutes in (0, 10, 20):
        gen_event(db_session, name="HostDown", farm_id=1439, role_name="web-1", farm_role_id=5,
                  server_id=f"s{minutes}", received_at=now - timedelta(hours=3, minutes=-minutes))  # fmt: skip
    log_in(page, "/rules")
    shoot(page, artifacts_dir, "rules")
    page.click("a:has-text('replace-terminated-web')")
    page.wait_for_load_state()
    page.fill("input[name=days]", "2")
    page.click("button:has-text('Run backtest')")
    page.wait_for_load_state()
    assert "2 would fire" in page.locator("p.summary").inner_text()
    assert page.locator("table.backtest tr.o-would_be_throttled").count() == 1
    shoot(page, artifacts_dir, "rule-backtest")
    page.click("summary:has-text('Pause')")
    page.fill("details[open] input[name=reason]", "maintenance")
    page.click("details[open] button:has-text('Pause this rule')")
    page.wait_for_load_state()
    assert "paused" in page.locator("h1").inner_text()
