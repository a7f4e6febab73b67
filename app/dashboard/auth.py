"""Login, logout and the gate in front of every dashboard page."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from app.audit import DENIED, REFUSED, audit_alone
from app.config import Config
from app.dashboard import bp
from app.dashboard.csrf import check_csrf, csrf_token, rotate_csrf_token
from app.dashboard.throttle import LoginThrottle
from app.security import secrets_equal
from app.services import get_services
from app.users import ADMIN, CONTROL_ROLES, VIEWER, Actor, UsersStore, may_control
from app.web import get_config

PUBLIC_ENDPOINTS = frozenset({"dashboard.login", "dashboard.logout"})
SESSION_MAX_AGE = 12 * 3600
DEMO_USER = "demo"


def _admin_set(config: Config) -> bool:
    return bool(config.admin_user and config.admin_password)


def configured(config: Config) -> bool:
    """Say whether the dashboard may be used: an admin, users in USERS_FILE, or demo mode."""
    return _admin_set(config) or bool(users_store().users()) or config.demo_mode


def users_store() -> UsersStore:
    """Return the people of USERS_FILE."""
    return get_services().users


def _account(config: Config, name: str) -> tuple[str, str] | None:
    """Return the role of `name` and the secret its session is tied to, if it may log in."""
    if _admin_set(config) and name == config.admin_user:
        return ADMIN, str(config.admin_password)
    user = users_store().get(name)
    if user is not None and user.password_hash:
        return user.role, user.password_hash
    return None


def _fingerprint(name: str, secret: str) -> str:
    """Tie a session to the account's secret: a new password or hash logs that person out."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    material = f"{name}\0{secret}".encode()
    return hmac.new(key, material, hashlib.sha256).hexdigest()[:32]


def _identity() -> tuple[str, str] | None:
    """Return (name, role) of this request's logged-in person, or None; cached per request."""
    if "dashboard_identity" in g:
        cached: tuple[str, str] | None = g.dashboard_identity
        return cached
    g.dashboard_identity = _read_identity()
    return _identity()


def _read_identity() -> tuple[str, str] | None:
    config = get_config()
    if not _admin_set(config) and not users_store().users():
        return (DEMO_USER, ADMIN) if config.demo_mode else None
    user = session.get("user")
    login_at = session.get("login_at")
    if not isinstance(user, str) or not isinstance(login_at, int | float):
        return None
    account = _account(config, user)
    if account is None or time.time() - login_at > SESSION_MAX_AGE:
        return None
    fingerprint = session.get("fp")
    if not isinstance(fingerprint, str):
        return None
    if not secrets_equal(fingerprint, _fingerprint(user, account[1])):
        return None
    return user, account[0]


def current_user() -> str | None:
    """Return the logged-in user of this request, or None."""
    identity = _identity()
    return identity[0] if identity else None


def current_role() -> str | None:
    """Return the role of this request's person, or None."""
    identity = _identity()
    return identity[1] if identity else None


def current_actor() -> Actor:
    """Return this request's person as an audit actor."""
    identity = _identity() or ("unknown", VIEWER)
    return Actor(identity[0], identity[1], "dashboard", request.remote_addr)


def who() -> str:
    """Name the person acting, for the job and rule audit fields."""
    return current_actor().label


def can(control: str) -> bool:
    """Say whether this request's person may use `control` (templates hide what they may not)."""
    return may_control(current_role(), control)


def require_control(control: str, target: str | None = None) -> Actor:
    """Return the actor when their role allows `control`; else record the denial and 403."""
    actor = current_actor()
    if not may_control(actor.role, control):
        audit_alone(get_services().session_factory, actor, control, target, outcome=DENIED)
        abort(403, f"Your role ({actor.role}) may not do this; it needs {CONTROL_ROLES[control]}.")
    return actor


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
bp.add_app_template_global(current_role, "current_role")
bp.add_app_template_global(can, "can")


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
    role = _check_login(config, username, password)
    name = username[:128]
    if role is None:
        throttle.failed(*keys)
        current_app.logger.warning("failed dashboard login from %s", address)
        audit_alone(
            get_services().session_factory,
            Actor(name or "(empty)", VIEWER, "dashboard", address),
            "login",
            outcome=REFUSED,
            reason="wrong username or password",
        )
        message = "Wrong username or password."
        return render_template("dashboard/login.html", next=target, error=message), 401
    throttle.succeeded(*keys)
    account = _account(config, username)
    assert account is not None
    session.clear()  # no fixation: nothing from before the login survives
    session["user"] = username
    session["login_at"] = int(time.time())
    session["fp"] = _fingerprint(username, account[1])
    audit_alone(get_services().session_factory, Actor(name, role, "dashboard", address), "login")
    rotate_csrf_token()
    return redirect(target, code=303)


def _check_login(config: Config, username: str, password: str) -> str | None:
    """Return the role of a good username and password, or None.

    The users file's hash check runs for every attempt, and both admin
    comparisons too: the answer's timing must not tell which part was wrong.
    """
    user = users_store().check_password(username, password)
    admin_name_ok = secrets_equal(username, config.admin_user)
    admin_password_ok = secrets_equal(password, config.admin_password)
    if _admin_set(config) and admin_name_ok and admin_password_ok:
        return ADMIN
    if user is not None and not (_admin_set(config) and username == config.admin_user):
        return user.role
    return None


@bp.post("/logout")
def logout() -> BaseResponse:
    """Forget the session and go back to the login page."""
    session.clear()
    return redirect(url_for("dashboard.login"), code=303)
