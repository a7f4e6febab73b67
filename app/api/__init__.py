"""The JSON API under /api/v1: bearer `API_TOKEN` (admin) or a user's own token (their role)."""

from __future__ import annotations

from flask import Blueprint, g, request

from app.audit import DENIED, audit_alone
from app.errors import APIError
from app.security import bearer_token, secrets_equal
from app.services import get_services
from app.users import ADMIN, CONTROL_ROLES, Actor, may_control
from app.web import get_config

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _require_token() -> None:
    """Refuse every API request that does not carry the API token or a user's token."""
    expected = get_config().api_token
    users = get_services().users
    if not expected and not users.users():
        raise APIError(
            401, "api_not_configured", "API_TOKEN is not set: the API refuses every request."
        )
    presented = bearer_token(request.headers.get("Authorization"))
    if presented is None:
        raise APIError(401, "missing_token", "Send Authorization: Bearer <API_TOKEN>.")
    if secrets_equal(presented, expected):
        g.api_actor = Actor("api", ADMIN, "api", request.remote_addr)
        return
    user = users.by_token(presented)
    if user is None:
        raise APIError(401, "bad_token", "The API token is not valid.")
    g.api_actor = Actor(user.name, user.role, "api", request.remote_addr)


def api_actor() -> Actor:
    """Return who this API request acts for."""
    actor: Actor = g.api_actor
    return actor


def require_control(control: str, target: str | None = None) -> Actor:
    """Return the actor when their role allows `control`; else record the denial and 403."""
    actor = api_actor()
    if not may_control(actor.role, control):
        audit_alone(get_services().session_factory, actor, control, target, outcome=DENIED)
        raise APIError(
            403,
            "forbidden",
            f"Your role ({actor.role}) may not do this; it needs {CONTROL_ROLES[control]}.",
        )
    return actor


def request_reason() -> str:
    """Return the `reason` of a JSON body, or ''."""
    body = request.get_json(silent=True)
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason.strip() if isinstance(reason, str) else ""


from app.api import (  # noqa: E402, F401  (routes register on bp)
    actions,
    audit_log,
    controls,
    events,
    explanations,
    holds,
    openapi,
    rules,
    servers,
    silences,
)
