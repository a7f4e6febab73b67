"""Logs: text or JSON lines, a request id on each, secrets redacted, one id from ingest to jobs."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import requests

from app import migrate
from app.logging_setup import ContextFilter, JsonFormatter, bound, first_line, new_request_id
from app.redaction import RedactingFilter
from tests.conftest import INGEST_TOKEN
from tests.processes import gunicorn
from tests.stack import make_stack

__all__ = ["make_stack"]  # a fixture

ROOT = Path(__file__).resolve().parent.parent


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger(f"test.logging.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, stream


def test_json_lines_carry_the_bound_context_and_no_secret():
    logger, stream = capture(JsonFormatter())
    with bound(request_id="req-1", event_id=7), bound(job_id=42):
        logger.info("called /api?token=%s", "s3cret-value")
    logger.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "req-1" and first["event_id"] == 7 and first["job_id"] == 42
    assert first["level"] == "INFO" and "s3cret-value" not in first["message"]
    assert "request_id" not in second


def test_text_lines_show_the_context_as_a_suffix():
    logger, stream = capture(logging.Formatter("%(message)s%(context)s"))
    with bound(request_id="abc"):
        logger.info("hello")
    assert stream.getvalue().strip() == "hello [request_id=abc]"


def test_request_ids_are_kept_when_sane_and_made_otherwise():
    assert new_request_id("edge-7f3a.1") == "edge-7f3a.1"
    for hostile in ("", "a" * 65, "bad id", "x\r\nSet-Cookie: a=b", None):
        made = new_request_id(hostile)
        assert made != hostile and len(made) == 32


def test_every_answer_carries_its_request_id(client):
    echoed = client.get("/healthz", headers={"X-Request-ID": "from-proxy-1"})
    assert echoed.headers["X-Request-ID"] == "from-proxy-1"
    made = client.post(f"/events?token={INGEST_TOKEN}", data={"event": "HostUp", "message": "m"})
    assert made.status_code == 202 and len(made.headers["X-Request-ID"]) == 32
    refused = client.post("/events?token=nope", data={"event": "HostUp"})
    assert refused.status_code == 401 and refused.headers["X-Request-ID"]


def test_gunicorn_writes_json_access_lines_without_the_token(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'logs.db'}"
    migrate.upgrade(db_url)
    log_file = tmp_path / "gunicorn.log"
    settings = {"DATABASE_URL": db_url, "INGEST_TOKEN": INGEST_TOKEN, "LOG_FORMAT": "json"}
    with gunicorn(log_file, LIFEGUARD_INSTANCE_PATH=str(tmp_path), **settings) as base:
        answer = requests.post(
            f"{base}/events?farm_id=1439&token={INGEST_TOKEN}",
            data={"event": "OnHostUp", "message": "m"},
            headers={"X-Request-ID": "trace-me-1"},
            timeout=5,
        )
        assert answer.status_code == 202
    text = log_file.read_text()
    assert INGEST_TOKEN not in text
    access = [
        json.loads(line)
        for line in text.splitlines()
        if line.startswith("{") and '"gunicorn.access"' in line
    ]
    [posted] = [a for a in access if a["method"] == "POST"]
    assert posted["path"] == "/events" and posted["status"] == "202"
    assert posted["request_id"] == "trace-me-1"
    assert "token=[redacted]" in posted["query"]


HELLO = """
rules:
  - name: say-hello
    events: [HostDown]
    actions:
      - scalr: Hello
        params: {Marker: "{{ event.id }}"}
"""


def test_one_request_id_follows_an_event_into_its_job_and_scalr_call(make_stack):
    stack = make_stack(HELLO)
    answer = requests.post(
        stack.web.events_url,
        data={"event": "OnHostDown", "message": "m"},
        headers={"X-Request-ID": "trace-42"},
        timeout=5,
    )
    assert answer.status_code == 202 and answer.headers["X-Request-ID"] == "trace-42"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        stack.drain(until=lambda: [j.status for j in stack.jobs()] == ["succeeded"])
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    scalr = [line for line in lines if line["logger"] == "app.scalr.client"]
    assert scalr and scalr[0]["request_id"] == "trace-42"
    assert scalr[0]["job_id"] == stack.jobs()[0].id and "transaction_id=" in scalr[0]["message"]


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("connection refused\nDETAIL: a page of context", "connection refused"),
        ("x" * 500, "x" * 200),
        ("", ""),  # no message: nothing, not an IndexError
        ("  \n ", ""),
    ],
)
def test_first_line_shows_one_bounded_line_of_an_error(message, shown):
    assert first_line(RuntimeError(message)) == shown
