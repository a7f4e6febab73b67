"""The ops dashboard: server-rendered pages behind a login, every form CSRF-checked."""

from __future__ import annotations

from flask import Blueprint, Response

bp = Blueprint("dashboard", __name__)

# Content the pages may load: only our own static files; no inline script or style.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@bp.after_request
def _security_headers(response: Response) -> Response:
    """Keep dashboard pages out of frames and caches, and scripts to our own."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


from app.dashboard import (  # noqa: E402, F401  (routes register on bp)
    auth,
    filters,
    views_actions,
    views_controls,
    views_events,
    views_health,
    views_overview,
    views_rules,
    views_servers,
    views_silences,
)
