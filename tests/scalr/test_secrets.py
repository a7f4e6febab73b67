"""The secret key and the Signature never reach a log line, an error text or the database."""

from __future__ import annotations

import dataclasses
import logging
import traceback
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.models.scalr import ScalrApiUsage
from app.scalr.client import ScalrClient
from app.scalr.environments import ScalrEnvironment
from app.scalr.errors import ScalrError
from app.scalr.ratelimit import DatabaseRateLimiter
from app.scalr.signing import sign_v3
from simulator import Fault, SimState
from tests.scalr.conftest import KEY_ID, SECRET_KEY

MOMENT = datetime(2024, 5, 1, 10, 15, 0, tzinfo=UTC)
TIMESTAMP = "2024-05-01T10:15:00.000Z"
ACTIONS = ("Hello", "FarmsList", "ServerLaunch", "FarmGetDetails")


def forbidden() -> list[str]:
    values = [SECRET_KEY]
    for action in ACTIONS:
        signature = sign_v3(SECRET_KEY, action, KEY_ID, TIMESTAMP)
        values += [signature, quote_plus(signature), quote(signature, safe=""), signature[:-1]]
    return values


def test_no_secret_anywhere(
    caplog: pytest.LogCaptureFixture,
    scalr_env: ScalrEnvironment,
    sim_state: SimState,
    session_factory: sessionmaker[Session],
) -> None:
    caplog.set_level(logging.DEBUG)
    # The app's logging setup quiets urllib3; this test wants its request lines.
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    limiter = DatabaseRateLimiter(session_factory, lambda: MOMENT)
    texts: list[str] = [repr(scalr_env), str(scalr_env)]

    def attempt(client: ScalrClient, action: str, **params: object) -> None:
        try:
            client.call(action, **params)  # type: ignore[arg-type]
        except ScalrError as exc:
            texts.extend([str(exc), repr(exc), "".join(traceback.format_exception(exc))])

    with ScalrClient(scalr_env, rate_limiter=limiter, clock=lambda: MOMENT) as client:
        texts.append(repr(client))
        attempt(client, "Hello", method="GET")
        attempt(client, "FarmsList")
        attempt(client, "ServerLaunch", method="GET", FarmRoleID=424242)
        sim_state.add_fault(Fault("drop", remaining=1))
        attempt(client, "Hello", method="GET")
        sim_state.add_fault(Fault("status", status=500, remaining=1))
        attempt(client, "FarmGetDetails", method="GET", FarmID=1439)
        sim_state.add_fault(Fault("error", remaining=1, message="boom & <bang>"))
        attempt(client, "Hello")
    closed = dataclasses.replace(scalr_env, api_url="http://127.0.0.1:9/api/api.php")
    with ScalrClient(closed, rate_limiter=limiter, clock=lambda: MOMENT) as client:
        attempt(client, "Hello", method="GET")
        attempt(client, "FarmsList")
    tight = dataclasses.replace(scalr_env, requests_per_hour=1, name="tight")
    with ScalrClient(tight, rate_limiter=limiter, clock=lambda: MOMENT) as client:
        attempt(client, "Hello")
        attempt(client, "Hello", method="GET")

    with session_factory() as session:
        rows = session.execute(select(ScalrApiUsage)).scalars().all()
        texts += [repr((r.id, r.environment, r.window_start, r.count)) for r in rows]
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    texts += [repr(call.to_dict()) for call in sim_state.calls()]

    assert any(
        r.name.startswith("urllib3") and "/api/api.php?" in r.getMessage() for r in caplog.records
    ), "urllib3 request lines were not captured"
    assert any(r.name == "app.scalr.client" for r in caplog.records)
    assert rows, "nothing was stored"
    everything = "\n".join(texts)
    for value in forbidden():
        assert value not in everything
