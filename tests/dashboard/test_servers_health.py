"""Servers and their timelines, the health page, and the seed command."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.dashboard.cli import seed_events_command
from app.db import utcnow
from app.models.event import Event
from app.models.ops import Breaker
from app.services import services_of
from tests.dashboard.conftest import post
from tests.dashboard.helpers import gen_breaker, gen_heartbeat, gen_job, gen_server
from tests.factories import gen_event


def story(session):
    """HostInit -> HostUp -> IPAddressChanged -> HostDown -> ServerLaunch -> replacement's HostUp."""
    t0 = utcnow() - timedelta(hours=2)
    gen_server(session, "old-1", public_ip="54.1.1.1")
    names = ["HostInit", "HostUp", "IPAddressChanged", "HostDown"]
    events = [
        gen_event(session, name=name, server_id="old-1", received_at=t0 + timedelta(minutes=i))
        for i, name in enumerate(names)
    ]
    job = gen_job(session, events[-1].id, server_id="old-1", status="succeeded",
                  run_at=t0 + timedelta(minutes=6), started_at=t0 + timedelta(minutes=6),
                  result={"ServerID": "new-2"}, transaction_id="tx-9")  # fmt: skip
    up = gen_event(session, name="HostUp", server_id="new-2", received_at=t0 + timedelta(minutes=9))
    return events, job, up


def test_servers_list(admin, db_session):
    gen_server(db_session, "srv-a", farm_id=1)
    gen_server(db_session, "srv-b", farm_id=2, status="Terminated")
    page = admin.get("/servers").get_data(as_text=True)
    assert "srv-a" in page and "srv-b" in page
    page = admin.get("/servers?farm=1").get_data(as_text=True)
    assert "srv-a" in page and "srv-b" not in page
    page = admin.get("/servers?status=Terminated").get_data(as_text=True)
    assert "srv-b" in page and "srv-a" not in page


def test_server_timeline_tells_the_story_in_order(admin, db_session):
    events, job, up = story(db_session)
    page = admin.get("/servers/old-1").get_data(as_text=True)
    marks = [f'href="/events/{e.id}"' for e in events] + [f'href="/actions/{job.id}"',
                                                          f'href="/events/{up.id}"']  # fmt: skip
    positions = [page.index(mark) for mark in marks]
    assert positions == sorted(positions)
    assert 'href="/servers/new-2"' in page
    assert "54.1.1.1" in page


def test_server_known_only_from_events(admin, db_session):
    gen_event(db_session, server_id="ghost")
    page = admin.get("/servers/ghost").get_data(as_text=True)
    assert "Not in the inventory" in page
    assert admin.get("/servers/nobody").status_code == 404


def test_health_page(admin, dash_app, db_session):
    services_of(dash_app).scalr_check = None
    gen_heartbeat(db_session, "w-1")
    gen_job(
        db_session,
        gen_event(db_session).id,
        status="scheduled",
        run_at=utcnow() - timedelta(seconds=5),
    )
    gen_breaker(db_session, "prod")
    page = admin.get("/health").get_data(as_text=True)
    assert "1 due now, 1 waiting" in page
    assert "Not configured: no live check" in page
    assert "w-1" in page
    assert "prod" in page and 'action="/health/breakers/prod/close"' in page

    services_of(dash_app).scalr_check = lambda: [
        {"name": "default", "ok": True, "detail": "answered in 80 ms"},
        {"name": "eu", "ok": False, "detail": "<b>401</b> bad key id"},
    ]
    page = admin.get("/health").get_data(as_text=True)
    assert "answered in 80 ms" in page
    assert "&lt;b&gt;401&lt;/b&gt; bad key id" in page

    def broken():
        raise RuntimeError("secret-ish detail")

    services_of(dash_app).scalr_check = broken
    page = admin.get("/health").get_data(as_text=True)
    assert "the check itself failed: RuntimeError" in page
    assert "secret-ish" not in page


def test_close_breaker(admin, db_session):
    gen_breaker(db_session, "prod")
    assert post(admin, "/health/breakers/prod/close", reason="test").status_code == 303
    db_session.expire_all()
    breaker = db_session.get(Breaker, "prod")
    assert not breaker.is_open and breaker.closed_by == "dashboard:admin: test"
    db_session.rollback()
    post(admin, "/health/breakers/prod/close", reason="test")
    assert "is not open" in admin.get("/health").get_data(as_text=True)


def test_seed_events_command(dash_app, db_session):
    result = dash_app.test_cli_runner().invoke(seed_events_command, ["250", "--days", "2"])
    assert result.exit_code == 0, result.output
    assert "inserted 250 events" in result.output
    assert db_session.scalar(select(func.count()).select_from(Event)) == 250
    oldest = db_session.scalar(select(func.min(Event.received_at)))
    assert utcnow() - oldest < timedelta(days=2, minutes=1)
    db_session.rollback()


def test_health_shows_the_last_inventory_sync(admin, db_session):
    from app.db import utcnow
    from app.models.ops import PeriodicTask

    text = admin.get("/health").get_data(as_text=True)
    assert "has not run yet" in text
    db_session.add(
        PeriodicTask(
            name="inventory_sync", last_run_at=utcnow(), last_run_by="w1", last_result="default: 7"
        )
    )
    db_session.commit()
    text = admin.get("/health").get_data(as_text=True)
    assert "default: 7" in text and "w1" in text


def test_health_shows_the_last_look_at_the_planner_statistics(admin, db_session):
    from app.db import utcnow
    from app.models.ops import PeriodicTask

    assert "Planner statistics" not in admin.get("/health").get_data(as_text=True)
    db_session.add(
        PeriodicTask(
            name="table_stats",
            last_run_at=utcnow(),
            last_run_by="w<2>",
            last_result="analyzed events (85 ms)",
        )
    )
    db_session.commit()
    text = admin.get("/health").get_data(as_text=True)
    assert "Planner statistics" in text and "analyzed events (85 ms)" in text
    assert "w&lt;2&gt;" in text and "w<2>" not in text


def test_health_lists_open_ingest_gaps(admin, db_session):
    from app.models.loop import FarmTraffic

    text = admin.get("/health").get_data(as_text=True)
    assert "Ingest gaps" in text and "within its silence bound" in text
    last = gen_event(db_session, farm_id=1439)
    gap = gen_event(db_session, name="IngestGap", source="lifeguard", farm_id=1439)
    quiet = FarmTraffic(farm_id=1439, last_event_at=utcnow() - timedelta(hours=2),
                        last_event_id=last.id, events=40, mean_gap_seconds=61.25,
                        gap_since=utcnow(), gap_event_id=gap.id, gap_missed=3)  # fmt: skip
    fine = FarmTraffic(farm_id=1500, last_event_at=utcnow(), last_event_id=last.id, events=1)
    db_session.add_all([quiet, fine])
    db_session.commit()
    text = admin.get("/health").get_data(as_text=True)
    assert f"IngestGap #{gap.id}" in text and f"#{last.id}" in text
    assert "<td>1439</td>" in text and "<td>1500</td>" not in text
    assert "61.2 s" in text or "61.3 s" in text
    assert "<td>3</td>" in text
