"""The application's long-lived parts, built once in create_app and reached by one accessor.

Flask keeps them in `app.extensions["lifeguard"]`; code reads them through
`get_services()` (inside a request or app context) or `services_of(app)`,
never by string keys, so a type checker sees every use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Config
from app.dashboard.throttle import LoginThrottle
from app.ingest.auth import FloodLimiter
from app.rules.store import RulesStore
from app.scalr.environments import ScalrEnvironments
from app.users import UsersStore

EXTENSION_KEY = "lifeguard"

ScalrCheck = Callable[[], list[dict[str, Any]]]


@dataclass
class Services:
    """Everything a request, a console command or a test needs beyond the config."""

    config: Config
    engine: Engine
    session_factory: sessionmaker[Session]
    # Sessions for GET requests: no write lock on SQLite (see app.db).
    read_session_factory: sessionmaker[Session]
    rules: RulesStore
    clock: Callable[[], datetime]
    flood_limiter: FloodLimiter
    login_throttle: LoginThrottle
    # The Scalr environments, read once at start (a bad setting is kept, not raised).
    scalr_environments: ScalrEnvironments = field(default_factory=ScalrEnvironments)
    # The people of USERS_FILE (empty without one), read again when the file changes.
    users: UsersStore = field(default_factory=lambda: UsersStore(None))
    # The live check of the configured Scalr environments (the health page); None: not wired.
    scalr_check: ScalrCheck | None = None


def install(app: Flask, services: Services) -> None:
    """Attach `services` to `app`."""
    app.extensions[EXTENSION_KEY] = services


def services_of(app: Flask) -> Services:
    """Return the services of `app`."""
    services: Services = app.extensions[EXTENSION_KEY]
    return services


def get_services() -> Services:
    """Return the services of the running application."""
    return services_of(current_app)
