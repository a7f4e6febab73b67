"""The overview page: is remediation healthy now, the last 24 hours, and what needs a person."""

from __future__ import annotations

from flask import render_template, request

from app.dashboard import bp
from app.dashboard.chart import WINDOWS, build_chart
from app.queries.health_line import HealthLine, load_health_line
from app.queries.overview import load_overview
from app.services import get_services
from app.web import get_clock, get_config, get_rules_store, get_session

# How often the overview's health line refreshes itself in the browser.
REFRESH_SECONDS = 15


def rules_status() -> object | None:
    """Return the rules store's status, or None when the app holds no store."""
    store = get_rules_store()
    return store.status()


def health_line() -> HealthLine:
    """Read the overview's first line for this request."""
    config = get_config()
    store = get_rules_store()
    environments = list(get_services().scalr_environments.by_name) or ["default"]
    return load_health_line(
        get_session(),
        get_clock()(),
        store.current,
        environments,
        config.budget_max,
        config.budget_window_seconds,
    )


@bp.get("/")
def overview() -> str:
    """Show remediation's health, event volume, pending and failing actions, and workers."""
    window = request.args.get("window", "")
    data = load_overview(get_session(), get_clock()(), window if window in WINDOWS else None)
    chart = build_chart(data.counts, data.buckets, data.window)
    return render_template(
        "dashboard/overview.html",
        o=data,
        chart=chart,
        rules=rules_status(),
        h=health_line(),
        refresh=REFRESH_SECONDS,
        windows=WINDOWS,
    )


@bp.get("/overview/health")
def overview_health() -> str:
    """Return the health line alone, for the overview's self-refresh."""
    return render_template("dashboard/_health_line.html", h=health_line(), refresh=REFRESH_SECONDS)
