"""Deliver event notifications the way Scalr does, from a background sender thread.

Legacy RESTEventObserver (protocol 1.3, 6.1): a form POST, no User-Agent.
Optional 5.x webhooks (2.2 - 2.4): a signed JSON POST. The bodies are built in
`simulator.payloads`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import requests
from requests.structures import CaseInsensitiveDict
from urllib3.util import SKIP_HEADER

from simulator.payloads import legacy_body, webhook_request

log = logging.getLogger(__name__)


@dataclass
class NotifyConfig:
    """Where notifications go: one URL per event name, or a default for every event."""

    urls: dict[str, str] = field(default_factory=dict)
    default_url: str | None = None
    webhook_url: str | None = None
    webhook_key: str | None = field(default=None, repr=False)
    webhook_configuration_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    webhook_endpoint_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def url_for(self, event_name: str) -> str | None:
        """Return the legacy URL configured for an event, if any."""
        return self.urls.get(event_name) or self.default_url


@dataclass
class Delivery:
    """One delivery attempt and how it went."""

    kind: str
    event: str
    url: str
    body: bytes
    status: int | None = None
    error: str | None = None


class Notifier:
    """Queue notifications and send them from one daemon thread, never blocking the API."""

    def __init__(self, config: NotifyConfig | None = None, timeout: float = 10.0) -> None:
        self.config = config or NotifyConfig()
        self.timeout = timeout
        self.deliveries: list[Delivery] = []
        self._queue: queue.Queue[tuple[str, str, str, bytes, dict[str, str]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the sender thread."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="scalr-sim-notifier", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Send what is queued, then stop the sender thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued notification was attempted; say whether it happened."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def emit(self, event_name: str, message: str, data: Mapping[str, str] | None) -> None:
        """Queue the legacy notification and, for server events, the webhook."""
        url = self.config.url_for(event_name)
        if url:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            self._queue.put(("legacy", event_name, url, legacy_body(event_name, message), headers))
        if self.config.webhook_url and self.config.webhook_key and data is not None:
            body, headers = self.webhook_request(event_name, data)
            self._queue.put(("webhook", event_name, self.config.webhook_url, body, headers))

    def record_dropped(self, event_name: str) -> None:
        """Remember a notification an injected fault dropped: never sent, nowhere received."""
        with self._lock:
            self.deliveries.append(
                Delivery(kind="dropped", event=event_name, url="", body=b"", error="dropped")
            )

    def webhook_request(
        self, event_name: str, data: Mapping[str, str], now: float | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Build a signed 5.x webhook body and its headers for the configured endpoint."""
        return webhook_request(
            event_name,
            data,
            key=self.config.webhook_key or "",
            configuration_id=self.config.webhook_configuration_id,
            endpoint_id=self.config.webhook_endpoint_id,
            now=now,
        )

    def _run(self) -> None:
        with requests.Session() as legacy, requests.Session() as webhooks:
            # PHP's curl sends Accept: */* and no User-Agent (protocol 1.3).
            legacy.headers = CaseInsensitiveDict(
                {"Accept": "*/*", "User-Agent": SKIP_HEADER, "Accept-Encoding": SKIP_HEADER}
            )
            while True:
                item = self._queue.get()
                try:
                    if item is None:
                        return
                    kind, event_name, url, body, headers = item
                    session = legacy if kind == "legacy" else webhooks
                    self._send(session, kind, event_name, url, body, headers)
                finally:
                    self._queue.task_done()

    def _send(
        self,
        session: requests.Session,
        kind: str,
        event_name: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
    ) -> None:
        delivery = Delivery(kind=kind, event=event_name, url=url, body=body)
        try:
            with session.post(
                url, data=body, headers=headers, timeout=(5, self.timeout), allow_redirects=False
            ) as response:
                delivery.status = response.status_code
        except requests.RequestException as exc:
            delivery.error = type(exc).__name__
        with self._lock:
            self.deliveries.append(delivery)
        log.info(
            "simulator %s notification %s -> status=%s error=%s",
            kind,
            event_name,
            delivery.status,
            delivery.error,
        )
