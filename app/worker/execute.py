"""Perform one claimed job: a Scalr call, a webhook or an e-mail. No database writes here."""

from __future__ import annotations

import json
import logging
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import requests

from app.config import Config
from app.scalr.client import ScalrClient
from app.scalr.errors import (
    ScalrAPIError,
    ScalrConfigError,
    ScalrError,
    ScalrRateLimited,
    ScalrTransportError,
)

log = logging.getLogger(__name__)

# Server states that count toward a farm role's minimum (scalr-protocol.md 4, Status strings).
LIVE_STATES = {"Pending launch", "Pending", "Initializing", "Running"}


@dataclass
class Outcome:
    """How one attempt ended; the recorder turns it into the job's next status."""

    kind: str  # succeeded | retry | dead | skipped
    result: dict[str, Any] | None = None
    transaction_id: str | None = None
    error: str | None = None
    reason: str | None = None
    retry_after: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobView:
    """What the executor needs of a job, detached from the database session."""

    id: int
    kind: str
    action: str
    environment: str | None
    params: dict[str, Any]
    spec: dict[str, Any]
    farm_id: int | None


ClientFactory = Callable[[str], ScalrClient]


class ClientCache:
    """One Scalr client per environment name for the life of a worker."""

    def __init__(self, build: ClientFactory) -> None:
        self._build = build
        self._clients: dict[str, ScalrClient] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> ScalrClient:
        """Return the client of environment `name`, building it once."""
        with self._lock:
            if name not in self._clients:
                self._clients[name] = self._build(name)
            return self._clients[name]

    def close(self) -> None:
        """Close every client's HTTP session."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def scalr_failure(exc: ScalrError, retry_on_error: bool) -> Outcome:
    """Classify a Scalr error: retry transport trouble and rate limits; an <Error> ends the job."""
    text = f"{type(exc).__name__}: {exc.message}"
    if isinstance(exc, ScalrRateLimited):
        return Outcome("retry", error=text, retry_after=exc.retry_after_seconds)
    if isinstance(exc, ScalrAPIError):
        kind = "retry" if retry_on_error else "dead"
        return Outcome(kind, error=text, transaction_id=exc.transaction_id)
    if isinstance(exc, ScalrTransportError) and exc.retryable:
        return Outcome("retry", error=text)
    return Outcome("dead", error=text)


def check_min_instances(client: ScalrClient, farm_id: int, farm_role_id: int) -> Outcome | None:
    """Skip a launch when the farm role already has its minimum of live servers."""
    details = client.farm_get_details(farm_id)
    for role in details.get("FarmRoleSet") or []:
        if str(role.get("ID")) != str(farm_role_id):
            continue
        scaling = role.get("ScalingProperties") or {}
        minimum = int(scaling.get("MinInstances") or 0)
        servers = role.get("ServerSet") or []
        live = [s for s in servers if (s or {}).get("Status") in LIVE_STATES]
        if len(live) >= minimum:
            return Outcome(
                "skipped",
                reason=(
                    f"guard below_min_instances: farm role {farm_role_id} already has "
                    f"{len(live)} running or pending servers (min {minimum}); Scalr is replacing it"
                ),
                transaction_id=details.transaction_id,
            )
        return None
    return Outcome(
        "dead",
        error=f"guard below_min_instances: farm role {farm_role_id} is not in farm {farm_id}",
    )


def run_scalr(job: JobView, clients: ClientCache) -> Outcome:
    """Call Scalr for a job, after its guard."""
    spec = job.spec
    retry_on_error = bool(spec.get("retry_on_error"))
    try:
        client = clients.get(job.environment or "default")
        if spec.get("guard") == "below_min_instances":
            farm_role_id = str(job.params.get("FarmRoleID") or "")
            if job.farm_id is None or not farm_role_id.isdigit():
                return Outcome(
                    "skipped",
                    reason="guard below_min_instances needs the event's farm_id and a FarmRoleID",
                )
            skip = check_min_instances(client, job.farm_id, int(farm_role_id))
            if skip is not None:
                return skip
        answer = client.call(job.action, **job.params)
    except ScalrConfigError as exc:
        return Outcome("dead", error=f"configuration: {exc}")
    except ScalrError as exc:
        return scalr_failure(exc, retry_on_error)
    return Outcome("succeeded", result=dict(answer.data), transaction_id=answer.transaction_id)


def url_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """Say whether `url` starts with one of the configured allowed prefixes."""
    return any(url.startswith(prefix) for prefix in allowed)


def run_webhook(job: JobView, config: Config, http: requests.Session) -> Outcome:
    """POST (or other method) a rendered webhook; 5xx, 429 and network trouble retry."""
    params = job.params
    url = str(params.get("url", ""))
    if not url_allowed(url, config.webhook_allowed_urls):
        return Outcome("dead", error=f"WEBHOOK_ALLOWED_URLS does not allow {url[:200]!r}")
    headers = {str(k): str(v) for k, v in (params.get("headers") or {}).items()}
    body: Any = params.get("body")
    if "json" in params:
        body = json.dumps(params["json"])
        headers.setdefault("Content-Type", "application/json")
    try:
        with http.request(
            str(params.get("method", "POST")),
            url,
            data=body,
            headers=headers,
            timeout=float(params.get("timeout", 10)),
            allow_redirects=False,
        ) as answer:
            status = answer.status_code
            text = answer.text[:2000]
    except requests.RequestException as exc:
        return Outcome("retry", error=f"{type(exc).__name__} sending webhook")
    result = {"status": status, "body": text}
    if 200 <= status < 300:
        return Outcome("succeeded", result=result)
    if status == 429 or status >= 500:
        return Outcome("retry", result=result, error=f"webhook answered HTTP {status}")
    return Outcome("dead", result=result, error=f"webhook answered HTTP {status}")


def run_email(job: JobView, config: Config) -> Outcome:
    """Send an e-mail through the configured SMTP server."""
    message = EmailMessage()
    message["From"] = config.smtp_from
    message["To"] = ", ".join(job.params.get("to") or [])
    message["Subject"] = str(job.params.get("subject", ""))[:998].replace("\n", " ")
    message.set_content(str(job.params.get("body", "")))
    try:
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=10) as smtp:
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        return Outcome("dead", error=f"every recipient refused: {sorted(exc.recipients)}")
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome("retry", error=f"{type(exc).__name__} sending e-mail")
    return Outcome("succeeded", result={"refused": sorted(refused)})


def perform(job: JobView, config: Config, clients: ClientCache, http: requests.Session) -> Outcome:
    """Run `job` and classify how it ended; never raises for an action's failure."""
    try:
        if job.kind == "scalr":
            return run_scalr(job, clients)
        if job.kind == "webhook":
            return run_webhook(job, config, http)
        if job.kind == "email":
            return run_email(job, config)
        return Outcome("dead", error=f"unknown action kind {job.kind!r}")
    except Exception as exc:  # a bug must end the job visibly, not kill the worker
        log.exception("job %s crashed", job.id)
        return Outcome("dead", error=f"internal error: {type(exc).__name__}")
