"""Login, logout and the gate in front of every dashboard page."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlsplit

from flask import (
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from app.config import Config
from app.dashboard import bp
from app.dashboard.csrf import check_csrf, csrf_token, rotate_csrf_token
from app.dashboard.throttle import LoginThrottle
from app.security import secrets_equal
from app.services import get_services
from app.web import get_config

PUBLIC_ENDPOINTS = frozenset({"dashboard.login", "dashboard.logout"})
SESSION_MAX_AGE = 12 * 3600
DEMO_USER = "demo"


def configured(config: Config) -> bool:
    """Say whether the dashboard may be used: credentials set, or demo mode."""
    return bool(config.admin_user and config.admin_password) or config.demo_mode


def _fingerprint(config: Config) -> str:
    """Tie a session to the current credentials: changing the password logs everyone out."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    material = f"{config.admin_user}\0{config.admin_password}".encode()
    return hmac.new(key, material, hashlib.sha256).hexdigest()[:32]


def current_user() -> str | None:
    """Return the logged-in user of this request, or None."""
    config = get_config()
    if not (config.admin_user and config.admin_password):
        return DEMO_USER if config.demo_mode else None
    user = session.get("user")
    login_at = session.get("login_at")
    if not isinstance(user, str) or not isinstance(login_at, int | float):
        return None
    if time.time() - login_at > SESSION_MAX_AGE:
        return None
    fingerprint = session.get("fp")
    if not isinstance(fingerprint, str) or not secrets_equal(fingerprint, _fingerprint(config)):
        return None
    return user


def who() -> str:
    """Name the person acting, for the job and rule audit fields."""
    return f"dashboard:{current_user() or 'unknown'}"


def safe_next(target: str | None) -> str:
    """Return `target` if it is a path on this site, else the overview."""
    default = "/"
    if not target or len(target) > 2048:
        return default
    # Browsers read "\" as "/" and drop tabs and newlines: "/\evil" and "/\t/evil" leave the site.
    if any(ch == "\\" or ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    if parts.path in ("/login", "/logout"):
        return default
    return target


def login_throttle() -> LoginThrottle:
    """Return this process's failed-login counter."""
    return get_services().login_throttle


@bp.before_request
def _gate() -> BaseResponse | tuple[str, int] | None:
    """Refuse when unconfigured, send strangers to the login page, check every form's token."""
    config = get_config()
    if not configured(config):
        return render_template("dashboard/not_configured.html"), 503
    if request.endpoint not in PUBLIC_ENDPOINTS and current_user() is None:
        if request.method == "GET":
            target = request.full_path.rstrip("?")
            return redirect(url_for("dashboard.login", next=target))
        return redirect(url_for("dashboard.login"), code=303)
    check_csrf()
    return None


# Globals, not a context processor: macros imported without context see them too.
bp.add_app_template_global(csrf_token, "csrf_token")
bp.add_app_template_global(current_user, "current_user")


@bp.errorhandler(HTTPException)
def _error_page(exc: HTTPException) -> tuple[str, int]:
    """Show dashboard errors as a page in the dashboard's frame."""
    status = exc.code or 500
    return render_template("dashboard/error.html", exc=exc, status=status), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | str | tuple[str, int]:
    """Show the login form; check the credentials it posts."""
    config = get_config()
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(target)
        return render_template("dashboard/login.html", next=target, error=None)
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    address = request.remote_addr
    keys = (f"addr:{address}", f"user:{username.strip().lower()[:128]}")
    throttle = login_throttle()
    wait = throttle.retry_after(*keys)
    if wait:
        message = f"Too many failed logins. Try again in {wait} seconds."
        page = render_template("dashboard/login.html", next=target, error=message)
        response = Response(page, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    # Compare both, always: the answer's timing must not tell which one was wrong.
    user_ok = secrets_equal(username, config.admin_user)
    password_ok = secrets_equal(password, config.admin_password)
    if not (user_ok and password_ok and config.admin_user and config.admin_password):
        throttle.failed(*keys)
        current_app.logger.warning("failed dashboard login from %s", address)
        message = "Wrong username or password."
        return render_template("dashboard/login.html", next=target, error=message), 401
    throttle.succeeded(*keys)
    session.clear()  # no fixation: nothing from before the login survives
    session["user"] = config.admin_user
    session["login_at"] = int(time.time())
    session["fp"] = _fingerprint(config)
    rotate_csrf_token()
    return redirect(target, code=303)


@bp.post("/logout")
def logout() -> BaseResponse:
    """Forget the session and go back to the login page."""
    session.clear()
    return redirect(url_for("dashboard.login"), code=303)
