"""The events list (GET /events; POST /events stays the ingest endpoint) and event pages."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, jsonify, render_template, request, url_for
from sqlalchemy import select

from app.dashboard import bp
from app.limits import MAX_ID
from app.models.event import Event
from app.models.job import ActionJob
from app.queries.events import (
    events_after,
    latest_event_id,
    parse_filters,
    search_events,
)
from app.services import get_services
from app.web import get_session, int_arg


@bp.get("/events")
def events() -> str:
    """List events newest first, filtered, one keyset page at a time."""
    f = parse_filters(request.args)
    before = int_arg("before")
    page = search_events(get_session(), f, before)
    next_url = url_for("dashboard.events", before=page.next_key, **f.raw) if page.next_key else None
    newest = page.items[0].id if page.items else latest_event_id(get_session())
    feed_url = url_for("dashboard.events_feed", **f.raw) if before is None else None
    return render_template(
        "dashboard/events.html",
        page=page,
        f=f,
        next_url=next_url,
        newest=newest,
        feed_url=feed_url,
        paged=before is not None,
    )


@bp.get("/events/feed")
def events_feed() -> Response:
    """Return the rows of events newer than `after`, for the page's live refresh."""
    f = parse_filters(request.args)
    after = int_arg("after")
    rows = events_after(get_session(), f, after) if after is not None else []
    html = render_template("dashboard/_event_rows.html", events=rows) if rows else ""
    return jsonify(html=html, count=len(rows), last_id=rows[0].id if rows else (after or 0))


def current_explanations(event: Event) -> tuple[str | None, list[dict[str, Any]]]:
    """Evaluate the event against the rules running now: (version, evaluations)."""
    store = get_services().rules
    if store.status().loaded_at is None:
        return None, []
    from app.rules.matching import explain_all

    ruleset = store.current
    return ruleset.version, [e.to_dict() for e in explain_all(ruleset, event.fields())]


@bp.get("/events/<int:event_id>")
def event(event_id: int) -> str:
    """Show one event: fields, raw delivery, every rule's verdict, and its jobs."""
    session = get_session()
    found = session.get(Event, event_id) if event_id <= MAX_ID else None
    if found is None:
        abort(404, f"No event {event_id}.")
    jobs = list(
        session.scalars(
            select(ActionJob).where(ActionJob.event_id == event_id).order_by(ActionJob.id)
        )
    )
    version, now_evaluations = current_explanations(found)
    return render_template(
        "dashboard/event.html",
        event=found,
        fields=found.fields(),
        jobs=jobs,
        now_version=version,
        now_evaluations=now_evaluations,
    )
