"""Hostile text (messages, server ids, role names, rule names and descriptions, errors,
breaker reasons) renders as text on every dashboard page, in a real browser.

The Content-Security-Policy would stop an injected inline script even if escaping failed,
so a missing dialog proves little on its own: each payload carries a `data-xss` attribute
and the test looks for any element that has it. Payload shapes: OWASP's XSS Filter Evasion
Cheat Sheet (tag breaking out of attributes, textarea/title/script contexts, event handlers,
`javascript:` URLs).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.models.job import ActionJob
from tests.browser.conftest import log_in
from tests.dashboard.conftest import use_rules
from tests.dashboard.helpers import gen_breaker, gen_heartbeat, gen_job, gen_server
from tests.factories import gen_event

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<script data-xss>alert(1)</script>",
    '"><img data-xss src=x onerror=alert(2)>',
    "'><svg data-xss onload=alert(3)>",
    "</textarea><b data-xss>t</b>",
    "</title><i data-xss>t</i>",
    "</script><u data-xss>s</u>",
    '<a data-xss href="javascript:alert(4)">x</a>',
    "{{ 7*7 }}<s data-xss>j</s>",
]
HOSTILE = " ".join(PAYLOADS)
RULES = """\
rules:
  - name: hostile-rule
    description: {description!r}
    events: [HostDown]
    actions:
      - webhook: https://chat.example/hooks
        body: {{text: "{{{{ event.message }}}}"}}
"""


@pytest.fixture
def hostile_data(live_app, db_session, tmp_path):
    use_rules(live_app, tmp_path / "hostile-rules.yml", RULES.format(description=HOSTILE))
    server_id = "<img data-xss src=x onerror=alert(5)>"
    event = gen_event(
        db_session, message=HOSTILE, server_id=server_id, role_name=HOSTILE[:200], public_ip=None
    )
    job = gen_job(
        db_session,
        event.id,
        rule=PAYLOADS[1],  # the column holds 64 characters
        status="dead",
        error=HOSTILE,
        params={"text": HOSTILE, HOSTILE[:40]: "v"},
        finished_at=utcnow(),
    )
    gen_server(db_session, server_id, role_name=HOSTILE[:200])
    gen_heartbeat(db_session, HOSTILE[:60])
    gen_breaker(db_session, reason=HOSTILE)
    return {"event": event.id, "job": job.id, "server": server_id}


def test_hostile_text_is_text_on_every_page(page, hostile_data, db_session):
    ids = hostile_data
    pages = [
        "/",
        "/events",
        f"/events?name={quote(PAYLOADS[1])}",
        f"/events/{ids['event']}",
        "/rules",
        "/rules/hostile-rule",
        "/actions",
        f"/actions/{ids['job']}",
        "/servers",
        f"/servers/{quote(ids['server'], safe='')}",
        "/health",
        f"/login?next={quote(PAYLOADS[2])}",
    ]
    log_in(page, "/")
    seen_literally = 0
    for path in pages:
        response = page.goto(path)
        assert response is not None and response.status < 500, (path, response and response.status)
        page.wait_for_load_state()
        if response.status == 404:
            # Ids that are not an id's shape are unknown: the 404 page echoes them, as text.
            page.problems.console_errors[:] = [
                e for e in page.problems.console_errors if "404" not in e
            ]
        page.mouse.move(200, 300)  # reach any onmouseover
        assert page.locator("[data-xss]").count() == 0, f"an injected element exists on {path}"
        assert page.locator("a[href^='javascript:' i]").count() == 0, path
        text = page.locator("body").inner_text()
        if PAYLOADS[0] in text or PAYLOADS[1] in text:
            seen_literally += 1
    # The payloads are shown, as text, on the pages that show those fields.
    assert seen_literally >= 6, seen_literally
    assert page.problems.dialogs == []
    assert db_session.scalar(select(ActionJob.status).where(ActionJob.id == ids["job"])) == "dead"
