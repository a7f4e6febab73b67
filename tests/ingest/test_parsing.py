"""Tests for the pure ingest parsing layer: message texts, webhook payloads, hints."""

from __future__ import annotations

import json
import random
import string
from typing import Any
from urllib.parse import parse_qsl

import pytest

from app.ingest.parsing import (
    EVENT_NAME_RE,
    MAX_ID,
    InvalidEventName,
    InvalidHint,
    InvalidPayload,
    ParsedFields,
    normalise_event_name,
    parse_int_hint,
    parse_ip,
    parse_message,
    parse_webhook,
)
from tests.ingest.golden import (
    EMPTY_TEXT_CASES,
    IID,
    PRIV,
    PUB,
    SID,
    TEXT_CASES,
    WEBHOOK_BODY,
    WEBHOOK_EXPECTED,
    WIRE_CASES,
    TextCase,
    WireCase,
)

KNOWN_EVENTS = sorted(
    {case.event for case in TEXT_CASES + EMPTY_TEXT_CASES} | {"MyCustomEvent", "HostDown"}
)


def _case_id(case: WireCase | TextCase) -> str:
    return case.id


# --- golden: section 6 wire examples ---------------------------------------------------------


@pytest.mark.parametrize("case", WIRE_CASES, ids=_case_id)
def test_wire_example_parses_to_its_fields(case: WireCase) -> None:
    if case.byte_length is not None:
        assert len(case.body.encode()) == case.byte_length
    values = dict(parse_qsl(case.body, keep_blank_values=True))

    event = normalise_event_name(values["event"])
    fields = parse_message(event, values["message"])

    assert event == case.event
    assert fields == case.expected


def test_wire_example_decodes_to_the_era_c_table_text() -> None:
    values = dict(parse_qsl(WIRE_CASES[0].body, keep_blank_values=True))

    assert values == {
        "event": "OnHostDown",
        "message": f"Instance {SID} ({PUB}) Internal IP: {PRIV} terminated",
    }


def test_webhook_example_parses_to_its_fields() -> None:
    parsed = parse_webhook(json.loads(WEBHOOK_BODY), keep_user_variables=False)

    assert parsed.event_name == "HostDown"
    assert parsed.event_id == "a71ff7bc-0fa7-4cc2-9e0b-9fa3581888ce"
    assert parsed.timestamp == "Tue 11 Apr 2017 11:01:11 UTC"
    assert parsed.configuration_id == "f257be82-f4ec-49d4-89a0-1891e25f8780"
    assert parsed.endpoint_id == "03c8b252-1190-44c4-b9da-1074eaa215fc"
    assert parsed.fields == WEBHOOK_EXPECTED
    assert parsed.data == json.loads(WEBHOOK_BODY)["data"]
    assert parsed.dropped_variables == []
    assert parsed.message == f"Instance {SID} Public IP: 138.201.45.101 Internal IP: 10.0.0.14"


# --- golden: section 1.6 message tables ------------------------------------------------------


@pytest.mark.parametrize("case", TEXT_CASES, ids=_case_id)
def test_message_text_parses_to_its_fields(case: TextCase) -> None:
    assert parse_message(case.event, case.message) == case.expected


@pytest.mark.parametrize("case", EMPTY_TEXT_CASES, ids=_case_id)
def test_message_text_without_fields_parses_to_nothing(case: TextCase) -> None:
    assert parse_message(case.event, case.message) == ParsedFields()


