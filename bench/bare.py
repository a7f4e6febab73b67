"""The baseline: a bare Flask app that answers 202 to every delivery, storing nothing.

Served by gunicorn under the project's own gunicorn.conf.py, so the figure is the
framework's limit under the same settings: `gunicorn -c gunicorn.conf.py bench.bare:app`.
"""

from __future__ import annotations

from flask import Flask, request

app = Flask(__name__)


@app.post("/events")
def events() -> tuple[str, int]:
    """Read the form body like a real handler would, then answer 202."""
    request.form.get("event")
    return "", 202


@app.get("/healthz")
def healthz() -> str:
    """Say the server is up."""
    return "ok"
