"""The OpenAPI 3.1 description of /api/v1, served without a token at /api/v1/openapi.json.

The description is public on purpose: it holds no data and no secret, and
clients need it before they hold a token. It is registered on the app, not on
the API blueprint, so the blueprint's token check does not apply to it.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.blueprints import BlueprintSetupState

from app.api import bp

JSON = "application/json"
REF_ERROR = {"$ref": "#/components/responses/Error"}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


def _param(name: str, where: str = "query", schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": schema or {"type": "string"},
    }


PAGE = [_param("cursor"), _param("limit", schema={"type": "integer", "minimum": 1, "maximum": 500})]
ERRORS = {"400": REF_ERROR, "401": REF_ERROR, "404": REF_ERROR}


def _get(summary: str, schema: dict[str, Any], params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {"200": _ok(schema), **ERRORS},
        }
    }


def _post(
    summary: str, schema: dict[str, Any], params: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    responses = {"200": _ok(schema), **ERRORS, "403": REF_ERROR, "409": REF_ERROR}
    return {"post": {"summary": summary, "parameters": params, "responses": responses, **extra}}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


EVENT_ID = _param("event_id", "path", {"type": "integer"})
JOB_ID = _param("job_id", "path", {"type": "integer"})
RULE = _param("name", "path")
SERVER = _param("server_id", "path")
OBJECT = {"type": "object"}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Lifeguard API",
        "version": "1",
        "description": "Scalr events, the rules they matched and the actions they caused. "
        "Every path but this description needs `Authorization: Bearer <token>`: `API_TOKEN` "
        "(an admin) or a user's own token (their role: viewer, operator or admin). A control "
        "the role may not use answers 403.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This description",
                "security": [],
                "responses": {"200": _ok(OBJECT)},
            }
        },
        "/api/v1/events": _get(
            "Events, newest first",
            _list_of("Event"),
            [
                *PAGE,
                _param("name"),
                _param("server_id"),
                _param("farm_id", schema={"type": "integer"}),
            ],
        ),
        "/api/v1/events/{event_id}": _get(
            "One event with its raw delivery", _ref("Event"), [EVENT_ID]
        ),
        "/api/v1/events/{event_id}/explanation": _get(
            "Why each rule did or did not fire for an event", _ref("Explanation"), [EVENT_ID]
        ),
        "/api/v1/actions": _get(
            "Action jobs, newest first",
            _list_of("ActionJob"),
            [
                *PAGE,
                _param("status"),
                _param("rule"),
                _param("server_id"),
                _param("event_id", schema={"type": "integer"}),
            ],
        ),
        "/api/v1/actions/{job_id}": _get(
            "One action job with its attempts", _ref("ActionJob"), [JOB_ID]
        ),
        "/api/v1/actions/{job_id}/retry": _post(
            "Retry a dead, skipped or cancelled job", _ref("ActionJob"), [JOB_ID]
        ),
        "/api/v1/actions/{job_id}/cancel": _post(
            "Cancel a scheduled or retrying job", _ref("ActionJob"), [JOB_ID]
        ),
        "/api/v1/actions/{job_id}/run": _post(
            "Make a scheduled job due now", _ref("ActionJob"), [JOB_ID]
        ),
        "/api/v1/holds": _get(
            "Holds in force (an unverified remediation, a storm); ?all=1 adds cleared ones",
            {"type": "object"},
            [],
        ),
        "/api/v1/holds/{hold_id}/clear": _post(
            "Clear a hold; body {held_jobs: release|cancel, reason} decides the held jobs",
            {"type": "object"},
            [_param("hold_id", "path", schema={"type": "integer"})],
        ),
        "/api/v1/rules": _get("Running rules with state and activity", _list_of("Rule"), []),
        "/api/v1/rules/{name}": _get("One rule", _ref("Rule"), [RULE]),
        "/api/v1/rules/{name}/pause": _post("Pause a rule", _ref("Rule"), [RULE]),
        "/api/v1/rules/{name}/resume": _post("Resume a rule", _ref("Rule"), [RULE]),
        "/api/v1/rules/{name}/backtest": _post(
            "Replay a rule, with its throttle, over the last N days of stored events",
            _ref("Backtest"),
            [RULE],
            requestBody={
                "required": True,
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["days"],
                            "properties": {
                                "days": {"type": "integer", "minimum": 1, "maximum": 90}
                            },
                        }
                    }
                },
            },
        ),
        "/api/v1/kill-switch": {
            **_get(
                "The kill switch: engaged or not, by whom, since when, why", _ref("KillSwitch"), []
            ),
            **_post(
                "Engage (admin; a reason is required) or release the kill switch",
                _ref("KillSwitch"),
                [],
                requestBody=_json_body(
                    {
                        "type": "object",
                        "required": ["engaged"],
                        "properties": {
                            "engaged": {"type": "boolean"},
                            "reason": {"type": "string"},
                        },
                    }
                ),
            ),
        },
        "/api/v1/silences": {
            **_get(
                "Silences, newest first",
                _list_of("Silence"),
                [*PAGE, _param("state", schema={"enum": ["active", "pending", "expired"]})],
            ),
            "post": {
                "summary": "Silence the events the matchers describe, for a while (operator)",
                "requestBody": _json_body(
                    {
                        "type": "object",
                        "required": ["matchers", "comment"],
                        "properties": {
                            "matchers": {
                                "type": "object",
                                "description": "A `where:` mapping over farm_id, farm_role_id, "
                                "server_id, role_name, name, with the rules' operators",
                            },
                            "starts_at": {"type": "string", "format": "date-time"},
                            "ends_at": {"type": "string", "format": "date-time"},
                            "duration": {"type": ["string", "integer"], "examples": ["2h"]},
                            "comment": {"type": "string"},
                        },
                    }
                ),
                "responses": {
                    "201": _ok(_ref("Silence"), "Created"),
                    **ERRORS,
                    "403": REF_ERROR,
                },
            },
        },
        "/api/v1/silences/{silence_id}": {
            "delete": {
                "summary": "Expire a silence now (operator)",
                "parameters": [_param("silence_id", "path", {"type": "integer"})],
                "responses": {
                    "200": _ok(_ref("Silence")),
                    **ERRORS,
                    "403": REF_ERROR,
                    "409": REF_ERROR,
                },
            }
        },
        "/api/v1/audit": _get(
            "Who did what, when, on what, from where; newest first",
            _list_of("AuditEntry"),
            [
                *PAGE,
                _param("actor"),
                _param("action"),
                _param("target"),
                _param("outcome", schema={"enum": ["ok", "refused", "denied"]}),
                _param("via", schema={"enum": ["dashboard", "api", "console"]}),
            ],
        ),
        "/api/v1/servers": _get(
            "Inventory servers by id",
            _list_of("Server"),
            [*PAGE, _param("farm_id", schema={"type": "integer"}), _param("status")],
        ),
        "/api/v1/servers/{server_id}": _get(
            "A server and its timeline of events and actions", _ref("ServerTimeline"), [SERVER]
        ),
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "responses": {
            "Error": {"description": "An error", "content": {JSON: {"schema": _ref("Error")}}}
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            },
            "Event": {"type": "object", "required": ["id", "name", "received_at"]},
            "Explanation": {
                "type": "object",
                "required": ["event_id", "evaluations", "jobs", "loop"],
            },
            "ActionJob": {
                "type": "object",
                "required": [
                    "id",
                    "event_id",
                    "rule",
                    "action_index",
                    "kind",
                    "action",
                    "params",
                    "status",
                    "reason",
                    "attempts",
                    "run_at",
                    "started_at",
                    "finished_at",
                    "transaction_id",
                    "result",
                    "error",
                ],
                "properties": {
                    "status": {
                        "enum": [
                            "scheduled",
                            "running",
                            "succeeded",
                            "retrying",
                            "dead",
                            "cancelled",
                            "skipped",
                            "dry_run",
                        ]
                    },
                },
            },
            "Rule": {"type": "object", "required": ["name", "events", "paused", "dry_run"]},
            "Backtest": {
                "type": "object",
                "required": [
                    "rule",
                    "scanned",
                    "capped",
                    "would_fire",
                    "would_be_throttled",
                    "decisions",
                ],
            },
            "Server": {"type": "object", "required": ["server_id"]},
            "KillSwitch": {
                "type": "object",
                "required": ["engaged", "reason", "engaged_by", "engaged_at"],
                "properties": {
                    "engaged": {"type": "boolean"},
                    "reason": {"type": ["string", "null"]},
                    "engaged_by": {"type": ["string", "null"]},
                    "engaged_at": {"type": ["string", "null"], "format": "date-time"},
                    "released_by": {"type": ["string", "null"]},
                    "released_at": {"type": ["string", "null"], "format": "date-time"},
                },
            },
            "Silence": {
                "type": "object",
                "required": [
                    "id",
                    "matchers",
                    "starts_at",
                    "ends_at",
                    "comment",
                    "created_by",
                    "state",
                ],
                "properties": {"state": {"enum": ["active", "pending", "expired"]}},
            },
            "AuditEntry": {
                "type": "object",
                "required": ["id", "at", "actor", "role", "via", "action", "target", "outcome"],
                "properties": {
                    "address": {"type": ["string", "null"]},
                    "reason": {"type": ["string", "null"]},
                    "detail": {"type": "object"},
                },
            },
            "ServerTimeline": {"type": "object", "required": ["server_id", "server", "timeline"]},
        },
    },
}


def openapi_json() -> Response:
    """Serve the API description."""
    return jsonify(SPEC)


def _register(state: BlueprintSetupState) -> None:
    state.app.add_url_rule("/api/v1/openapi.json", "api_openapi", openapi_json, methods=["GET"])


bp.record_once(_register)
