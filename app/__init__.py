"""Lifeguard: receive Scalr events, run remediation rules, show the whole story."""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import PROJECT_ROOT, Config
from app.dashboard.throttle import LOGIN_FAILURES_FILE, LoginThrottle
from app.db import make_engine, make_read_session_factory, make_session_factory, utcnow
from app.health import scalr_checks
from app.ingest.auth import FloodLimiter
from app.logging_setup import configure_logging
from app.rules.store import RulesStore
from app.scalr.environments import ScalrEnvironments
from app.services import Services, install
from app.users import UsersStore, users_path

log = logging.getLogger(__name__)


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask application for `config` (read from the environment by default)."""
    config = config or Config.from_env()
    configure_logging()
    app = Flask(__name__, instance_path=str(config.instance_path.resolve()))
    app.config["LIFEGUARD"] = config
    app.config["TESTING"] = config.testing
    app.config["SECRET_KEY"] = config.secret_key or _instance_secret(config.instance_path)
    # Werkzeug answers 413 for a body past this, before any of our code reads it.
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = config.session_cookie_secure
    app.json.sort_keys = False  # type: ignore[attr-defined]

    engine = make_engine(config.database_url)
    factory = make_session_factory(engine)
    environments = ScalrEnvironments.read(config.environ)
    if environments.problem is not None:
        log.error("Scalr environments refused: %s", environments.problem)
    install(
        app,
        Services(
            config=config,
            engine=engine,
            session_factory=factory,
            read_session_factory=make_read_session_factory(engine),
            rules=make_rules_store(config),
            clock=utcnow,
            flood_limiter=FloodLimiter(config.ingest_rate_per_minute),
            # One count for every web process of the machine (a file they all map).
            login_throttle=LoginThrottle(
                clock=time.time, path=config.instance_path / LOGIN_FAILURES_FILE
            ),
            scalr_environments=environments,
            scalr_check=lambda: scalr_checks(environments, factory),
            users=UsersStore(users_path(config)),
        ),
    )

    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    if config.trusted_proxies > 0:
        # request.remote_addr becomes the address the nearest trusted proxies saw. With fewer
        # X-Forwarded-For hops than trusted, the socket address stays. Only the address is
        # taken from the proxies (x_proto=0): nothing else of theirs was trusted before.
        # Outermost, after the blueprints: the ingest front (app.ingest.front) wraps
        # wsgi_app when its blueprint registers, and must see the proxies' address too.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=config.trusted_proxies, x_proto=0
        )
    return app


def _instance_secret(instance_path: Path) -> str:
    """Return the Flask signing key kept in the instance folder, creating it on first run."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


def make_rules_store(config: Config) -> RulesStore:
    """Load the rules file (relative paths from the project root) into a store."""
    path = Path(config.rules_file)
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    store = RulesStore(path)
    store.reload_if_changed()
    if not store.status().ok and path.exists():
        log.error("rules file %s refused: %d problems", path, len(store.status().errors))
    return store


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint."""
    from app.api import bp as api_bp
    from app.dashboard import bp as dashboard_bp
    from app.health import bp as health_bp
    from app.ingest.routes import bp as ingest_bp
    from app.web import init_request_ids, init_request_session

    init_request_ids(app)
    init_request_session(app)
    app.register_blueprint(ingest_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(dashboard_bp)


def register_errorhandlers(app: Flask) -> None:
    """Answer errors as JSON on machine paths and as HTML pages elsewhere."""
    from app.errors import init_error_handlers

    init_error_handlers(app)


def register_commands(app: Flask) -> None:
    """Add the `flask` console commands."""
    from app.cli import register

    register(app)
