"""app.db.one_of: the same rows as IN on either database, one parameter on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from app.db import one_of
from app.models.event import Event


def test_one_of_finds_what_in_finds_with_repeats_and_no_match(db_session):
    for name in ("HostUp", "HostDown", "HostInit"):
        db_session.add(Event(name=name, message="m", server_id=f"s-{name}", source="observer"))
    db_session.flush()
    wanted = ["s-HostUp", "s-HostInit", "s-HostUp", "s-nobody"]
    found = db_session.scalars(
        select(Event.name).where(one_of(db_session, Event.server_id, wanted)).order_by(Event.id)
    ).all()
    assert found == ["HostUp", "HostInit"]
    assert db_session.scalars(select(Event.id).where(one_of(db_session, Event.id, []))).all() == []
    query = select(Event.id).where(one_of(db_session, Event.server_id, wanted))
    text = str(query.compile(db_session.get_bind()))
    if db_session.get_bind().dialect.name == "postgresql":
        assert "= ANY (" in text and text.count("%(") == 1
    else:
        assert " IN (" in text