# --- message parsing details -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "message", "expected"),
    [
        pytest.param(
            "HostUp",
            "Instance 5BBD72C5-908C-4535-A7EC-2FBF56486FF3 Public IP: 1.2.3.4 Internal IP:  is UP",
            ParsedFields(server_id=SID, public_ip="1.2.3.4"),
            id="uppercase-uuid-lowercased",
        ),
        pytest.param(
            "HostUp",
            f"Instance {SID} Public IP:  Internal IP: 10.0.0.5 is UP",
            ParsedFields(server_id=SID, internal_ip="10.0.0.5"),
            id="empty-public-ip",
        ),
        pytest.param(
            "HostDown",
            f"Instance {SID} () Internal IP:  terminated",
            ParsedFields(server_id=SID),
            id="hostdown-empty-ips",
        ),
        pytest.param(
            "HostUp",
            f"Instance {SID} Public IP: not-an-ip Internal IP: 10.0.0.999 is UP",
            ParsedFields(server_id=SID),
            id="garbage-ips",
        ),
        pytest.param(
            "HostDown",
            f"Instance {SID} (app64) Internal IP: 10.0.0.5 terminated",
            ParsedFields(server_id=SID, internal_ip="10.0.0.5"),
            id="hostdown-parenthesis-not-an-ip",
        ),
        pytest.param(
            "HostUp",
            "Instance i-0123456789abcdef0 Public IP: 2001:DB8::1 Internal IP: 10.0.0.5 is UP",
            ParsedFields(
                server_id="i-0123456789abcdef0", public_ip="2001:db8::1", internal_ip="10.0.0.5"
            ),
            id="long-ec2-id-and-ipv6",
        ),
        pytest.param(
            "HostUp",
            "Instance i-3f2a1b4c5 Public IP: 1.2.3.4 Internal IP: 10.0.0.5 is UP",
            ParsedFields(public_ip="1.2.3.4", internal_ip="10.0.0.5"),
            id="nine-hex-ec2-id-rejected",
        ),
        pytest.param(
            "OnHostDown",
            f"Instance {SID} ({PUB}) Internal IP: {PRIV} terminated",
            ParsedFields(server_id=SID, public_ip=PUB, internal_ip=PRIV),
            id="on-prefix-tolerated",
        ),
        pytest.param(
            "HostUp",
            f"Host {SID} came up with Public IP: {PUB}",
            ParsedFields(public_ip=PUB),
            id="uuid-not-after-instance-ignored",
        ),
        pytest.param(
            "HostUp",
            f"Instance {SID} is UP, Public IP: {PUB}",
            ParsedFields(server_id=SID, public_ip=PUB),
            id="known-event-unexpected-shape-generic",
        ),
        pytest.param(
            "DeployDone",
            f"Deploy finished on instance {SID} Public IP: {PUB} Internal IP: {PRIV}",
            ParsedFields(server_id=SID, public_ip=PUB, internal_ip=PRIV),
            id="custom-event-generic",
        ),
        pytest.param(
            "DeployDone",
            f"Config changed to {PUB}",
            ParsedFields(),
            id="custom-event-no-new-ip",
        ),
        pytest.param(
            "IPAddressChanged",
            f"Address of instance {SID} was changed to {PUB}",
            ParsedFields(server_id=SID, new_ip=PUB),
            id="ipaddresschanged-generic",
        ),
        pytest.param(
            "RebundleComplete",
            "Rebundle started on instance 54.211.17.89 (not-an-id) for farm #1439 successfully "
            f"complete. New Image ID: {SID}.",
            ParsedFields(),
            id="rebundle-snapshot-uuid-never-server",
        ),
        pytest.param(
            "RebundleFailed",
            f"Rebundle started on instance  ({SID}) for farm #0 failed.",
            ParsedFields(server_id=SID),
            id="rebundle-empty-ip-zero-farm",
        ),
        pytest.param(
            "FarmLaunched",
            "Farm my farm (blue) (ID: 1439) launched",
            ParsedFields(farm_id=1439, farm_name="my farm (blue)"),
            id="farm-name-with-spaces-and-parentheses",
        ),
        pytest.param(
            "FarmLaunched",
            "Farm prod (ID: 99999999999999999999) launched",
            ParsedFields(),
            id="farm-id-too-large",
        ),
        pytest.param(
            "FarmTerminated",
            "Farm pr\x00od (ID: 1439) terminated",
            ParsedFields(farm_id=1439),
            id="farm-name-with-nul",
        ),
        pytest.param(
            "HostDown",
            f"Instance {IID} (app64)  terminated\x00",
            ParsedFields(server_id=IID),
            id="trailing-nul-falls-back-to-generic",
        ),
        pytest.param(
            "HostUp",
            "Instance \u00e9\u00e9 Public IP: \u0661.2.3.4 Internal IP: 10.0.0.5 is UP",
            ParsedFields(internal_ip="10.0.0.5"),
            id="unicode-digits-rejected",
        ),
    ],
)
def test_parse_message_edge_case(event: str, message: str, expected: ParsedFields) -> None:
    assert parse_message(event, message) == expected


