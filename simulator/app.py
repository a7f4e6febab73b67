"""The simulator's Flask app: the Query API at /api/api.php and controls under /_sim/."""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Request, Response, abort, jsonify, request

from simulator.actions import Context, LaunchFailed, SimError, find_spec
from simulator.auth import verify_v3
from simulator.calllog import CallRecord
from simulator.faults import Fault
from simulator.state import SimState
from simulator.xmlout import error_xml, success_xml

log = logging.getLogger(__name__)

SUPPORTED_VERSIONS = ("2.0.0", "2.1.0", "2.2.0", "2.3.0")
BAD_VERSION_STATUS = "400 Bad Request All versions prior to 2.0.0 are no longer supported"
_ARRAY_KEY = re.compile(r"^([^\[\]]+)\[([^\]]*)\]$")


def merged_params(req: Request) -> dict[str, Any]:
    """Merge like PHP array_merge($_POST, $_GET): a GET value wins; Name[k] makes an array."""
    merged: dict[str, Any] = {}
    for source in (req.form, req.args):
        for key, value in source.items(multi=True):
            match = _ARRAY_KEY.match(key)
            if match:
                existing = merged.get(match.group(1))
                if not isinstance(existing, dict):
                    existing = merged[match.group(1)] = {}
                existing[match.group(2)] = value
            else:
                merged[key] = value
    return merged


def _xml(body: bytes, status: int | str = 200) -> Response:
    return Response(body, status=status, content_type="text/xml")


def _drop_connection() -> Response:
    """Close the socket without answering; werkzeug then sees a dropped connection."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        raise ConnectionAbortedError("simulated dropped connection")
    sock.shutdown(socket.SHUT_RDWR)
    return Response(b"", status=200)


def _huge_body(size: int) -> Iterator[bytes]:
    """Yield `size` bytes of an XML answer that never ends, without holding them."""
    head = b"<?xml version='1.0'?><FarmsListResponse><Padding>"
    yield head[:size]
    left = size - len(head)
    block = b"x" * 65536
    while left > 0:
        yield block[: min(left, len(block))]
        left -= len(block)


def handle_api(state: SimState, req: Request) -> Response:
    """Answer one Query API request the way Scalr's api.php and ScalrAPICore do."""
    params = merged_params(req)
    action = str(params.get("Action", ""))
    public = {k: v for k, v in params.items() if k != "Signature"}

    def done(response: Response, outcome: str, transaction_id: str | None = None) -> Response:
        state.record_call(
            CallRecord(action, req.method, public, state.now(), outcome, transaction_id)
        )
        return response

    faults = state.take_faults(action)
    for fault in faults:
        if fault.kind == "latency":
            state.stopping.wait(fault.latency)
    for fault in faults:
        if fault.kind == "drop":
            # Record first: the client sees the closed socket at once.
            done(Response(b""), "dropped")
            return _drop_connection()
        if fault.kind == "status":
            return done(Response(b"", status=fault.status), f"http {fault.status}")
        if fault.kind == "huge":
            return done(Response(_huge_body(fault.size), content_type="text/xml"), "huge")

    version = params.get("Version")
    if version not in SUPPORTED_VERSIONS:
        return done(Response(b"", status=BAD_VERSION_STATUS), "http 400")
    assert isinstance(version, str)
    transaction_id = str(uuid.uuid4())

    def error(message: str) -> Response:
        return done(_xml(error_xml(transaction_id, message)), f"error: {message}", transaction_id)

    found = find_spec(action, tuple(int(x) for x in version.split(".")))
    if found is None:
        return error(f"Action '{action}' is not defined")
    _, spec = found

    # Authentication, in ScalrAPICore's order (protocol 3.3).
    signature = params.get("Signature")
    key_id = params.get("KeyID")
    timestamp = params.get("Timestamp") or params.get("TimeStamp")
    if not signature:
        return error("Signature is missing")
    if not key_id:
        return error("KeyID is missing")
    if not timestamp:
        return error("Timestamp is missing")
    with state.lock:
        key = state.api_keys.get(str(key_id))
        if key is None:
            return error(f"API Key #{key_id} not found in database")
        env_id = params.get("EnvID")
        if env_id:
            env = state.environments.get(int(env_id)) if str(env_id).isdigit() else None
            if env is None:
                return error(f"Scalr_Environment Key#{env_id} not found in database")
            if env.id not in key.env_ids:
                return error("Access denied")
        elif key.env_ids and key.env_ids[0] in state.environments:
            env = state.environments[key.env_ids[0]]
        else:
            return error("User has no access to any environemnts")
        secret, legacy = key.secret_key, state.legacy_timestamp
    if not verify_v3(
        action=action,
        key_id=str(key_id),
        timestamp=str(timestamp),
        signature=str(signature),
        secret_key=secret,
        legacy_timestamp=legacy,
    ):
        return error("Signature doesn't match")
    if not key.enabled:
        return error("API disabled for you. You can enable it at 'Settings -> Environments'")
    with state.lock:
        if env.requests_per_hour is not None:
            hour = time.strftime("%Y%m%d%H", time.localtime(state.now()))
            used = env.usage.get(hour, 0)
            if used >= env.requests_per_hour:
                return done(Response(b"", status="429 Too Many Requests"), "http 429")
            env.usage = {hour: used + 1}

    for fault in faults:
        if fault.kind == "error":
            return error(fault.message)
    for name, required in spec.params:
        if required and name not in params:  # PHP isset: "" counts as given
            return error(f"Missing required parameter '{name}'")
    context = Context(
        state=state,
        env=env,
        key=key,
        version=tuple(int(x) for x in version.split(".")),
        launch_fails=any(f.kind == "launch_failure" for f in faults),
    )
    try:
        with state.lock:
            result = spec.handler(context, params)
    except SimError as exc:
        return error(str(exc))
    except LaunchFailed:
        # <= 4.x logs the cloud error and answers an empty ServerID (protocol section 4).
        result = {"ServerID": None}
    return done(_xml(success_xml(action, transaction_id, result)), "ok", transaction_id)


