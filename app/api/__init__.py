"""The JSON API under /api/v1, bearer `API_TOKEN`."""

from __future__ import annotations

from flask import Blueprint, request

from app.errors import APIError
from app.security import bearer_token, secrets_equal
from app.web import get_config

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _require_token() -> None:
    """Refuse every API request that does not carry the API token."""
    expected = get_config().api_token
    if not expected:
        raise APIError(
            401, "api_not_configured", "API_TOKEN is not set: the API refuses every request."
        )
    presented = bearer_token(request.headers.get("Authorization"))
    if presented is None:
        raise APIError(401, "missing_token", "Send Authorization: Bearer <API_TOKEN>.")
    if not secrets_equal(presented, expected):
        raise APIError(401, "bad_token", "The API token is not valid.")


from app.api import (  # noqa: E402, F401  (routes register on bp)
    actions,
    events,
    explanations,
    holds,
    openapi,
    rules,
    servers,
)
