"""The Scalr Query API 2.x client: sign, send, read the answer, raise typed errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

import requests
from sqlalchemy.orm import Session, sessionmaker

from app.db import utcnow
from app.metrics import SCALR_CALLS, SCALR_SECONDS
from app.redaction import install_on, redact
from app.scalr.actions import ACTIONS, COMMON_PARAMS, FLAG_PARAMS, version_tuple
from app.scalr.environments import ScalrEnvironment, ScalrEnvironments
from app.scalr.errors import (
    ScalrActionNotSupported,
    ScalrError,
    ScalrLaunchFailed,
    ScalrTransportError,
)
from app.scalr.ratelimit import DatabaseRateLimiter, RateLimiter, seconds_to_next_window
from app.scalr.responses import ScalrResponse, parse_response
from app.scalr.signing import format_timestamp, signed_params
from app.scalr.typed import TypedActionsMixin

log = logging.getLogger(__name__)

_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"0", "false", "no", "off", ""}


# urllib3 logs request lines at DEBUG, and a GET carries the Signature in its URL.
install_on("urllib3.connectionpool")


def encode_flag(name: str, value: Any) -> str:
    """Return "1" or "0" for a flag; PHP reads the string "false" as true (protocol 4)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int) and value in (0, 1):
        return str(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS:
        return "1"
    if isinstance(value, str) and value.strip().lower() in _FALSE_WORDS:
        return "0"
    raise ScalrActionNotSupported(f"parameter {name} is a flag; give true/false or 1/0")


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | int | float):
        return str(value)
    raise ScalrActionNotSupported(f"parameter {name} has an unsupported type {type(value)!r}")


