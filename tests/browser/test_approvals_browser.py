"""Approvals in a real browser, against the whole stack: approve once, Scalr is called once."""

from __future__ import annotations

import pytest

from tests.browser.conftest import LAPTOP
from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.stack import make_stack
from tests.worker.test_remediation_e2e import host_down

__all__ = ["make_stack"]

pytestmark = pytest.mark.browser

RULES = """
maintenance:
  - name: never-now
    matchers: {farm_id: 999999}
    from: "00:00"
    to: "00:01"
rules:
  - name: approved-launch
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "1978", IncreaseMaxInstances: 1}
        approve: {within: 30m}
"""
SID = "5bbd72c5-908c-4535-a7ec-2fbf56486ff3"


def awaiting(stack) -> bool:
    return [j.status for j in stack.jobs()] == ["awaiting_approval"]


def test_approve_from_the_action_page(browser, make_stack, artifacts_dir):
    stack = make_stack(RULES, admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD)
    host_down(stack, SID)
    stack.drain(until=lambda: awaiting(stack))
    job = stack.jobs()[0]
    context = browser.new_context(viewport=LAPTOP, base_url=f"http://127.0.0.1:{stack.web.port}")
    try:
        tab = context.new_page()
        tab.goto("/")
        tab.fill("input[name=username]", ADMIN_USER)
        tab.fill("input[name=password]", ADMIN_PASSWORD)
        tab.click("button[type=submit]")
        tab.wait_for_load_state()
        # The overview says a decision is waiting, and leads to it through the actions list.
        tab.click("text=1 action awaits approval")
        tab.wait_for_load_state()
        assert "status=awaiting_approval" in tab.url
        tab.click(f"a[href='/actions/{job.id}']")
        tab.wait_for_load_state()
        assert tab.locator("h1 .status").inner_text() == "awaiting_approval"
        assert "Awaiting approval" in tab.locator("p.banner.approval").inner_text()
        tab.click("summary:has-text('Approve')")
        form = tab.locator("details.confirm:has(summary:has-text('Approve')) form")
        # The reason is required: the browser does not send the form without it.
        form.locator("button").click()
        assert awaiting(stack)
        form.locator("input[name=reason]").fill("checked the farm")
        tab.screenshot(path=str(artifacts_dir / "dashboard-approve-laptop.png"), full_page=True)
        form.locator("button").click()
        tab.wait_for_load_state()
        assert "approved: it runs now" in tab.locator("p.flash.ok").inner_text()
        stack.drain(until=lambda: stack.jobs()[0].status == "succeeded")
        tab.reload()
        assert tab.locator("h1 .status").inner_text() == "succeeded"
        assert "approved by dashboard:admin" in tab.content()
        assert tab.locator("summary:has-text('Approve')").count() == 0
        # The maintenance windows are shown, read-only, on the silences page.
        tab.click("nav >> text=Silences")
        tab.wait_for_load_state()
        assert "never-now" in tab.locator("#maintenance").inner_text()
        tab.click("nav >> text=Audit")
        tab.wait_for_load_state()
        assert "job.approve" in tab.locator("table").inner_text()
    finally:
        context.close()
    stack.drain()
    assert len(stack.state.calls("ServerLaunch")) == 1


def test_deny_from_the_action_page(browser, make_stack):
    stack = make_stack(RULES, admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD)
    host_down(stack, SID)
    stack.drain(until=lambda: awaiting(stack))
    job = stack.jobs()[0]
    context = browser.new_context(viewport=LAPTOP, base_url=f"http://127.0.0.1:{stack.web.port}")
    try:
        tab = context.new_page()
        tab.goto(f"/actions/{job.id}")
        tab.fill("input[name=username]", ADMIN_USER)
        tab.fill("input[name=password]", ADMIN_PASSWORD)
        tab.click("button[type=submit]")
        tab.wait_for_load_state()
        tab.click("summary:has-text('Deny')")
        form = tab.locator("details.confirm:has(summary:has-text('Deny')) form")
        form.locator("input[name=reason]").fill("not during the sale")
        form.locator("button").click()
        tab.wait_for_load_state()
        assert tab.locator("h1 .status").inner_text() == "cancelled"
        assert "denied by dashboard:admin: not during the sale" in tab.content()
    finally:
        context.close()
    stack.drain()
    assert stack.state.calls("ServerLaunch") == []
