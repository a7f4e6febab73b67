"""The events list (GET /events; POST /events stays the ingest endpoint) and event pages."""

from __future__ import annotations

from flask import Response, abort, jsonify, render_template, request, url_for

from app.dashboard import bp
from app.queries.events import (
    events_after,
    latest_event_id,
    outcomes_of,
    parse_filters,
    search_events,
)
from app.queries.explanations import explain_event
from app.web import get_clock, get_config, get_rules_store, get_session, int_arg


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
        outcomes=outcomes_of(get_session(), page.items),
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
    outcomes = outcomes_of(get_session(), rows)
    html = ""
    if rows:
        html = render_template("dashboard/_event_rows.html", events=rows, outcomes=outcomes)
    return jsonify(html=html, count=len(rows), last_id=rows[0].id if rows else (after or 0))


@bp.get("/events/<int:event_id>")
def event(event_id: int) -> str:
    """Show one event: fields, raw delivery, every rule's verdict, and its jobs."""
    found = explain_event(get_session(), get_rules_store(), event_id, get_config(), get_clock()())
    if found is None:
        abort(404, f"No event {event_id}.")
    return render_template(
        "dashboard/event.html",
        event=found.event,
        fields=found.event.fields(),
        jobs=found.jobs,
        # A rule that matched but was paused: its verdict says so, not a bare "matched".
        paused_rules={
            j.rule
            for j in found.jobs
            if j.status == "skipped" and (j.reason or "").startswith("rule paused")
        },
        now_version=found.current.rules_version if found.current else None,
        now_evaluations=found.current.evaluations if found.current else [],
        loop_notes=found.loop,
    )