def test_parsed_fields_as_dict_lists_every_field_in_order() -> None:
    fields = ParsedFields(server_id=SID, farm_id=1439)

    assert fields.as_dict() == {
        "server_id": SID,
        "public_ip": None,
        "internal_ip": None,
        "new_ip": None,
        "farm_id": 1439,
        "farm_role_id": None,
        "role_name": None,
        "env_id": None,
        "farm_name": None,
    }


PATHOLOGICAL = [
    "Instance " + "(" * 60000,
    "Instance " + " (" * 30000,
    "Farm " + " (ID: 1" * 9000 + ") launched",
    "Farm " + "x" * 65000 + " (ID: 1) launched",
    "Rebundle started on instance " + "1" * 65000,
    "EBS volume v successfully mounted to " + " on " * 16000 + " (1.2.3.4) server",
    "Option " + "a" * 65000 + " for role r chnaged",
    "Public IP: " * 6000,
    "Instance i-" + "a" * 65000,
    "IP address for instance " + "0" * 65000,
    ("Instance " + SID + " ") * 1400,
    "\x00" * 65536,
    "\u202e\u0000\udcff" * 20000,
]


@pytest.mark.parametrize("event", KNOWN_EVENTS)
def test_pathological_64k_messages_return(event: str) -> None:
    for message in PATHOLOGICAL:
        assert isinstance(parse_message(event, message), ParsedFields)


def test_random_strings_never_raise() -> None:
    rng = random.Random(20240611)
    alphabet = string.printable + "()#:-.\x00\x1f\x7f\u00e9\u0661\u202e\ud800" + "0123456789abcdef"
    fragments = [
        "Instance ",
        "instance ",
        "Public IP: ",
        "Internal IP: ",
        "UP: ",
        SID,
        IID,
        " (",
        ") ",
        "changed to ",
        "Farm ",
        " (ID: ",
        "for farm #",
        "RoleName: ",
        PUB,
        "EBS volume ",
        " on ",
        "Option ",
        " for role ",
        " for farm role ",
    ]
    for _ in range(4000):
        parts = [
            rng.choice(fragments) if rng.random() < 0.4 else rng.choice(alphabet)
            for _ in range(rng.randint(0, 60))
        ]
        fields = parse_message(rng.choice(KNOWN_EVENTS), "".join(parts))
        for value in (fields.public_ip, fields.internal_ip, fields.new_ip):
            assert value is None or parse_ip(value) == value


# --- event names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("OnHostDown", "HostDown", id="php-on-prefix"),
        pytest.param("HostDown", "HostDown", id="python-bare"),
        pytest.param("Online", "Online", id="on-then-lowercase-stays"),
        pytest.param("  OnHostUp\n", "HostUp", id="whitespace-stripped"),
        pytest.param("OnOnHostDown", "OnHostDown", id="only-one-on-dropped"),
        pytest.param("On", "On", id="bare-on"),
        pytest.param("On_Custom", "On_Custom", id="on-underscore-stays"),
        pytest.param("OnIPAddressChanged", "IPAddressChanged", id="acronym"),
        pytest.param("my_custom_event2", "my_custom_event2", id="custom-name"),
        pytest.param("On" + "A" * 64, "A" * 64, id="64-chars-after-prefix"),
    ],
)
def test_normalise_event_name(raw: str, expected: str) -> None:
    assert normalise_event_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("1HostDown", id="leading-digit"),
        pytest.param("Host-Down", id="dash"),
        pytest.param("Host Down", id="inner-space"),
        pytest.param("H\u00f3stDown", id="non-ascii"),
        pytest.param("Host\x00Down", id="nul"),
        pytest.param("A" * 65, id="too-long"),
        pytest.param("OnA" + "A" * 64, id="too-long-after-prefix"),
        pytest.param("_HostDown", id="leading-underscore"),
    ],
)
def test_normalise_event_name_rejects(raw: str) -> None:
    with pytest.raises(InvalidEventName):
        normalise_event_name(raw)


def test_event_name_re_rejects_trailing_newline() -> None:
    assert EVENT_NAME_RE.match("HostDown\n") is None