def _control_blueprint(state: SimState) -> Blueprint:
    bp = Blueprint("sim_control", __name__, url_prefix="/_sim")

    @bp.before_request
    def loopback_only() -> None:
        if not ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback:  # noqa: S104
            abort(403)

    @bp.get("/calls")
    def calls() -> Response:
        action = request.args.get("action")
        return jsonify({"calls": [c.to_dict() for c in state.calls(action)]})

    @bp.get("/state")
    def snapshot() -> Response:
        return jsonify(state.snapshot())

    @bp.post("/advance")
    def advance() -> Response:
        state.advance(float((request.get_json(silent=True) or {}).get("seconds", 0)))
        return jsonify(state.snapshot())

    @bp.route("/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Response:
        if request.method == "DELETE":
            state.clear_faults()
        elif request.method == "POST":
            body = request.get_json(force=True)
            state.add_fault(
                Fault(
                    kind=str(body["kind"]),
                    action=body.get("action"),
                    remaining=body.get("count"),
                    latency=float(body.get("latency", 0)),
                    status=int(body.get("status", 500)),
                    message=str(body.get("message", "Simulated failure")),
                    size=int(body.get("size", 0)),
                    farm_id=int(body["farm_id"]) if body.get("farm_id") is not None else None,
                )
            )
        return jsonify({"faults": [vars(f) for f in state.faults]})

    @bp.post("/chaos")
    def chaos() -> Response:
        body = request.get_json(force=True)
        kinds = body.get("kinds")
        state.set_chaos(float(body.get("rate_per_minute", 0)), tuple(kinds) if kinds else None)
        return jsonify({"rate_per_minute": state.chaos_rate_per_minute})

    @bp.post("/notify")
    def notify() -> Response:
        body = request.get_json(force=True)
        config = state.notifier.config
        for name in ("default_url", "webhook_url", "webhook_key"):
            if name in body:
                setattr(config, name, body[name])
        config.urls.update(body.get("urls", {}))
        return jsonify({"ok": True})

    @bp.get("/deliveries")
    def deliveries() -> Response:
        return jsonify(
            {
                "deliveries": [
                    {"kind": d.kind, "event": d.event, "status": d.status, "error": d.error}
                    for d in list(state.notifier.deliveries)
                ]
            }
        )

    @bp.post("/servers/<server_id>/<operation>")
    def server_operation(server_id: str, operation: str) -> Response:
        with state.lock:
            server = state.servers.get(server_id)
            if server is None:
                abort(404)
            if operation == "terminate":
                state.terminate_server(server)
            elif operation == "reboot":
                state.reboot_server(server)
            elif operation == "crash":
                state.crash_server(server)
            elif operation == "ip":
                state.change_ip(server, (request.get_json(silent=True) or {}).get("new_ip"))
            else:
                abort(404)
        return jsonify({"ok": True})

    return bp


def create_sim_app(state: SimState) -> Flask:
    """Build the simulator's Flask app over a state."""
    app = Flask("simulator")
    app.extensions["scalr_sim.state"] = state

    @app.route("/api/api.php", methods=["GET", "POST"])
    @app.route("/", methods=["GET", "POST"])
    def api() -> Response:
        return handle_api(state, request)

    app.register_blueprint(_control_blueprint(state))
    return app
