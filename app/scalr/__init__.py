"""Scalr Query API client: signing, XML, errors, rate limit (no Flask imports)."""

from app.scalr.client import ScalrClient, build_client
from app.scalr.environments import ScalrEnvironment, ScalrEnvironments, load_environments
from app.scalr.errors import (
    ScalrActionNotSupported,
    ScalrAPIError,
    ScalrConfigError,
    ScalrError,
    ScalrLaunchFailed,
    ScalrRateLimited,
    ScalrTransportError,
    ScalrVersionError,
)
from app.scalr.ratelimit import DatabaseRateLimiter
from app.scalr.responses import ScalrResponse

__all__ = [
    "DatabaseRateLimiter",
    "ScalrAPIError",
    "ScalrActionNotSupported",
    "ScalrClient",
    "ScalrConfigError",
    "ScalrEnvironment",
    "ScalrEnvironments",
    "ScalrError",
    "ScalrLaunchFailed",
    "ScalrRateLimited",
    "ScalrResponse",
    "ScalrTransportError",
    "ScalrVersionError",
    "build_client",
    "load_environments",
]
