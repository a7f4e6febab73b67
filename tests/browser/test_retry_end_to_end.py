"""In the browser, against the whole stack: retry a dead launch and see it succeed at Scalr."""

from __future__ import annotations

import pytest
import requests

from simulator import Fault
from tests.browser.conftest import LAPTOP
from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.stack import make_stack

__all__ = ["make_stack"]

pytestmark = pytest.mark.browser

RULES = """
rules:
  - name: replace-web
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}", IncreaseMaxInstances: 1}
"""


def test_retry_a_dead_launch_and_see_it_succeed(browser, make_stack, artifacts_dir):
    stack = make_stack(RULES, admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD)
    # Scalr refuses the first launch; the job is dead after one attempt.
    stack.state.add_fault(
        Fault(
            kind="error", action="ServerLaunch", remaining=1, message="Farm Role ID #1978 not found"
        )
    )
    message = "Instance 5bbd72c5-908c-4535-a7ec-2fbf56486ff3 (54.211.17.89) Internal IP: 10.183.42.7 terminated"
    answer = requests.post(
        stack.web.events_url + "&farm_role_id=1978",
        data={"event": "OnHostDown", "message": message},
        timeout=5,
    )
    assert answer.status_code == 202
    stack.drain(until=lambda: bool(stack.jobs()) and stack.jobs()[0].status == "dead")
    job = stack.jobs()[0]

    context = browser.new_context(viewport=LAPTOP, base_url=f"http://127.0.0.1:{stack.web.port}")
    try:
        tab = context.new_page()
        tab.goto(f"/actions/{job.id}")
        tab.fill("input[name=username]", ADMIN_USER)
        tab.fill("input[name=password]", ADMIN_PASSWORD)
        tab.click("button[type=submit]")
        tab.wait_for_load_state()
        assert tab.locator("h1 .status").inner_text() == "dead"
        assert "Farm Role ID #1978 not found" in tab.content()
        tab.click("button:has-text('Retry')")
        tab.wait_for_load_state()
        assert tab.locator("h1 .status").inner_text() == "retrying"
        # The real worker picks the job up and Scalr (the simulator) launches a server.
        stack.drain(until=lambda: stack.jobs()[0].status == "succeeded")
        tab.reload()
        assert tab.locator("h1 .status").inner_text() == "succeeded"
        page = tab.content()
        job = stack.jobs()[0]
        assert job.transaction_id in page
        assert job.result["ServerID"] in page
        tab.screenshot(
            path=str(artifacts_dir / "dashboard-retried-action-laptop.png"), full_page=True
        )
    finally:
        context.close()
    launched = [c for c in stack.state.calls("ServerLaunch") if c.outcome == "ok"]
    assert len(launched) == 1
