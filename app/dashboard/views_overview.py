"""The overview page: what happened in the last 24 hours and what needs a person."""

from __future__ import annotations

from flask import render_template

from app.dashboard import bp
from app.dashboard.chart import build_chart
from app.queries.overview import load_overview
from app.web import get_clock, get_rules_store, get_session


def rules_status() -> object | None:
    """Return the rules store's status, or None when the app holds no store."""
    store = get_rules_store()
    return store.status()


@bp.get("/")
def overview() -> str:
    """Show event volume, pending and failing actions, breakers and workers."""
    data = load_overview(get_session(), get_clock()())
    chart = build_chart(data.hourly, data.hours)
    return render_template("dashboard/overview.html", o=data, chart=chart, rules=rules_status())
