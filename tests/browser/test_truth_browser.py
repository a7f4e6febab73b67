"""The overview's health line, the events outcome column, confirmations, and 400 px pages."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.models.job import ActionJob
from app.models.ops import Breaker, RuleState
from tests.browser.conftest import log_in
from tests.browser.test_dashboard_browser import matched_event
from tests.dashboard.helpers import gen_breaker, gen_heartbeat, gen_job
from tests.factories import gen_event

pytestmark = pytest.mark.browser

NARROW = {"width": 400, "height": 800}
ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOT = ROOT / "docs" / "dashboard.png"
# The digest of the templates and static files the committed screenshot was taken from.
DOCS_SCREENSHOT_SOURCE = ROOT / "docs" / "dashboard.png.source"
UPDATE_COMMAND = (
    "LIFEGUARD_UPDATE_DOCS_SCREENSHOT=1 .venv/bin/python -m pytest "
    "tests/browser/test_truth_browser.py -k health"
)


def look_digest() -> str:
    """SHA-256 over every template and static file: what decides how a page looks."""
    digest = hashlib.sha256()
    for base in (ROOT / "app" / "templates", ROOT / "app" / "static"):
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def fresh(session, model, key):
    session.expire_all()
    row = session.get(model, key)
    session.commit()
    return row


def story(session) -> dict[str, int]:
    """A last hour like the demo's: a launch, a guard's skip, a cancel, a death, a mail."""
    now = utcnow()
    down = matched_event(session, name="HostDown", farm_id=1439, farm_role_id=1978,
                         role_name="web", server_id="5bbd72c5-dead")  # fmt: skip
    jobs = {
        "skipped": gen_job(
            session,
            down.id,
            status="skipped",
            finished_at=now,
            reason="guard below_min_instances: Scalr replaced it first",
        ),
        "succeeded": gen_job(session, down.id, status="succeeded", finished_at=now),
        "cancelled": gen_job(session, down.id, status="cancelled", finished_at=now),
        "dead": gen_job(session, down.id, status="dead", finished_at=now, error="Scalr said no"),
        "scheduled": gen_job(
            session, down.id, status="scheduled", run_at=now + timedelta(minutes=2)
        ),
    }
    gen_heartbeat(session, "worker-1", last_beat_at=now)
    return {name: job.id for name, job in jobs.items()} | {"event": down.id}


def test_overview_health_line_says_every_outcome(page, db_session, artifacts_dir):
    story(db_session)
    gen_breaker(db_session, "default")
    log_in(page, "/")
    line = page.locator("#health-line")
    text = line.inner_text()
    for words in ("1 dead", "1 skipped", "1 cancelled", "1 succeeded", "of 4 actions"):
        assert words in text, text
    assert "Worker alive" in text
    assert "Budget default" in text and "breaker open" in text
    assert "No rule paused" in text
    assert "h-bad" in (line.get_attribute("class") or "")
    # It refreshes itself: a beat-less worker shows up without a reload.
    assert line.get_attribute("data-every") == "15"
    page.evaluate("document.getElementById('health-line').setAttribute('data-stale', '1')")
    page.locator("#health-line[data-stale]").wait_for(state="detached", timeout=20_000)
    page.screenshot(path=str(artifacts_dir / "dashboard-overview-health.png"), full_page=True)
    # docs/dashboard.png (shown in the README) is this test's screenshot. It is copied on
    # request, so the repository does not churn a binary on every run, and this test fails
    # once a template or style has changed since: the README never shows a stale page.
    if os.environ.get("LIFEGUARD_UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copy(artifacts_dir / "dashboard-overview-health.png", DOCS_SCREENSHOT)
        DOCS_SCREENSHOT_SOURCE.write_text(look_digest() + "\n")
    recorded = DOCS_SCREENSHOT_SOURCE.read_text().strip() if DOCS_SCREENSHOT.exists() else ""
    assert recorded == look_digest(), (
        f"docs/dashboard.png was taken before the templates changed: run {UPDATE_COMMAND}"
    )


def test_events_list_shows_each_outcome_and_role(page, db_session):
    ids = story(db_session)
    quiet = matched_event(db_session, name="RebootComplete", farm_id=7)
    waiting = gen_event(db_session, name="HostUp")
    log_in(page, "/events")
    row = page.locator(f'#event-rows tr[data-id="{ids["event"]}"]')
    outcome = row.locator("td.outcome").inner_text()
    for status in ("skipped", "succeeded", "cancelled", "dead", "scheduled"):
        assert status in outcome, outcome
    assert "web" in row.inner_text()
    assert "no rule" in page.locator(f'tr[data-id="{quiet.id}"] td.outcome').inner_text()
    assert "not matched yet" in page.locator(f'tr[data-id="{waiting.id}"] td.outcome').inner_text()
    page.fill("input[name=name]", "hostdown")  # case does not matter
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#event-rows tr").count() == 1


def test_each_dangerous_control_asks_for_a_reason(page, db_session):
    ids = story(db_session)
    gen_breaker(db_session, "default")
    log_in(page, f"/actions/{ids['scheduled']}")
    for label, confirm in (("Run now", "Run now"), ("Cancel", "Cancel this action")):
        page.goto(f"/actions/{ids['scheduled']}")
        summary = page.locator(f"summary:has-text('{label}')")
        button = page.locator(f"details.confirm button:has-text('{confirm}')")
        assert not button.is_visible()  # one click only opens the box
        summary.click()
        assert button.is_visible()
        button.click()  # no reason given: the browser refuses the form
        assert page.url.endswith(f"/actions/{ids['scheduled']}")
        page.fill("details[open] input[name=reason]", f"{label} for the test")
        button.click()
        page.wait_for_load_state()
    job = fresh(db_session, ActionJob, ids["scheduled"])
    assert job.status == "cancelled" and job.reason.endswith("Cancel for the test")

    page.goto("/rules/replace-terminated-web")
    page.click("summary:has-text('Pause')")
    assert "scheduled now" in page.locator("details[open] form p").inner_text()
    page.fill("details[open] input[name=reason]", "deploying")
    page.click("details[open] button:has-text('Pause this rule')")
    page.wait_for_load_state()
    assert fresh(db_session, RuleState, "replace-terminated-web").paused

    page.goto("/health")
    page.click("summary:has-text('Close')")
    page.fill("details[open] input[name=reason]", "looked, all fine")
    page.click("details[open] button:has-text('Close the breaker')")
    page.wait_for_load_state()
    breaker = fresh(db_session, Breaker, "default")
    assert not breaker.is_open and breaker.closed_by.endswith("looked, all fine")
    assert db_session.scalar(select(ActionJob.id).limit(1)) is not None


@pytest.mark.parametrize("path", ["/", "/events", "/actions"])
def test_nothing_overflows_at_400_px(page, db_session, artifacts_dir, path):
    story(db_session)
    for n in range(5):
        gen_event(db_session, name="IPAddressChanged", message="x" * 300 + f" {n}",
                  server_id=f"{n}" * 36, role_name="a-very-long-role-name-indeed")  # fmt: skip
    log_in(page, path)
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(200)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    name = path.strip("/") or "overview"
    page.screenshot(path=str(artifacts_dir / f"dashboard-{name}-400px.png"), full_page=True)
    assert width[0] <= width[1], f"{path} is {width[0]} px wide in a {width[1]} px window"
