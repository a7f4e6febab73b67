"""Per-request database sessions and other small request helpers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, current_app, g, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy.orm import Session, sessionmaker

from app.config import Config
from app.limits import whole_number
from app.rules.store import RulesStore
from app.services import get_services


def get_config() -> Config:
    """Return the running application's Lifeguard configuration."""
    config: Config = current_app.config["LIFEGUARD"]
    return config


def get_session_factory() -> sessionmaker[Session]:
    """Return the application's session factory."""
    return get_services().session_factory


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session() -> Session:
    """Return this request's session, opening it on first use.

    GET requests read through sessions that take no write lock on SQLite, so a
    slow dashboard page never makes Scalr's POST wait for its 202.
    """
    if "db_session" not in g:
        if request.method in READ_METHODS:
            g.db_session = get_services().read_session_factory()
        else:
            g.db_session = get_session_factory()()
    session: Session = g.db_session
    return session


# The machine endpoints Scalr posts to: no cookie is read or written there.
INGEST_POSTS = frozenset({"/events", "/webhooks/scalr"})


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, skipped for Scalr's deliveries.

    Opening the cookie session builds a signing serializer on every request; ingest
    never reads or writes a session, so its posts get Flask's null session (nothing
    loaded, nothing saved) and keep that cost off the hot path.
    """

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        if request.method == "POST" and request.path in INGEST_POSTS:
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_request_session(app: Flask) -> None:
    """Close the request's session when the app context ends; no cookie session on ingest."""
    app.session_interface = CookieSessionInterface()

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> Any:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_rules_store() -> RulesStore:
    """Return the application's RulesStore (the last good rules), looked at again if stale."""
    store = get_services().rules
    store.refresh()
    return store


def get_clock() -> Callable[[], datetime]:
    """Return the application's clock: a function giving an aware UTC datetime."""
    return get_services().clock


def int_arg(name: str) -> int | None:
    """Read a whole-number query argument leniently (pages ignore what is not one)."""
    return whole_number(request.args.get(name))


def init_request_ids(app: Flask) -> None:
    """Give every request an id: in each log line written for it and in `X-Request-ID`."""
    from app.logging_setup import bind, new_request_id, unbind

    @app.before_request
    def _bind_request_id() -> None:
        g.request_id = new_request_id(request.headers.get("X-Request-ID"))
        g.log_token = bind(request_id=g.request_id)

    @app.after_request
    def _echo_request_id(response: Any) -> Any:
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        return response

    @app.teardown_request
    def _unbind_request_id(_exc: BaseException | None) -> None:
        token = g.pop("log_token", None)
        if token is not None:
            unbind(token)
