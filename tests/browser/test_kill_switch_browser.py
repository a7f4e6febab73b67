"""The kill switch in a real browser: the health page's button, its confirmation, the banner."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models.controls import KillSwitch
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_engage_from_the_health_page_and_see_the_banner_everywhere(page, db_session, artifacts_dir):
    log_in(page, "/health")
    section = page.locator("#kill-switch")
    section.locator("input[name=reason]").fill("Scalr maintenance tonight")
    # Without the confirmation box ticked the browser refuses to send the form.
    section.locator("button.danger").click()
    assert db_session.scalar(select(KillSwitch.engaged)) is None
    db_session.commit()
    section.locator("input[name=confirm]").check()
    section.locator("button.danger").click()
    page.wait_for_load_state()
    banner = page.locator("p.banner.kill-switch")
    assert "Kill switch engaged" in banner.inner_text()
    assert "Scalr maintenance tonight" in banner.inner_text()
    page.screenshot(path=str(artifacts_dir / "dashboard-kill-switch-laptop.png"), full_page=True)
    for path in ("/", "/actions", "/rules", "/audit"):
        page.goto(path)
        assert page.locator("p.banner.kill-switch").count() == 1, path
    assert "kill_switch.engage" in page.locator("table").inner_text()
    page.goto("/health")
    section = page.locator("#kill-switch")
    section.locator("input[name=confirm]").check()
    section.locator("button.primary").click()
    page.wait_for_load_state()
    assert page.locator("p.banner.kill-switch").count() == 0
    assert db_session.scalar(select(KillSwitch.engaged)) is False
    db_session.commit()
