"""Session-bound CSRF tokens: one random token per session, compared in constant time."""

from __future__ import annotations

import secrets

from flask import abort, request, session

from app.security import secrets_equal

SESSION_KEY = "csrf"
FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token() -> str:
    """Return this session's CSRF token, creating it on first use."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def rotate_csrf_token() -> str:
    """Give the session a fresh token (after login, so a planted token dies)."""
    session[SESSION_KEY] = secrets.token_urlsafe(32)
    return str(session[SESSION_KEY])


def check_csrf() -> None:
    """Refuse (400) an unsafe request whose form token does not match the session's."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get(SESSION_KEY)
    presented = request.form.get(FIELD, "")
    if not isinstance(expected, str) or not presented or not secrets_equal(presented, expected):
        abort(400, "The form's security token is missing or stale. Reload the page and try again.")
