"""Error answers: JSON `{"error", "message"}` on machine paths, an HTML page elsewhere."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template_string, request
from werkzeug.exceptions import HTTPException, InternalServerError

from app.metrics import INGEST_REFUSED

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/events", "/webhooks/", "/healthz", "/readyz", "/metrics")


class APIError(Exception):
    """An error answer with a stable machine code and a human message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def wants_json() -> bool:
    """Say whether this request is on a path that answers JSON."""
    path = request.path
    if path == "/events" or path.startswith("/events/"):
        # GET /events and /events/<id> are dashboard pages; other methods on /events are ingest.
        return path == "/events" and request.method not in ("GET", "HEAD")
    return path.startswith(JSON_PREFIXES)


def json_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """Build a JSON error response."""
    response = jsonify(error=code, message=message)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ status }} · Lifeguard</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3rem auto; max-width: 40rem">
<h1>{{ status }} {{ title }}</h1><p>{{ message }}</p><p><a href="/">Back to the overview</a></p>
</body></html>"""


def _code_for(exc: HTTPException) -> str:
    name = (exc.name or "error").lower().replace(" ", "_").replace("'", "")
    return name


def init_error_handlers(app: Flask) -> None:
    """Register the handlers that shape every error answer."""

    @app.errorhandler(APIError)
    def _api_error(exc: APIError) -> Response:
        return json_error(exc.status, exc.code, exc.message, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | tuple[str, int]:
        status = exc.code or 500
        if wants_json():
            message = exc.description or exc.name
            if status == 413:
                message = "The request body is larger than this endpoint accepts."
            if request.blueprint == "ingest":
                INGEST_REFUSED.labels(_code_for(exc)).inc()
            return json_error(status, _code_for(exc), message)
        page = render_template_string(_PAGE, status=status, title=exc.name, message=exc.description)
        return page, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | tuple[str, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if request.blueprint == "ingest":
            INGEST_REFUSED.labels("internal_error").inc()
        if wants_json():
            return json_error(500, "internal_error", "Something went wrong on our side.")
        return _http_error(InternalServerError())
