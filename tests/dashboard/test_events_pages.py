"""The overview, the events list (filters, pages, live feed) and the event page."""

from __future__ import annotations

import re
from datetime import timedelta

from app.db import transaction, utcnow
from app.rollup import SETTLE_SECONDS, fold_events
from app.services import services_of
from tests.dashboard.helpers import gen_breaker, gen_heartbeat, gen_job
from tests.factories import gen_event


def ids_on(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)">', page)]


def test_overview_counts_and_chart(admin, dash_app, db_session):
    now = utcnow().replace(minute=30)
    services_of(dash_app).clock = lambda: now
    for _ in range(3):
        gen_event(db_session, name="HostDown", received_at=now - timedelta(minutes=1))
    gen_event(db_session, name="HostUp", received_at=now - timedelta(hours=5))
    gen_event(db_session, name="HostUp", received_at=now - timedelta(hours=30))  # outside
    event = gen_event(db_session, received_at=now)
    gen_job(db_session, event.id, status="scheduled")
    gen_job(db_session, event.id, status="retrying", error="Scalr said 503")
    gen_job(db_session, event.id, status="dead", error="ServerID empty")
    gen_breaker(db_session, "prod")
    gen_heartbeat(db_session, "worker-7", last_beat_at=now)
    page = admin.get("/?window=24h").get_data(as_text=True)
    assert "<strong>5</strong> events, 24 h" in page
    assert "<strong>4</strong> this hour" in page
    assert page.count("<rect x=") == 2  # one bar per hour that had events
    assert "4 HostDown" in page and "1 HostUp" in page
    assert "Scalr said 503" in page and "ServerID empty" in page
    assert "prod" in page and "budget spent" in page
    assert "worker-7" in page and "alive" in page
    assert 'class="countdown"' in page


def test_overview_is_the_same_page_folded_or_not(admin, dash_app, db_session, session_factory):
    now = utcnow().replace(minute=30)
    services_of(dash_app).clock = lambda: now
    for hours in (0, 0, 3, 20, 30, 100, 150):
        gen_event(db_session, name="HostDown", received_at=now - timedelta(hours=hours))
    gen_event(db_session, name="HostUp", received_at=now - timedelta(hours=2))
    windows = ("", "?window=1h", "?window=24h", "?window=7d")
    live = [admin.get(f"/{w}").get_data(as_text=True) for w in windows]
    assert "<strong>5</strong> events, 24 h" in live[0]
    with transaction(session_factory) as session:
        fold_events(session, now)
    with transaction(session_factory) as session:
        assert fold_events(session, now + timedelta(seconds=SETTLE_SECONDS)).events == 8
    assert [admin.get(f"/{w}").get_data(as_text=True) for w in windows] == live


def test_overview_says_when_no_worker_beats(admin):
    assert "No worker has reported" in admin.get("/").get_data(as_text=True)


def test_events_newest_first_with_pages(admin, db_session):
    ids = [gen_event(db_session).id for _ in range(55)]
    first = admin.get("/events").get_data(as_text=True)
    assert ids_on(first) == sorted(ids, reverse=True)[:50]
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = admin.get(older).get_data(as_text=True)
    assert ids_on(second) == sorted(ids, reverse=True)[50:]
    assert 'rel="next"' not in second


