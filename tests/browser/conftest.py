"""A real Lifeguard on a loopback port and Debian's chromium driven by Playwright.

Skipped, with the reason, where /usr/bin/chromium is absent (.ci/run installs it).
Never `playwright install`: that downloads a browser build, which fails here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_USER, use_rules
from tests.stack import LifeguardServer

CHROMIUM = os.environ.get("LIFEGUARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("LIFEGUARD_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"{CHROMIUM} is absent but LIFEGUARD_REQUIRE_BROWSER=1 (CI)")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is absent: apt-get install chromium (.ci/run does)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def live_app(make_app, tmp_path: Path) -> Flask:
    """The app the browser talks to, over the test database."""
    application = make_app(admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD)
    use_rules(application, tmp_path / "rules.yml")
    return application


@pytest.fixture
def live_url(live_app: Flask) -> Iterator[str]:
    """Serve `live_app` on 127.0.0.1 on a free port, in a thread, for one test."""
    with LifeguardServer(live_app) as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One chromium for the whole run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class PageProblems:
    """Dialogs and console errors seen by a page; any of them fails the test."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []


@pytest.fixture
def page(browser, live_url: str) -> Iterator[object]:
    """A fresh laptop-sized page; a dialog (alert) or console error fails the test."""
    context = browser.new_context(viewport=LAPTOP, base_url=live_url)
    tab = context.new_page()
    problems = PageProblems()

    def on_dialog(dialog) -> None:
        problems.dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.on(
        "console",
        lambda msg: problems.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    tab.problems = problems
    try:
        yield tab
    finally:
        context.close()
    assert problems.dialogs == [], f"a dialog opened: {problems.dialogs}"
    assert problems.console_errors == [], f"console errors: {problems.console_errors}"


def log_in(tab, next_path: str = "/") -> None:
    """Log in through the form, the way a person does."""
    tab.goto(next_path)
    tab.fill("input[name=username]", ADMIN_USER)
    tab.fill("input[name=password]", ADMIN_PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_load_state()
