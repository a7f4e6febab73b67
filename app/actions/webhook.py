"""The `webhook:` action: an HTTP request to a URL that WEBHOOK_ALLOWED_URLS allows.

Decisions: a mapping or list `body` is sent as JSON, its strings rendered one
by one, so event text cannot break the JSON; a URL that renders to anything
but http(s) fails at render time; redirects are not followed; 5xx, 429 and
network trouble retry, other answers end the job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import SplitResult, unquote, urlsplit

import requests

from app.actions import JobView, Kind, Outcome, Runtime, register
from app.config import Config
from app.rules.checker import Checker
from app.rules.errors import TemplateError
from app.rules.operators import type_name
from app.rules.schema_actions import check_templates
from app.rules.templating import RenderedAction, render_value
from app.rules.yamlsource import child

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class WebhookAction:
    """Send an HTTP request; a mapping or list `body` is sent as JSON."""

    kind: ClassVar[str] = "webhook"
    url: str
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | Mapping[str, Any] | list[Any] | None = None
    timeout: int = 10
    max_attempts: int = 5
    mutating: ClassVar[bool] = False


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _allows(prefix: str, target: SplitResult) -> bool:
    """Say whether one WEBHOOK_ALLOWED_URLS entry admits the split URL `target`.

    Compared part by part, never as text (a text prefix `https://chat.example`
    would admit `https://chat.example.evil.net`, and `http://127.0.0.1:` would
    admit `http://127.0.0.1:@evil.net/`): the scheme and the host must be
    equal; the port too, unless the entry ends in `:` (any port); and the
    path must be the entry's path or lie below it.
    """
    try:
        entry = urlsplit(prefix.strip())
        entry_port = entry.port
    except ValueError:
        return False
    scheme = entry.scheme.lower()
    if scheme != target.scheme.lower():
        return False
    if entry.hostname is not None and entry.hostname.lower() != (target.hostname or ""):
        return False
    if entry.hostname is not None and not entry.netloc.endswith(":"):
        wanted = entry_port or _DEFAULT_PORTS.get(scheme)
        if wanted != (target.port or _DEFAULT_PORTS.get(scheme)):
            return False
    base = entry.path.rstrip("/")
    return not base or target.path == base or target.path.startswith(base + "/")


_SEGMENT_SEPARATORS = re.compile(r"[/\\;]")


def _climbs(path: str) -> bool:
    """Say whether `path` holds a `.` or `..` segment, plain or percent-encoded.

    The HTTP client removes dot segments before sending (`/hooks/../admin` goes out as
    `/admin`), and servers decode `%2e`: such a path would leave the allowed one.
    """
    return any(seg in (".", "..") for seg in _SEGMENT_SEPARATORS.split(unquote(path)))


def url_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """Say whether `url` is an http(s) URL that one of the allowed entries admits."""
    try:
        target = urlsplit(url)
        target.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        return False
    if target.scheme.lower() not in _DEFAULT_PORTS or not target.hostname:
        return False
    if target.username is not None or target.password is not None:
        return False  # credentials in the URL: also the classic way to hide the real host
    if _climbs(target.path):
        return False
    return any(_allows(prefix, target) for prefix in allowed)


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


class WebhookKind(Kind):
    """`webhook: https://...` with `method:`, `headers:`, `body:`, `timeout:`."""

    name = "webhook"
    keys = ("webhook", "method", "headers", "body", "timeout")

    def parse(
        self, check: Checker, mapping: dict[str, Any], path: str, attempts: int
    ) -> WebhookAction | None:
        """Return the webhook at `path`, or None after recording what is wrong with it."""
        url = check.get(mapping, "webhook", path, str, "")
        if url and "{" not in url and not url.startswith(("http://", "https://")):
            check.error(
                child(path, "webhook"), f"URL must start with http:// or https://, got {url!r}"
            )
        method = str(mapping.get("method", "POST")).upper()
        if method not in METHODS:
            check.error(child(path, "method"), f"method must be one of {', '.join(METHODS)}")
        headers = check.get(mapping, "headers", path, dict, {})
        for key, value in headers.items():
            if not isinstance(value, str | int) or isinstance(value, bool):
                check.error(
                    child(child(path, "headers"), key), f"expected a string, got {type_name(value)}"
                )
        headers = {key: str(value) for key, value in headers.items()}
        body = mapping.get("body")
        if body is not None and not isinstance(body, str | dict | list):
            check.error(
                child(path, "body"), f"expected a string, mapping or list, got {type_name(body)}"
            )
            body = None
        timeout = check.duration(mapping, "timeout", path, default=10, maximum=300, minimum=1)
        for key, value in (("webhook", url), ("headers", headers), ("body", body)):
            check_templates(check, value, child(path, key))
        return WebhookAction(url, method, headers, body, timeout, attempts) if url else None

    def render(self, action: WebhookAction, context: Mapping[str, Any]) -> RenderedAction:
        """Render the URL, headers and body; a URL that is not http(s) afterwards is refused."""
        url = render_value(action.url, context, "url")
        if not url.startswith(("http://", "https://")):
            raise TemplateError(f"rendered URL {url[:200]!r} is not http(s)", "url")
        params = {
            "url": url,
            "method": action.method,
            "headers": render_value(dict(action.headers), context, "headers"),
            "timeout": action.timeout,
        }
        if isinstance(action.body, str):
            params["body"] = render_value(action.body, context, "body")
        elif action.body is not None:
            params["json"] = render_value(action.body, context, "body")
        return RenderedAction(
            kind=self.name, action=self.name, params=params, max_attempts=action.max_attempts
        )

    def perform(self, job: JobView, runtime: Runtime) -> Outcome:
        """Send the request through the worker's HTTP session."""
        return run_webhook(job, runtime.config, runtime.http)

    def label(self, action: WebhookAction) -> str:
        """Return `webhook POST https://...`."""
        return f"webhook {action.method} {action.url}"


register(WebhookKind())
