"""POST /webhooks/scalr: Scalr 5.x signed JSON webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from app.services import services_of
from tests.conftest import WEBHOOK_KEY
from tests.factories import PRIV, SID, count_events, only_event, sign_webhook

# scalr-protocol.md 6.6, byte for byte, with its documented signature.
GOLDEN_BODY = (
    b'{"eventName":"HostDown","eventId":"a71ff7bc-0fa7-4cc2-9e0b-9fa3581888ce",'
    b'"timestamp":"Tue 11 Apr 2017 11:01:11 UTC","configurationId":"f257be82-f4ec-49d4-89a0-1891e25f8780",'
    b'"data":{"SCALR_SERVER_ID":"5bbd72c5-908c-4535-a7ec-2fbf56486ff3","SCALR_FARM_ID":"1439",'
    b'"SCALR_FARM_NAME":"test","SCALR_FARM_ROLE_ID":"1978","SCALR_FARM_ROLE_ALIAS":"ubuntu16-base",'
    b'"SCALR_ROLE_NAME":"ubuntu16-base","SCALR_EXTERNAL_IP":"138.201.45.101","SCALR_INTERNAL_IP":"10.0.0.14",'
    b'"SCALR_ENV_ID":"24","SCALR_EVENT_NAME":"HostDown",'
    b'"SCALR_EVENT_SERVER_ID":"5bbd72c5-908c-4535-a7ec-2fbf56486ff3"},'
    b'"userData":"","endpointId":"03c8b252-1190-44c4-b9da-1074eaa215fc"}'
)
GOLDEN_DATE = "Tue 11 Apr 2017 11:01:11 UTC"
GOLDEN_SIGNATURE = "da6115ddf6d04f97d9edbdb5b555af6b5a004d1e"
GOLDEN_NOW = datetime(2017, 4, 11, 11, 1, 30, tzinfo=UTC)


@pytest.fixture
def hook_app(make_app):
    application = make_app()
    services_of(application).clock = lambda: GOLDEN_NOW
    return application


def post_hook(
    client, body: bytes, date: str | None = GOLDEN_DATE, signature: str | None = None, **headers
):
    sent = {
        "Content-Type": "application/json",
        "X-Scalr-Webhook-Id": "3F1A0C9E2B7D4C51A8E6F0D2B9C47E13",
    }
    if date is not None:
        sent["Date"] = date
    if signature is None and date is not None:
        signature = sign_webhook(WEBHOOK_KEY, body, date)
    if signature is not None:
        sent["X-Signature"] = signature
    sent.update(headers)
    return client.post("/webhooks/scalr", data=body, headers=sent)


def test_documented_signature_matches_our_signer():
    assert sign_webhook(WEBHOOK_KEY, GOLDEN_BODY, GOLDEN_DATE) == GOLDEN_SIGNATURE


def test_golden_webhook_is_stored(hook_app, session_factory):
    response = post_hook(hook_app.test_client(), GOLDEN_BODY, signature=GOLDEN_SIGNATURE)
    assert response.status_code == 202, response.get_json()
    event = only_event(session_factory)
    assert response.get_json() == {"id": event.id}
    assert event.name == "HostDown" and event.source == "webhook"
    assert event.server_id == SID
    assert (event.farm_id, event.farm_role_id, event.env_id) == (1439, 1978, 24)
    assert event.public_ip == "138.201.45.101" and event.internal_ip == "10.0.0.14"
    assert event.role_name == "ubuntu16-base"
    assert event.external_id == "a71ff7bc-0fa7-4cc2-9e0b-9fa3581888ce"
    assert event.data["SCALR_FARM_NAME"] == "test"
    assert "X-Signature" not in event.raw["headers"]


def test_repeated_event_id_answers_200_and_stores_nothing_new(hook_app, session_factory):
    client = hook_app.test_client()
    first = post_hook(client, GOLDEN_BODY)
    again = post_hook(client, GOLDEN_BODY)
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.get_json() == {"id": first.get_json()["id"], "duplicate": True}
    assert count_events(session_factory) == 1


def _payload(**data: str) -> dict:
    return {
        "eventName": "HostUp",
        "eventId": "e1",
        "timestamp": GOLDEN_DATE,
        "data": {"SCALR_SERVER_ID": SID, "SCALR_INTERNAL_IP": PRIV, **data},
        "userData": "db_password=hunter2",
    }


def test_user_variables_dropped_by_default(hook_app, session_factory):
    body = json.dumps(_payload(DB_PASSWORD="hunter2", SCALR_FARM_ID="7")).encode()
    assert post_hook(hook_app.test_client(), body).status_code == 202
    event = only_event(session_factory)
    assert "DB_PASSWORD" not in event.data
    assert event.data["SCALR_FARM_ID"] == "7"
    assert "hunter2" not in json.dumps(event.raw)
    assert event.raw["body"]["dropped_variables"] == ["DB_PASSWORD"]


def test_user_variables_kept_when_configured(make_app, session_factory):
    application = make_app(webhook_keep_user_variables=True)
    services_of(application).clock = lambda: GOLDEN_NOW
    body = json.dumps(_payload(DEPLOY_COLOUR="blue")).encode()
    assert post_hook(application.test_client(), body).status_code == 202
    assert only_event(session_factory).data["DEPLOY_COLOUR"] == "blue"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"signature": "0" * 40}, 401, "bad_signature"),
        ({"signature": GOLDEN_SIGNATURE.upper()[:-1] + "0"}, 401, "bad_signature"),
        ({"date": None, "signature": GOLDEN_SIGNATURE}, 401, "missing_date"),
        ({"date": "yesterday-ish", "signature": GOLDEN_SIGNATURE}, 401, "bad_date"),
        ({"date": "Tue 11 Apr 2017 11:06:31 UTC"}, 401, "stale_date"),
        ({"date": "Tue 11 Apr 2017 10:56:10 UTC"}, 401, "stale_date"),
    ],
    ids=["zeros", "tampered", "no-date", "bad-date", "future", "past"],
)
def test_signature_and_date_refusals(hook_app, session_factory, kwargs, status, code):
    response = post_hook(hook_app.test_client(), GOLDEN_BODY, **kwargs)
    assert response.status_code == status
    assert response.get_json()["error"] == code
    assert count_events(session_factory) == 0


def test_missing_signature_header(hook_app, session_factory):
    response = hook_app.test_client().post(
        "/webhooks/scalr",
        data=GOLDEN_BODY,
        headers={"Content-Type": "application/json", "Date": GOLDEN_DATE},
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "missing_signature"


def test_non_ascii_signature_is_a_bad_signature_not_a_crash(hook_app, session_factory):
    # A 500 would make Scalr retry; a signature that is not hex is simply wrong.
    response = post_hook(hook_app.test_client(), GOLDEN_BODY, signature="\u00e9" * 40)
    assert response.status_code == 401
    assert response.get_json()["error"] == "bad_signature"
    assert count_events(session_factory) == 0


def test_signed_body_changed_in_transit(hook_app, session_factory):
    tampered = GOLDEN_BODY.replace(b'"1439"', b'"1440"')
    response = post_hook(hook_app.test_client(), tampered, signature=GOLDEN_SIGNATURE)
    assert response.status_code == 401
    assert count_events(session_factory) == 0


@pytest.mark.parametrize(
    ("body", "ctype", "status", "code"),
    [
        (b"not json", "application/json", 400, "malformed_json"),
        (b"[]", "application/json", 400, "invalid_payload"),
        (b'{"eventName": "HostUp"}', "application/json", 400, "invalid_payload"),
        (
            b'{"eventName": "Host Up", "eventId": "x", "data": {}}',
            "application/json",
            400,
            "invalid_payload",
        ),
        (
            b'{"eventName": "HostUp", "eventId": "x", "data": []}',
            "application/json",
            400,
            "invalid_payload",
        ),
        (b"\xff\xfe", "application/json", 400, "invalid_encoding"),
        (b"eventName=HostUp", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
    ids=["not-json", "array", "no-event-id", "bad-name", "data-array", "bad-utf8", "form"],
)
def test_bad_payloads_signed_correctly_are_refused(
    hook_app, session_factory, body, ctype, status, code
):
    response = post_hook(hook_app.test_client(), body, **{"Content-Type": ctype})
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"] == code
    assert count_events(session_factory) == 0


def test_webhooks_disabled_without_key(make_app, session_factory):
    client = make_app(scalr_webhook_key=None).test_client()
    response = post_hook(client, GOLDEN_BODY)
    assert response.status_code == 404
    assert response.get_json()["error"] == "webhooks_disabled"
    assert count_events(session_factory) == 0


def test_real_clock_refuses_an_old_date(client, session_factory):
    old = (datetime.now(UTC) - timedelta(seconds=301)).strftime("%a %d %b %Y %H:%M:%S UTC")
    response = post_hook(client, GOLDEN_BODY, date=old)
    assert response.status_code == 401
    assert response.get_json()["error"] == "stale_date"
    fresh = datetime.now(UTC).strftime("%a %d %b %Y %H:%M:%S UTC")
    assert post_hook(client, GOLDEN_BODY, date=fresh).status_code == 202


@pytest.mark.postgres
def test_racing_deliveries_of_one_event_store_it_once(hook_app, session_factory):
    import threading

    answers: list[int] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        client = hook_app.test_client()
        barrier.wait()
        answers.append(post_hook(client, GOLDEN_BODY).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(answers) == [200] * 7 + [202]
    assert count_events(session_factory) == 1
