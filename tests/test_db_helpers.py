"""app.db.one_of: the same rows as IN on either database, one parameter on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import event, select

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


def test_planned_in_finds_what_in_finds_with_the_values_in_the_text_on_postgres(db_session):
    from app.db import planned_in

    odd = "it's a \\ back'slash"  # quotes and a backslash, as written into the text
    for sid in ("s-1", "s-2", odd):
        db_session.add(Event(name="HostUp", message="m", server_id=sid, source="observer"))
    db_session.flush()
    wanted = {"s-2", odd, "s-nobody"}
    query = select(Event.server_id).where(planned_in(db_session, Event.server_id, wanted))
    assert sorted(db_session.scalars(query.order_by(Event.id)).all()) == sorted(["s-2", odd])
    none = select(Event.id).where(planned_in(db_session, Event.server_id, []))
    assert db_session.scalars(none).all() == []
    sent: list[tuple[str, object]] = []

    def note(_conn, _cursor, statement, parameters, *_args) -> None:
        sent.append((statement, parameters))

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", note)
    try:
        db_session.scalars(query).all()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    statement, parameters = sent[-1]
    if engine.dialect.name == "postgresql":
        # Planned with its own values each time: nothing for a cached plan to stand for.
        assert "'s-2'" in statement and "s-nobody" in statement and not parameters
    else:
        assert "s-2" not in statement and "s-2" in str(parameters)
