"""Normalising a read delivery into an event row, scrubbing and committing it, without HTTP."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.ingest import store, wire
from app.ingest.parsing import InvalidEventName, InvalidHint, InvalidPayload
from app.models.event import Event
from tests.ingest.golden import PRIV, PUB, SID, WEBHOOK_BODY, WEBHOOK_EXPECTED

FORM = "application/x-www-form-urlencoded"
HOSTDOWN = (
    b"event=OnHostDown&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3"
    b"+%2854.211.17.89%29+Internal+IP%3A+10.183.42.7+terminated"
)


def observer(body: bytes = HOSTDOWN, qs: bytes = b"token=s3cr3t&farm_id=1439", **headers: str):
    return wire.Delivery(
        method="POST",
        path="/events",
        query_string=qs,
        body=body,
        content_type=FORM,
        headers={"Content-Type": FORM, "Host": "lifeguard", **headers},
        remote_addr="10.0.0.5",
    )


def hook(body: bytes = WEBHOOK_BODY.encode()) -> wire.Delivery:
    return wire.Delivery(
        method="POST",
        path="/webhooks/scalr",
        query_string=b"",
        body=body,
        content_type="application/json",
        headers={"Content-Type": "application/json", "X-Signature": "abc", "Date": "d"},
        remote_addr="10.0.0.6",
    )


def stored(session) -> int:
    return session.scalar(select(func.count()).select_from(Event)) or 0


def test_observer_delivery_is_stored_with_its_fields(db_session):
    event = store.receive_observer(db_session, observer(Authorization="Bearer s3cr3t"))
    db_session.expire_all()
    row = db_session.get(Event, event.id)
    assert (row.name, row.server_id, row.public_ip, row.internal_ip) == ("HostDown", SID, PUB, PRIV)
    assert row.message == f"Instance {SID} ({PUB}) Internal IP: {PRIV} terminated"
    assert (row.farm_id, row.farm_role_id, row.env_id) == (1439, None, None)
    assert (row.source, row.remote_addr, row.data, row.enriched_fields) == (
        "observer",
        "10.0.0.5",
        {},
        [],
    )
    assert row.raw == {
        "method": "POST",
        "path": "/events",
        "query": {"token": ["[redacted]"], "farm_id": ["1439"]},
        "headers": {"Content-Type": FORM, "Authorization": "[redacted]"},
        "body": HOSTDOWN.decode(),
    }
    assert "s3cr3t" not in json.dumps(row.raw)


def test_the_text_wins_over_the_url_hint(db_session):
    body = b"event=OnFarmLaunched&message=Farm+prod+%28ID%3A+7%29+launched"
    event = store.receive_observer(db_session, observer(body, qs=b"farm_id=1439&env_id=3"))
    assert (event.farm_id, event.env_id) == (7, 3)


def test_nul_characters_are_kept_visible(db_session):
    event = store.receive_observer(db_session, observer(b"event=OnCustom&message=a%00b"))
    db_session.expire_all()
    row = db_session.get(Event, event.id)
    assert row.message == "a\u2400b"
    assert "\x00" not in json.dumps(row.raw)


@pytest.mark.parametrize(
    ("body", "qs", "error"),
    [
        (b"message=m", b"", store.MissingEvent),
        (b"event=+&message=m", b"", store.MissingEvent),
        (b"event=Host+Down", b"", InvalidEventName),
        (b"event=OnHostUp", b"farm_id=abc", InvalidHint),
        (b"event=OnHostUp", b"env_id=0", InvalidHint),
        (b"event=OnHostUp&event=OnHostUp", b"", wire.DuplicateField),
    ],
)
def test_observer_refusals_store_nothing(db_session, body, qs, error):
    with pytest.raises(error):
        store.receive_observer(db_session, observer(body, qs=qs))
    assert stored(db_session) == 0


def test_golden_webhook_is_stored(db_session):
    event, duplicate = store.receive_webhook(db_session, hook(), keep_user_variables=False)
    assert duplicate is False
    db_session.expire_all()
    row = db_session.get(Event, event.id)
    expected = WEBHOOK_EXPECTED.as_dict()
    expected.pop("farm_name")
    assert {field: getattr(row, field) for field in expected} == expected
    assert (row.name, row.source, row.external_id) == (
        "HostDown",
        "webhook",
        "a71ff7bc-0fa7-4cc2-9e0b-9fa3581888ce",
    )
    assert row.data["SCALR_FARM_NAME"] == "test"
    assert "X-Signature" not in row.raw["headers"]
    assert row.raw["body"]["endpointId"] == "03c8b252-1190-44c4-b9da-1074eaa215fc"


def test_a_repeated_event_id_returns_the_stored_event(db_session):
    first, _ = store.receive_webhook(db_session, hook(), keep_user_variables=False)
    again, duplicate = store.receive_webhook(db_session, hook(), keep_user_variables=False)
    assert duplicate is True and again.id == first.id
    assert stored(db_session) == 1


def test_user_variables_and_user_data_are_dropped_unless_kept(db_session):
    payload = {
        "eventName": "HostUp",
        "eventId": "e-1",
        "data": {"SCALR_SERVER_ID": SID, "DB_PASSWORD": "hunter2"},
        "userData": "db_password=hunter2",
    }
    event, _ = store.receive_webhook(
        db_session, hook(json.dumps(payload).encode()), keep_user_variables=False
    )
    assert event.data == {"SCALR_SERVER_ID": SID}
    assert event.raw["body"]["userData"] == "[redacted]"
    assert event.raw["body"]["dropped_variables"] == ["DB_PASSWORD"]
    assert "hunter2" not in json.dumps(event.raw)
    payload["eventId"] = "e-2"
    kept, _ = store.receive_webhook(
        db_session, hook(json.dumps(payload).encode()), keep_user_variables=True
    )
    assert kept.data["DB_PASSWORD"] == "hunter2"
    assert kept.raw["body"]["userData"] == "db_password=hunter2"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[]", InvalidPayload),
        (b'{"eventName": "Host Up", "eventId": "x"}', InvalidPayload),
        (b'{"eventName": "HostUp"}', InvalidPayload),
        (b"nope", wire.MalformedJSON),
    ],
)
def test_webhook_refusals_store_nothing(db_session, body, error):
    with pytest.raises(error):
        store.receive_webhook(db_session, hook(body), keep_user_variables=False)
    assert stored(db_session) == 0


def test_scrub_reaches_into_keys_lists_and_values():
    assert store.scrub({"a\x00": ["b\x00", 1, None, {"c": "\x00"}]}) == {
        "a\u2400": ["b\u2400", 1, None, {"c": "\u2400"}]
    }


def test_redacted_query_hides_every_token_value():
    assert store.redacted_query({"TOKEN": ["a", "b"], "farm_id": ["1"]}) == {
        "TOKEN": ["[redacted]", "[redacted]"],
        "farm_id": ["1"],
    }


def test_sqlite_ids_are_read_off_the_insert_only_when_every_row_went_in():
    from app.ingest.driver import inserted_ids

    rows = [{"ingest_key": "a"}, {"ingest_key": "b"}, {"ingest_key": "c"}]
    assert inserted_ids(3, 12, rows) == {"a": 10, "b": 11, "c": 12}
    assert inserted_ids(2, 12, rows) == {}  # a conflict kept one out: read them by key
    assert inserted_ids(3, None, rows) == {}