# --- URL hints and IPs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("1439", 1439, id="plain"),
        pytest.param("1", 1, id="one"),
        pytest.param("007", 7, id="leading-zeros"),
        pytest.param(str(MAX_ID), MAX_ID, id="max"),
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
    ],
)
def test_parse_int_hint(raw: str | None, expected: int | None) -> None:
    assert parse_int_hint("farm_id", raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["abc", "-1", "1.5", "0", str(MAX_ID + 1), "9" * 5000, " 12", "+5", "1e3", "0x10", "\u0661"],
    ids=[
        "abc",
        "negative",
        "decimal",
        "zero",
        "max+1",
        "huge",
        "space",
        "plus",
        "exp",
        "hex",
        "arabic-digit",
    ],
)
def test_parse_int_hint_rejects_garbage_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidHint, match="farm_role_id"):
        parse_int_hint("farm_role_id", raw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("54.211.17.89", "54.211.17.89", id="ipv4"),
        pytest.param(" 10.0.0.5 ", "10.0.0.5", id="whitespace"),
        pytest.param("2001:DB8:0:0::1", "2001:db8::1", id="ipv6-canonical"),
        pytest.param(None, None, id="none"),
        pytest.param("", None, id="empty"),
        pytest.param("garbage", None, id="garbage"),
        pytest.param("999.1.1.1", None, id="octet-range"),
        pytest.param("10.0.0", None, id="short"),
        pytest.param("01.2.3.4", None, id="leading-zero"),
        pytest.param("fe80::1%eth0", None, id="scope-id"),
        pytest.param("1.2.3.4\x00", None, id="nul"),
        pytest.param("1" * 100, None, id="long"),
    ],
)
def test_parse_ip(text: str | None, expected: str | None) -> None:
    assert parse_ip(text) == expected


# --- webhooks --------------------------------------------------------------------------------


def _payload(**data: Any) -> dict[str, Any]:
    return {
        "eventName": "HostDown",
        "eventId": "a71ff7bc-0fa7-4cc2-9e0b-9fa3581888ce",
        "data": data,
    }


def test_webhook_drops_user_variables_and_reports_their_names() -> None:
    payload = _payload(SCALR_SERVER_ID=SID, DB_PASSWORD="hunter2", api_key="k-123")

    parsed = parse_webhook(payload, keep_user_variables=False)

    assert parsed.data == {"SCALR_SERVER_ID": SID}
    assert parsed.dropped_variables == ["DB_PASSWORD", "api_key"]
    assert "hunter2" not in repr(parsed)
    assert "k-123" not in repr(parsed)


def test_webhook_keeps_user_variables_when_asked() -> None:
    payload = _payload(SCALR_SERVER_ID=SID, DB_PASSWORD="hunter2")

    parsed = parse_webhook(payload, keep_user_variables=True)

    assert parsed.data == {"SCALR_SERVER_ID": SID, "DB_PASSWORD": "hunter2"}
    assert parsed.dropped_variables == []


def test_webhook_bad_values_keep_the_event_and_the_raw_value() -> None:
    payload = _payload(
        SCALR_SERVER_ID="not-a-server",
        SCALR_FARM_ID="abc",
        SCALR_FARM_ROLE_ID="-3",
        SCALR_ENV_ID="1.5",
        SCALR_EXTERNAL_IP="999.0.0.1",
        SCALR_INTERNAL_IP="",
        SCALR_ROLE_NAME="  ",
    )

    parsed = parse_webhook(payload, keep_user_variables=False)

    assert parsed.fields == ParsedFields()
    assert parsed.data["SCALR_FARM_ID"] == "abc"
    assert parsed.data["SCALR_EXTERNAL_IP"] == "999.0.0.1"
    assert parsed.message == "HostDown"


def test_webhook_prefers_event_server_variables() -> None:
    payload = _payload(
        SCALR_SERVER_ID=SID,
        SCALR_EXTERNAL_IP="1.1.1.1",
        SCALR_EVENT_SERVER_ID=SID.upper(),
        SCALR_EVENT_EXTERNAL_IP="2.2.2.2",
        SCALR_INTERNAL_IP="10.0.0.1",
    )

    fields = parse_webhook(payload, keep_user_variables=False).fields

    assert (fields.server_id, fields.public_ip, fields.internal_ip) == (SID, "2.2.2.2", "10.0.0.1")


