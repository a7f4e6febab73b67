"""AuthVersion 3 signing: the known answer and the exact request of protocol 6.5."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from app.redaction import redact
from app.scalr.client import ScalrClient
from app.scalr.environments import ScalrEnvironment
from app.scalr.signing import format_timestamp, sign_v3, signed_params, string_to_sign
from tests.scalr.conftest import KEY_ID, SECRET_KEY, Receiver

TIMESTAMP = "2013-07-22T14:05:09.000Z"
SIGNATURE = "NJSZyrgBcc+l/ehCDqHfZEL8D3qMWgqvBCFMcYPjYq8="
EXACT_QUERY = (
    "Action=ServerLaunch&Version=2.3.0&AuthVersion=3&EnvID=3&KeyID=5d0e16f7498c41cc"
    "&TimeStamp=2013-07-22T14%3A05%3A09.000Z&FarmRoleID=21366&IncreaseMaxInstances=1"
    "&Signature=NJSZyrgBcc%2Bl%2FehCDqHfZEL8D3qMWgqvBCFMcYPjYq8%3D"
)
LAUNCH_ANSWER = (
    b'<?xml version="1.0"?>\n<ServerLaunchResponse><TransactionID>0b6c7f6e-3c1d-4a52-9d77-'
    b"2f0f3a9c1e24</TransactionID><ServerID>c0a5d0c2-86a1-4e0b-bf1e-7d2b6d4f9a31</ServerID>"
    b"</ServerLaunchResponse>\n"
)


def fixed_clock() -> datetime:
    return datetime(2013, 7, 22, 14, 5, 9, tzinfo=UTC)


def test_known_answer() -> None:
    assert string_to_sign("ServerLaunch", KEY_ID, TIMESTAMP) == (
        "ServerLaunch:5d0e16f7498c41cc:2013-07-22T14:05:09.000Z"
    )
    assert sign_v3(SECRET_KEY, "ServerLaunch", KEY_ID, TIMESTAMP) == SIGNATURE


def test_timestamp_format_is_utc_without_plus_or_percent() -> None:
    local = datetime(2013, 7, 22, 16, 5, 9, 999000, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(local) == TIMESTAMP
    with pytest.raises(ValueError):
        format_timestamp(datetime(2013, 7, 22))


def test_parameter_order_and_encoding_match_6_5() -> None:
    fields = signed_params(
        action="ServerLaunch",
        version="2.3.0",
        key_id=KEY_ID,
        secret_key=SECRET_KEY,
        timestamp=TIMESTAMP,
        env_id=3,
        params=[("FarmRoleID", "21366"), ("IncreaseMaxInstances", "1")],
    )
    assert [name for name, _ in fields] == [
        "Action",
        "Version",
        "AuthVersion",
        "EnvID",
        "KeyID",
        "TimeStamp",
        "FarmRoleID",
        "IncreaseMaxInstances",
        "Signature",
    ]
    prepared = requests.Request(
        "GET", "https://scalr.example.com/api/api.php", params=fields
    ).prepare()
    assert prepared.url == f"https://scalr.example.com/api/api.php?{EXACT_QUERY}"


def test_client_sends_the_exact_get_request_of_6_5(receiver: Receiver) -> None:
    receiver.answer, receiver.answer_type = LAUNCH_ANSWER, "text/xml"
    env = ScalrEnvironment("default", f"{receiver.url}/api/api.php", KEY_ID, SECRET_KEY, env_id=3)
    with ScalrClient(env, clock=fixed_clock) as client:
        response = client.call(
            "ServerLaunch", method="GET", FarmRoleID=21366, IncreaseMaxInstances=True
        )
    (request,) = receiver.requests
    assert request.method == "GET"
    assert request.path == f"/api/api.php?{EXACT_QUERY}"
    assert response["ServerID"] == "c0a5d0c2-86a1-4e0b-bf1e-7d2b6d4f9a31"
    assert response.transaction_id == "0b6c7f6e-3c1d-4a52-9d77-2f0f3a9c1e24"


def test_client_sends_the_same_fields_as_a_post_form(receiver: Receiver) -> None:
    receiver.answer, receiver.answer_type = LAUNCH_ANSWER, "text/xml"
    env = ScalrEnvironment("default", f"{receiver.url}/api/api.php", KEY_ID, SECRET_KEY, env_id=3)
    with ScalrClient(env, clock=fixed_clock) as client:
        assert client.server_launch(21366, increase_max_instances=True)
    (request,) = receiver.requests
    assert request.method == "POST"
    assert request.path == "/api/api.php"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.body.decode() == EXACT_QUERY


def test_redact_removes_signatures_and_secrets() -> None:
    text = f"GET /api/api.php?KeyID=x&Signature=abc%2B%3D&Other=1 secret {SECRET_KEY}"
    cleaned = redact(text, SECRET_KEY)
    assert "abc%2B" not in cleaned and SECRET_KEY not in cleaned
    assert "Other=1" in cleaned