def encode_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten action parameters for the wire: flags as 1/0, dicts as Name[key]=value."""
    fields: list[tuple[str, str]] = []
    for name, value in params.items():
        if name in COMMON_PARAMS:
            raise ScalrActionNotSupported(f"parameter {name} is set by the client itself")
        if value is None:
            continue
        if name in FLAG_PARAMS:
            fields.append((name, encode_flag(name, value)))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                fields.append((f"{name}[{key}]", _scalar(f"{name}[{key}]", item)))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                fields.append((f"{name}[{index}]", _scalar(f"{name}[{index}]", item)))
        else:
            fields.append((name, _scalar(name, value)))
    return fields


class ScalrClient(TypedActionsMixin):
    """Call one Scalr environment's Query API; thread-safe if the session is."""

    def __init__(
        self,
        environment: ScalrEnvironment,
        session: requests.Session | None = None,
        rate_limiter: RateLimiter | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.environment = environment
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()
        self.rate_limiter = rate_limiter
        self.clock = clock

    def __repr__(self) -> str:
        return f"ScalrClient({self.environment!r})"

    def close(self) -> None:
        """Close the HTTP session if this client opened it."""
        if self._own_session:
            self.session.close()

    def __enter__(self) -> ScalrClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def check_action(self, action: str) -> None:
        """Refuse an action this client must not send, before anything goes out."""
        needed = ACTIONS.get(action)
        if needed is None:
            raise ScalrActionNotSupported(
                f"{action!r} is not an action of the Scalr Query API 2.x", action=action
            )
        version = self.environment.version
        if version_tuple(version) < version_tuple(needed):
            raise ScalrActionNotSupported(
                f"{action} needs API Version {needed} or newer; environment "
                f"{self.environment.name!r} is configured for {version}",
                action=action,
            )

    def call(self, action: str, /, *, method: str = "POST", **params: Any) -> ScalrResponse:
        """Perform one action and return the parsed answer; raise a ScalrError otherwise."""
        self.check_action(action)
        method = method.upper()
        if method not in ("GET", "POST"):
            raise ScalrActionNotSupported(f"method must be GET or POST, not {method}")
        fields = encode_params(params)
        started = time.monotonic()
        outcome = "ok"
        sent = False  # whether a request was put on the wire (or tried to be)
        transaction_id: str | None = None
        try:
            if self.rate_limiter is not None:
                self.rate_limiter.reserve(self.environment, action=action)
            wire = self._sign(action, fields)
            sent = True
            response = self._send(action, method, wire)
            transaction_id = response.transaction_id
            if action == "ServerLaunch" and not response.get("ServerID"):
                raise ScalrLaunchFailed(
                    "ServerLaunch answered an empty ServerID: Scalr could not launch the "
                    "server in the cloud (see the farm's logs at Scalr)",
                    transaction_id=transaction_id,
                    action=action,
                )
            return response
        except ScalrError as exc:
            outcome = type(exc).__name__
            transaction_id = getattr(exc, "transaction_id", transaction_id)
            raise
        except BaseException as exc:
            # Not an answer of Scalr's: the database behind the rate limit, a bug, a signal.
            outcome = f"error:{type(exc).__name__}"
            raise
        finally:
            if sent:
                SCALR_CALLS.labels(action, outcome).inc()
                SCALR_SECONDS.labels(action).observe(time.monotonic() - started)
            log.info(
                "scalr call %s env=%s method=%s outcome=%s sent=%s duration=%.3fs "
                "transaction_id=%s",
                action,
                self.environment.name,
                method,
                outcome,
                "yes" if sent else "no",
                time.monotonic() - started,
                transaction_id,
            )

    def _sign(self, action: str, fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
        env = self.environment
        return signed_params(
            action=action,
            version=env.version,
            key_id=env.key_id,
            secret_key=env.secret_key,
            timestamp=format_timestamp(self.clock()),
            env_id=env.env_id,
            params=fields,
        )

    def _send(self, action: str, method: str, wire: list[tuple[str, str]]) -> ScalrResponse:
        env = self.environment
        signature = wire[-1][1]
        timeout = (env.timeout_seconds, env.timeout_seconds)
        try:
            if method == "GET":
                answer = self.session.get(env.api_url, params=wire, timeout=timeout, stream=True)
            else:
                answer = self.session.post(env.api_url, data=wire, timeout=timeout, stream=True)
            with answer:
                status, body = answer.status_code, read_capped(answer, action, env.timeout_seconds)
        except requests.Timeout:
            raise ScalrTransportError(
                f"no answer from Scalr within {env.timeout_seconds:g}s", action=action
            ) from None
        except requests.RequestException as exc:
            # requests puts the whole URL, Signature included, into its messages.
            detail = redact(str(exc), signature, quote_plus(signature), env.secret_key)
            raise ScalrTransportError(
                f"{type(exc).__name__} calling Scalr: {detail}", action=action
            ) from None
        return parse_response(
            status,
            body,
            action=action,
            version=env.version,
            retry_after_seconds=seconds_to_next_window(self.clock()),
        )


# The most of an answer read into memory. FarmGetDetails of a large farm is the longest
# answer of the Query API and stays far below this; past it the answer is refused unread.
MAX_ANSWER_BYTES = 16 * 1024 * 1024


def read_capped(
    answer: requests.Response, action: str, seconds: float, limit: int | None = None
) -> bytes:
    """Read an answer's body, refusing one past `limit` bytes or `seconds` of reading.

    A broken or hostile endpoint must not fill the worker's memory, nor hold it with a
    body that trickles in one byte at a time (the read timeout is per read).
    """
    limit = MAX_ANSWER_BYTES if limit is None else limit
    declared = answer.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ScalrTransportError(
            f"Scalr's answer is {int(declared):,} bytes, more than the {limit:,} read",
            action=action,
            status_code=answer.status_code,
            retryable=False,
        )
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    for chunk in answer.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > limit:
            raise ScalrTransportError(
                f"Scalr's answer is more than the {limit:,} bytes read",
                action=action,
                status_code=answer.status_code,
                retryable=False,
            )
        if time.monotonic() > deadline:
            raise requests.Timeout(f"reading the answer took more than {seconds:g}s")
        chunks.append(chunk)
    return b"".join(chunks)


def build_client(
    name: str,
    environments: ScalrEnvironments | Mapping[str, str],
    session_factory: sessionmaker[Session] | None = None,
    *,
    session: requests.Session | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> ScalrClient:
    """Build a client for a named environment, rate-limited in the database given a factory.

    Give the environments read at start; a raw process environment is read here, once per call.
    """
    env = ScalrEnvironments.of(environments).get(name)
    limiter = DatabaseRateLimiter(session_factory, clock) if session_factory else None
    return ScalrClient(env, session=session, rate_limiter=limiter, clock=clock)
