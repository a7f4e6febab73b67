"""The simulator judges requests the way Scalr's ScalrAPICore does (protocol 3.3)."""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest
import requests

from app.scalr.signing import sign_v3
from simulator import SimState, SimulatorServer
from tests.scalr.conftest import KEY_ID, SECRET_KEY

TS = "2013-07-22T14:05:09.000Z"


def post(sim: SimulatorServer, body: str) -> requests.Response:
    with requests.Session() as session:
        return session.post(
            sim.url,
            data=body.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=5,
        )


def signed_body(
    action: str = "Hello",
    key_id: str = KEY_ID,
    timestamp: str = TS,
    signature: str | None = None,
    encode_signature: bool = True,
    extra: str = "",
) -> str:
    sig = signature if signature is not None else sign_v3(SECRET_KEY, action, key_id, timestamp)
    if encode_signature:
        sig = quote_plus(sig)
    return (
        f"Action={action}&Version=2.3.0&AuthVersion=3&KeyID={key_id}"
        f"&TimeStamp={quote_plus(timestamp)}{extra}&Signature={sig}"
    )


def message(response: requests.Response) -> str:
    assert response.status_code == 200
    text = response.text
    return text[text.index("<Message>") + 9 : text.rindex("</Message>")]


def test_good_signature(sim: SimulatorServer) -> None:
    assert "<Result>1</Result>" in post(sim, signed_body()).text


def test_tampered_signature(sim: SimulatorServer) -> None:
    good = sign_v3(SECRET_KEY, "Hello", KEY_ID, TS)
    bad = ("A" if good[0] != "A" else "B") + good[1:]
    assert message(post(sim, signed_body(signature=bad))) == "Signature doesn't match"
    # The signature covers Action:KeyID:TimeStamp only: another action must not verify.
    other = signed_body(action="FarmsList", signature=good)
    assert message(post(sim, other)) == "Signature doesn't match"


def test_wrong_key_id(sim: SimulatorServer) -> None:
    body = signed_body(key_id="0000000000000000")
    assert message(post(sim, body)) == "API Key #0000000000000000 not found in database"


def test_signature_repair_accepts_raw_plus_and_double_encoding(sim: SimulatorServer) -> None:
    signature = sign_v3(SECRET_KEY, "ServerLaunch", KEY_ID, TS)
    assert signature == "NJSZyrgBcc+l/ehCDqHfZEL8D3qMWgqvBCFMcYPjYq8="
    action, extra = "ServerLaunch", "&FarmRoleID=1978&IncreaseMaxInstances=1"
    raw = signed_body(action, signature=signature, encode_signature=False, extra=extra)
    once = signed_body(action, signature=signature, extra=extra)
    double = signed_body(
        action, signature=quote_plus(quote_plus(signature)), encode_signature=False, extra=extra
    )
    for body in (raw, once, double):
        assert "<ServerID>" in post(sim, body).text


def test_timestamp_is_decoded_twice_like_scalr_3_to_4_1(
    sim: SimulatorServer, sim_state: SimState
) -> None:
    odd = "2013-07-22 14:05:09+0000"
    body = signed_body(timestamp=odd)
    assert message(post(sim, body)) == "Signature doesn't match"
    sim_state.legacy_timestamp = False  # 4.4+ fallback
    assert "<Result>1</Result>" in post(sim, body).text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Action=Hello&Version=2.3.0&KeyID=k&TimeStamp=t", "Signature is missing"),
        ("Action=Hello&Version=2.3.0&Signature=s&TimeStamp=t", "KeyID is missing"),
        ("Action=Hello&Version=2.3.0&Signature=s&KeyID=k", "Timestamp is missing"),
        ("Action=ServerLanuch&Version=2.3.0", "Action 'ServerLanuch' is not defined"),
        (
            "Action=EnvironmentsList&Version=2.0.0&Signature=s",
            "Action 'EnvironmentsList' is not defined",
        ),
    ],
)
def test_check_order_and_texts(sim: SimulatorServer, body: str, expected: str) -> None:
    assert message(post(sim, body)) == expected


def test_environment_checks(sim: SimulatorServer, sim_state: SimState) -> None:
    assert message(post(sim, signed_body(extra="&EnvID=99"))) == (
        "Scalr_Environment Key#99 not found in database"
    )
    sim_state.add_environment(4, "other")
    assert message(post(sim, signed_body(extra="&EnvID=4"))) == "Access denied"


def test_missing_parameter_uses_isset(sim: SimulatorServer) -> None:
    missing = signed_body(action="FarmGetDetails")
    assert message(post(sim, missing)) == "Missing required parameter 'FarmID'"
    empty = signed_body(action="FarmGetDetails", extra="&FarmID=")
    assert message(post(sim, empty)) == "Farm # not found"


def test_get_value_wins_over_post(sim: SimulatorServer) -> None:
    body = signed_body(action="FarmGetDetails", extra="&FarmID=1")
    with requests.Session() as session:
        answer = session.post(
            f"{sim.url}?FarmID=1439",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=5,
        )
    assert "<Name>prod</Name>" in answer.text


def test_missing_or_unsupported_version_is_400_empty(sim: SimulatorServer) -> None:
    for body in ("Action=Hello", "Action=Hello&Version=1.0.0"):
        answer = post(sim, body)
        assert answer.status_code == 400
        assert answer.reason == "Bad Request All versions prior to 2.0.0 are no longer supported"
        assert answer.content == b""


def test_rate_limit_is_429_with_empty_body(sim: SimulatorServer, sim_state: SimState) -> None:
    sim_state.environments[3].requests_per_hour = 1
    assert post(sim, signed_body()).status_code == 200
    answer = post(sim, signed_body())
    assert (answer.status_code, answer.content) == (429, b"")
    assert "Retry-After" not in answer.headers
    # An unauthenticated call is not counted and still gets its own error.
    assert (
        message(post(sim, signed_body(key_id="nobody"))) == "API Key #nobody not found in database"
    )
