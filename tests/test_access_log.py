"""The token Scalr puts in the callback URL never reaches a log line."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import requests

from app import migrate
from app.redaction import RedactingFilter, redact
from tests.processes import gunicorn

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sekr1t-ingest-token-xyz"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redact_handles_every_shape():
    assert SECRET not in redact(f"POST /events?token={SECRET}&farm_id=1 HTTP/1.1")
    assert SECRET not in redact(f"/events?farm_id=1&TOKEN={SECRET}")
    assert SECRET not in redact(f"Authorization: Bearer {SECRET}")
    assert "farm_id=1" in redact(f"/events?token={SECRET}&farm_id=1")
    assert redact("Signature=abc%2B%3D&x=1") == "Signature=[redacted]&x=1"


def test_filter_redacts_formatted_records():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "url %s", (f"/e?token={SECRET}",), None
    )
    RedactingFilter().filter(record)
    assert SECRET not in record.getMessage()


def test_gunicorn_access_log_redacts_token(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'gunicorn.db'}"
    migrate.upgrade(db_url)
    log_file = tmp_path / "gunicorn.log"
    settings = {"DATABASE_URL": db_url, "INGEST_TOKEN": SECRET, "WEB_CONCURRENCY": "1"}
    with gunicorn(log_file, LIFEGUARD_INSTANCE_PATH=str(tmp_path), **settings) as base:
        answer = requests.post(
            f"{base}/events?farm_id=1439&token={SECRET}",
            data="event=OnHostUp&message=m",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=5,
        )
        assert answer.status_code == 202
        bad = requests.post(f"{base}/events?token=wrong-{SECRET}", timeout=5)
        assert bad.status_code == 401
    text = log_file.read_text()
    assert "POST /events?farm_id=1439&token=[redacted]" in text
    assert SECRET not in text
