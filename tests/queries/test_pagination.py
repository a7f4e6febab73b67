"""The one keyset helper: both directions, page boundaries, an empty page, a filter."""

from __future__ import annotations

from sqlalchemy import select

from app.models.event import Event
from app.models.inventory import Server
from app.queries.pagination import keyset_page
from tests.dashboard.helpers import gen_server
from tests.factories import gen_event


def walk(session, query, key, limit, descending=True):
    """Follow next_key from the first page to the last; return every page's items."""
    pages, after = [], None
    while True:
        page = keyset_page(session, query, key, after, limit, descending=descending)
        pages.append(page.items)
        if page.next_key is None:
            return pages
        after = page.next_key


def test_newest_first_by_id(db_session):
    ids = [gen_event(db_session).id for _ in range(5)]
    page = keyset_page(db_session, select(Event), Event.id, None, 2)
    assert [e.id for e in page.items] == [ids[4], ids[3]]
    assert page.next_key == ids[3]  # the last id shown: the next page starts below it
    pages = walk(db_session, select(Event), Event.id, 2)
    assert [[e.id for e in p] for p in pages] == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]


def test_ascending_by_a_text_key(db_session):
    for name in ("c", "a", "e", "b", "d"):
        gen_server(db_session, f"srv-{name}")
    page = keyset_page(db_session, select(Server), Server.server_id, None, 2, descending=False)
    assert [s.server_id for s in page.items] == ["srv-a", "srv-b"]
    assert page.next_key == "srv-b"
    pages = walk(db_session, select(Server), Server.server_id, 2, descending=False)
    assert [[s.server_id for s in p] for p in pages] == [
        ["srv-a", "srv-b"],
        ["srv-c", "srv-d"],
        ["srv-e"],
    ]


def test_a_full_last_page_says_no_more(db_session):
    ids = [gen_event(db_session).id for _ in range(4)]
    first = keyset_page(db_session, select(Event), Event.id, None, 2)
    last = keyset_page(db_session, select(Event), Event.id, first.next_key, 2)
    assert [e.id for e in last.items] == [ids[1], ids[0]]
    assert last.next_key is None  # exactly `limit` rows left: no empty page after them
    everything = keyset_page(db_session, select(Event), Event.id, None, 4)
    assert len(everything.items) == 4 and everything.next_key is None


def test_empty_page(db_session):
    page = keyset_page(db_session, select(Event), Event.id, None, 50)
    assert page.items == [] and page.next_key is None
    gen_event(db_session)
    first = db_session.scalar(select(Event.id))
    below = keyset_page(db_session, select(Event), Event.id, first, 50)
    assert below.items == [] and below.next_key is None


def test_filters_apply_before_the_page_is_cut(db_session):
    ids = [gen_event(db_session, name="HostDown" if i % 2 else "HostUp").id for i in range(7)]
    downs = [i for n, i in enumerate(ids) if n % 2]
    query = select(Event).where(Event.name == "HostDown")
    pages = walk(db_session, query, Event.id, 2)
    assert [[e.id for e in p] for p in pages] == [[downs[2], downs[1]], [downs[0]]]
    servers = select(Server).where(Server.farm_id == 2)
    for name, farm in (("a", 1), ("b", 2), ("c", 1), ("d", 2), ("e", 2)):
        gen_server(db_session, f"srv-{name}", farm_id=farm)
    pages = walk(db_session, servers, Server.server_id, 2, descending=False)
    assert [[s.server_id for s in p] for p in pages] == [["srv-b", "srv-d"], ["srv-e"]]
