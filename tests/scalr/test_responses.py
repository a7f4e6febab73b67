"""Reading Scalr's answers: status first, then the root element (protocol 3.4)."""

from __future__ import annotations

import re

import pytest

from app.scalr.errors import (
    ScalrAPIError,
    ScalrError,
    ScalrRateLimited,
    ScalrTransportError,
    ScalrVersionError,
)
from app.scalr.responses import ScalrResponse, parse_response


def parse(body: bytes, status: int = 200, action: str = "FarmGetDetails") -> ScalrResponse:
    return parse_response(status, body, action=action, version="2.3.0", retry_after_seconds=60)


def test_sets_become_lists_empty_elements_none_nested_dicts() -> None:
    body = (
        b'<?xml version="1.0"?>\n<FarmGetDetailsResponse><TransactionID>t-1</TransactionID>'
        b"<ID>1439</ID><LockComment/><FarmRoleSet><Item><ID>1978</ID><ScalingProperties>"
        b"<MinInstances>2</MinInstances><MaxInstances>4</MaxInstances></ScalingProperties>"
        b"<ServerSet/></Item></FarmRoleSet><Extra><Item>a</Item><Item>b</Item></Extra>"
        b"</FarmGetDetailsResponse>\n"
    )
    response = parse(body)
    assert response.transaction_id == "t-1"
    assert response["ID"] == "1439"
    assert response["LockComment"] is None
    (role,) = response["FarmRoleSet"]
    assert role == {
        "ID": "1978",
        "ScalingProperties": {"MinInstances": "2", "MaxInstances": "4"},
        "ServerSet": [],
    }
    assert response["Extra"] == ["a", "b"]
    assert response.to_dict()["result"]["ID"] == "1439"


def test_error_with_unescaped_ampersand_and_angle_bracket() -> None:
    body = (
        b'<?xml version="1.0"?>\n<Error>\n\t<TransactionID>57caf5fb</TransactionID>\n'
        b"\t<Message>Role web & db <primary> failed</Message>\n</Error>\n"
    )
    with pytest.raises(ScalrAPIError) as caught:
        parse(body)
    assert caught.value.message == "Role web & db <primary> failed"
    assert caught.value.transaction_id == "57caf5fb"
    assert caught.value.action == "FarmGetDetails"
    assert caught.value.retryable is False


def test_error_text_is_taken_raw_not_entity_decoded() -> None:
    body = b'<?xml version="1.0"?>\n<Error>\n\t<TransactionID>x</TransactionID>\n\t<Message>a &amp; b</Message>\n</Error>\n'
    with pytest.raises(ScalrAPIError, match="a &amp; b"):
        parse(body)


@pytest.mark.parametrize(
    ("status", "body", "error", "retryable"),
    [
        (429, b"", ScalrRateLimited, True),
        (400, b"", ScalrVersionError, False),
        (500, b"oops", ScalrTransportError, True),
        (503, b"", ScalrTransportError, True),
        (404, b"not here", ScalrTransportError, False),
        (200, b"<html>proxy page", ScalrTransportError, True),
        (200, b"<?xml version='1.0'?><Weird/>", ScalrTransportError, True),
    ],
)
def test_status_and_body_errors(
    status: int, body: bytes, error: type[ScalrError], retryable: bool
) -> None:
    with pytest.raises(error) as caught:
        parse(body, status)
    assert caught.value.retryable is retryable


def test_rate_limited_carries_retry_after() -> None:
    with pytest.raises(ScalrRateLimited) as caught:
        parse(b"", 429)
    assert caught.value.retry_after_seconds == 60
    assert caught.value.local is False


def test_version_error_names_the_version() -> None:
    with pytest.raises(ScalrVersionError, match=re.escape("2.3.0")) as caught:
        parse(b"", 400)
    assert caught.value.version == "2.3.0"


def test_doctype_and_entities_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<HelloResponse><Result>&b;</Result></HelloResponse>"
    )
    with pytest.raises(ScalrTransportError, match="DOCTYPE"):
        parse(bomb, action="Hello")