def test_events_filters(admin, db_session):
    now = utcnow()
    a = gen_event(db_session, name="HostDown", farm_id=1, farm_role_id=11, server_id="s-a",
                  message="disk full on web", received_at=now - timedelta(hours=3))  # fmt: skip
    b = gen_event(db_session, name="HostUp", farm_id=1, farm_role_id=12, server_id="s-b",
                  message="up again", received_at=now - timedelta(hours=1))  # fmt: skip
    c = gen_event(db_session, name="HostDown", farm_id=2, farm_role_id=21, server_id="s-c",
                  message="100% done_x", received_at=now)  # fmt: skip

    def ids(query: str) -> list[int]:
        return ids_on(admin.get(f"/events?{query}").get_data(as_text=True))

    assert ids("name=HostDown") == [c.id, a.id]
    assert ids("server=s-b") == [b.id]
    assert ids("farm=1") == [b.id, a.id]
    assert ids("farm=1&farm_role=11") == [a.id]
    assert ids("q=DISK") == [a.id]
    assert ids("q=%25") == [c.id]  # LIKE wildcards are literal
    assert ids("q=_x") == [c.id]
    since = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    until = (now - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    assert ids(f"since={since}") == [c.id, b.id]
    assert ids(f"since={since}&until={until}") == [b.id]
    page = admin.get("/events?farm=abc").get_data(as_text=True)
    assert "Farm must be a whole number" in page
    assert len(ids_on(page)) == 3


def test_text_search_reads_a_window_per_page(admin, db_session, monkeypatch):
    monkeypatch.setattr("app.queries.events.TEXT_WINDOW", 3)
    old = gen_event(db_session, message="needle")
    for _ in range(5):
        gen_event(db_session, message="hay")
    page = admin.get("/events?q=needle").get_data(as_text=True)
    assert ids_on(page) == []
    assert "The text search read events" in page
    url = re.search(r'href="([^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    page = admin.get(url).get_data(as_text=True)
    assert ids_on(page) == [old.id]


def test_live_feed_returns_only_newer_matching_rows(admin, db_session):
    first = gen_event(db_session, name="HostUp")
    page = admin.get("/events?name=HostDown").get_data(as_text=True)
    assert 'data-feed="/events/feed?name=HostDown"' in page
    assert f'data-after="{first.id}"' in page
    gen_event(db_session, name="HostUp")
    new = gen_event(db_session, name="HostDown", message="<b>new</b>")
    body = admin.get(f"/events/feed?name=HostDown&after={first.id}").get_json()
    assert body["count"] == 1 and body["last_id"] == new.id
    assert f'data-id="{new.id}"' in body["html"]
    assert "&lt;b&gt;new&lt;/b&gt;" in body["html"]
    assert admin.get(f"/events/feed?after={new.id}").get_json() == {
        "html": "",
        "count": 0,
        "last_id": new.id,
    }


def test_event_page_explains_every_rule(admin, db_session):
    evaluations = [
        {
            "rule_name": "replace-terminated-web",
            "matched": False,
            "reason": "where.farm_id: expected 1439, got 7",
            "failures": [
                {"path": "where.farm_id", "op": "eq", "expected": 1439, "actual": 7,
                 "children": [], "message": "where.farm_id: expected 1439, got 7"}
            ],
        }
    ]  # fmt: skip
    event = gen_event(db_session, farm_id=7, evaluations=evaluations, processed_at=utcnow(),
                      rules_version="abc123", raw={"body": "event=OnHostDown", "query": "token=[redacted]"})  # fmt: skip
    job = gen_job(db_session, event.id, status="succeeded", transaction_id="tx-1")
    page = admin.get(f"/events/{event.id}").get_data(as_text=True)
    assert "where.farm_id" in page
    assert '<code class="expected">1439</code>' in page
    assert '<code class="actual">7</code>' in page
    assert "abc123" in page
    assert "token=[redacted]" in page
    assert f'href="/actions/{job.id}"' in page
    # The rules running now are evaluated too, including rules for other events.
    assert "listens for HostCrash" in page


def test_event_values_are_escaped(admin, db_session):
    event = gen_event(db_session, message="<script>alert(1)</script>", role_name="<img src=x>",
                      server_id="<svg onload=alert(1)>")  # fmt: skip
    for url in ("/events", f"/events/{event.id}"):
        page = admin.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<svg onload" not in page
    assert "<img src=x>" not in admin.get(f"/events/{event.id}").get_data(as_text=True)


def test_missing_event_is_an_html_404(admin):
    response = admin.get("/events/999999")
    assert response.status_code == 404
    assert "text/html" in response.content_type
    assert "No event 999999" in response.get_data(as_text=True)


def test_event_page_shows_a_matching_failure(admin, db_session):
    event = gen_event(
        db_session,
        processed_at=utcnow(),
        evaluations=[
            {
                "rule_name": "(matcher)",
                "matched": False,
                "reason": "internal error while matching: RuntimeError: boom",
                "failures": [],
            }
        ],
    )
    page = admin.get(f"/events/{event.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "internal error while matching: RuntimeError: boom" in text
    assert 'href="/rules/(matcher)"' not in text
