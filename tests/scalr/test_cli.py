"""`flask scalr call` and `flask scalr environments` on a tiny Flask app."""

from __future__ import annotations

import json
from types import SimpleNamespace

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from app.config import Config
from app.scalr.cli import parse_cli_params, scalr_cli
from app.scalr.ratelimit import DatabaseRateLimiter
from app.services import install
from simulator import SimState, SimulatorServer
from tests.scalr.conftest import ENV_ID, KEY_ID, SECRET_KEY


def make_app(environ: dict[str, str], factory: sessionmaker[Session] | None) -> Flask:
    app = Flask("cli-test")
    app.config["LIFEGUARD"] = Config(environ=environ)
    # Only what the scalr commands read; a factory of None means no rate limit table.
    install(app, SimpleNamespace(session_factory=factory))  # type: ignore[arg-type]
    return app


def sim_environ(sim: SimulatorServer) -> dict[str, str]:
    return {
        "SCALR_API_URL": sim.url,
        "SCALR_KEY_ID": KEY_ID,
        "SCALR_SECRET_KEY": SECRET_KEY,
        "SCALR_ENV_ID": str(ENV_ID),
    }


def test_parse_cli_params() -> None:
    assert parse_cli_params(("FarmID=1439", "ConfigVariables[a]=1", "ConfigVariables[b]=x=y")) == {
        "FarmID": "1439",
        "ConfigVariables": {"a": "1", "b": "x=y"},
    }


def test_call_prints_json(
    sim: SimulatorServer, sim_state: SimState, session_factory: sessionmaker[Session]
) -> None:
    app = make_app(sim_environ(sim), session_factory)
    result = app.test_cli_runner().invoke(
        scalr_cli, ["call", "ServerLaunch", "FarmRoleID=1978", "IncreaseMaxInstances=false"]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["action"] == "ServerLaunch"
    assert answer["result"]["ServerID"] in sim_state.servers
    assert sim_state.calls("ServerLaunch")[0].params["IncreaseMaxInstances"] == "0"
    assert DatabaseRateLimiter(session_factory).usage("default") == 1


def test_call_with_get_and_array(sim: SimulatorServer, sim_state: SimState) -> None:
    app = make_app(sim_environ(sim), None)
    result = app.test_cli_runner().invoke(
        scalr_cli,
        [
            "call",
            "ScriptExecute",
            "--get",
            "ScriptID=1",
            "Timeout=5",
            "Async=true",
            "FarmID=1439",
            "ConfigVariables[mode]=fast",
        ],
    )
    assert result.exit_code == 0, result.output
    (call,) = sim_state.calls("ScriptExecute")
    assert call.method == "GET"
    assert call.params["ConfigVariables"] == {"mode": "fast"}


def test_call_error_exits_1(sim: SimulatorServer) -> None:
    app = make_app(sim_environ(sim), None)
    result = app.test_cli_runner().invoke(scalr_cli, ["call", "FarmGetDetails", "FarmID=5"])
    assert result.exit_code == 1
    assert "Farm #5 not found" in result.output
    assert "TransactionID" in result.output
    result = app.test_cli_runner().invoke(scalr_cli, ["call", "Hello", "--env", "nope"])
    assert result.exit_code == 1
    assert "no Scalr environment named 'nope'" in result.output
    result = app.test_cli_runner().invoke(scalr_cli, ["call", "Hello", "oops"])
    assert result.exit_code != 0


def test_environments_lists_without_secrets(sim: SimulatorServer) -> None:
    app = make_app(sim_environ(sim), None)
    result = app.test_cli_runner().invoke(scalr_cli, ["environments"])
    assert result.exit_code == 0
    assert f"key_id={KEY_ID}" in result.output
    assert sim.url in result.output
    assert "env_id=3" in result.output and "version=2.3.0" in result.output
    assert SECRET_KEY not in result.output
    empty = make_app({}, None).test_cli_runner().invoke(scalr_cli, ["environments"])
    assert "no Scalr environment configured" in empty.output