def test_webhook_other_server_variables_are_not_mixed_in() -> None:
    other = "11111111-2222-3333-4444-555555555555"
    payload = _payload(
        SCALR_SERVER_ID=other,
        SCALR_EXTERNAL_IP="1.1.1.1",
        SCALR_FARM_ID="7",
        SCALR_EVENT_SERVER_ID=SID,
        SCALR_EVENT_FARM_ROLE_ID="12",
    )

    fields = parse_webhook(payload, keep_user_variables=False).fields

    assert fields == ParsedFields(server_id=SID, farm_role_id=12)


def test_webhook_new_ip_only_for_ipaddresschanged() -> None:
    data = {"SCALR_SERVER_ID": SID, "SCALR_NEW_IP_ADDRESS": "54.211.20.14"}
    changed = {**_payload(**data), "eventName": "IPAddressChanged"}

    parsed = parse_webhook(changed, keep_user_variables=False)
    other = parse_webhook(_payload(**data), keep_user_variables=False)

    assert parsed.fields.new_ip == "54.211.20.14"
    assert other.fields.new_ip is None
    assert parse_message(parsed.event_name, parsed.message) == parsed.fields


def test_webhook_summary_reads_back_as_the_same_server_fields() -> None:
    parsed = parse_webhook(json.loads(WEBHOOK_BODY), keep_user_variables=False)
    back = parse_message(parsed.event_name, parsed.message)

    assert (back.server_id, back.public_ip, back.internal_ip) == (
        parsed.fields.server_id,
        parsed.fields.public_ip,
        parsed.fields.internal_ip,
    )


def test_webhook_scalar_values_become_strings_and_missing_data_is_empty() -> None:
    payload = _payload(SCALR_FARM_ID=1439, SCALR_ISDBMASTER=True, SCALR_X=None, SCALR_Y=1.5)
    bare = {"eventName": "OnFarmLaunched", "eventId": " e-1 ", "timestamp": None}

    parsed = parse_webhook(payload, keep_user_variables=False)
    minimal = parse_webhook(bare, keep_user_variables=False)

    assert parsed.data == {
        "SCALR_FARM_ID": "1439",
        "SCALR_ISDBMASTER": "true",
        "SCALR_X": "",
        "SCALR_Y": "1.5",
    }
    assert parsed.fields.farm_id == 1439
    assert (minimal.event_name, minimal.event_id, minimal.data) == ("FarmLaunched", "e-1", {})
    assert (minimal.timestamp, minimal.configuration_id, minimal.endpoint_id) == (None, None, None)
    assert minimal.message == "FarmLaunched"


_GOOD: dict[str, Any] = {"eventName": "HostDown", "eventId": "e-1", "data": {}}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param([], "JSON object", id="list"),
        pytest.param(None, "JSON object", id="null"),
        pytest.param("HostDown", "JSON object", id="string"),
        pytest.param({"eventId": "e-1"}, "eventName", id="no-event-name"),
        pytest.param({**_GOOD, "eventName": " "}, "eventName", id="blank-event-name"),
        pytest.param({**_GOOD, "eventName": 5}, "eventName", id="int-event-name"),
        pytest.param({**_GOOD, "eventName": "Host Down"}, "eventName", id="bad-event-name"),
        pytest.param({"eventName": "HostDown"}, "eventId", id="no-event-id"),
        pytest.param({**_GOOD, "eventId": ""}, "eventId", id="empty-event-id"),
        pytest.param({**_GOOD, "eventId": 12}, "eventId", id="int-event-id"),
        pytest.param({**_GOOD, "eventId": "a\nb"}, "eventId", id="control-in-event-id"),
        pytest.param({**_GOOD, "eventId": "e" * 129}, "eventId", id="long-event-id"),
        pytest.param({**_GOOD, "data": []}, "data", id="data-list"),
        pytest.param({**_GOOD, "data": "x"}, "data", id="data-string"),
        pytest.param({**_GOOD, "data": {"SCALR_X": [1]}}, "SCALR_X", id="list-value"),
        pytest.param({**_GOOD, "data": {"USER": {"a": 1}}}, "USER", id="object-value"),
        pytest.param({**_GOOD, "timestamp": 1491908471}, "timestamp", id="int-timestamp"),
    ],
)
def test_webhook_rejects_bad_payload(payload: Any, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        parse_webhook(payload, keep_user_variables=False)
