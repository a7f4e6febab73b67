"""After a whole scenario on the real stack (web, worker, Scalr simulator), no secret is
anywhere a person or another system could read it: the logs, any table, any page, any
API answer.

Secrets: the ingest token, the API token, the Scalr secret key, every Query API
Signature the worker sent (recorded as they are made), the webhook key and the
dashboard password.
"""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote, quote_plus

import requests
from sqlalchemy import select

import app.scalr.signing as signing
from app.db import Base
from app.models.event import Event
from app.models.job import ActionJob
from app.redaction import RedactingFilter
from tests.conftest import API_TOKEN, INGEST_TOKEN, WEBHOOK_KEY
from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.factories import sign_webhook
from tests.scalr.conftest import SECRET_KEY

SID = "5bbd72c5-908c-4535-a7ec-2fbf56486ff3"
RULES = """\
rules:
  - name: replace-web
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}", IncreaseMaxInstances: 0}
      - webhook: "{{ event.data.SCALR_HOOK | default('http://127.0.0.1:9/hooks') }}"
        body: {text: "down {{ event.server_id }}"}
"""


def variants(secret: str) -> list[str]:
    return [secret, quote_plus(secret), quote(secret, safe="")]


def test_no_secret_in_logs_tables_pages_or_api(make_stack, monkeypatch):
    signatures: list[str] = []
    real_sign = signing.sign_v3

    def recording_sign(*args: str) -> str:
        signature = real_sign(*args)
        signatures.append(signature)
        return signature

    monkeypatch.setattr(signing, "sign_v3", recording_sign)
    # What a deployment's log shows: the root handler's redacting filter, at INFO.
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        stack = make_stack(
            RULES,
            api_token=API_TOKEN,
            scalr_webhook_key=WEBHOOK_KEY,
            admin_user=ADMIN_USER,
            admin_password=ADMIN_PASSWORD,
        )
        base = f"http://127.0.0.1:{stack.web.port}"
        message = f"Instance {SID} (54.211.17.89) Internal IP: 10.183.42.7 terminated"
        sent = [
            requests.post(
                f"{stack.web.events_url}&farm_role_id=1978",
                data={"event": "OnHostDown", "message": message},
                timeout=5,
            ),
            requests.post(
                f"{base}/events",
                data={"event": "OnHostUp", "message": message},
                headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
                timeout=5,
            ),
            # Refused ones, with the token near-miss and in odd places.
            requests.post(
                f"{base}/events?token={INGEST_TOKEN}x", data={"event": "OnHostUp"}, timeout=5
            ),
            requests.post(
                f"{base}/events?token={INGEST_TOKEN}&farm_id=bad", data={"event": "X"}, timeout=5
            ),
        ]
        date = format_datetime(datetime.now(UTC), usegmt=True)
        hook = json.dumps(
            {"eventName": "HostDown", "eventId": "e-1", "data": {"SCALR_SERVER_ID": SID,
             "SCALR_FARM_ROLE_ID": "1978", "MY_PASSWORD": "user-variable-secret"}}
        ).encode()  # fmt: skip
        signature = sign_webhook(WEBHOOK_KEY, hook, date)
        headers = {"Date": date, "X-Signature": signature, "Content-Type": "application/json"}
        sent.append(requests.post(f"{base}/webhooks/scalr", data=hook, headers=headers, timeout=5))
        sent.append(
            requests.post(f"{base}/webhooks/scalr", data=hook + b" ", headers=headers, timeout=5)
        )
        assert [r.status_code for r in sent] == [202, 202, 401, 400, 202, 401], [
            r.text for r in sent
        ]
        stack.drain(
            until=lambda: (jobs := stack.jobs())
            and all(j.status in {"succeeded", "dead"} for j in jobs)
        )
        assert signatures, "the worker called Scalr"

        texts: list[str] = []
        with requests.Session() as browser:
            login = browser.get(f"{base}/login", timeout=5).text
            token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            answer = browser.post(
                f"{base}/login",
                data={"username": ADMIN_USER, "password": ADMIN_PASSWORD, "csrf_token": token},
                timeout=5,
            )
            assert answer.status_code == 200 and "/login" not in answer.url
            with stack.factory() as session:
                event_ids = list(session.scalars(select(Event.id)))
                job_ids = list(session.scalars(select(ActionJob.id)))
            pages = ["/", "/events", "/rules", "/rules/replace-web", "/actions", "/servers",
                     "/health", f"/servers/{SID}", "/metrics", "/healthz", "/readyz"]  # fmt: skip
            pages += [f"/events/{i}" for i in event_ids] + [f"/actions/{i}" for i in job_ids]
            for page in pages:
                response = browser.get(base + page, timeout=10)
                # /readyz is 503 here: the test schema is made by create_all, not migrations.
                assert response.status_code in (200, 503 if page == "/readyz" else 200), page
                texts.append(f"{page}\n{response.headers}\n{response.text}")
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {API_TOKEN}"
        lists = ["events", "actions", "rules", "servers", "audit", "kill-switch", "silences"]
        paths = [f"/api/v1/{name}" for name in lists]
        paths += [f"/api/v1/events/{i}" for i in event_ids] + [
            f"/api/v1/actions/{i}" for i in job_ids
        ]
        for path in paths:
            response = api.get(base + path, timeout=10)
            assert response.status_code in (200, 404), (path, response.status_code)
            texts.append(f"{path}\n{response.text}")
        api.close()

        with stack.factory() as session:
            for table in Base.metadata.sorted_tables:
                for row in session.execute(select(table)):
                    texts.append(f"{table.name}: {row!r}")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    texts.append(captured.getvalue())
    assert "GET /events" in captured.getvalue() or "POST /events" in captured.getvalue()

    secrets = {
        "INGEST_TOKEN": INGEST_TOKEN,
        "API_TOKEN": API_TOKEN,
        "SCALR_SECRET_KEY": SECRET_KEY,
        "SCALR_WEBHOOK_KEY": WEBHOOK_KEY,
        "webhook X-Signature": signature,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "a webhook user variable": "user-variable-secret",
    }
    secrets |= {f"Signature #{n}": value for n, value in enumerate(signatures)}
    leaks = [
        (name, text[max(0, text.find(v) - 120) : text.find(v) + 40])
        for text in texts
        for name, secret in secrets.items()
        for v in variants(secret)
        if v in text
    ]
    assert leaks == []
