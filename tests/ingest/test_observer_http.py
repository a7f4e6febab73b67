"""POST /events end to end: the exact bytes each Scalr sender puts on the wire."""

from __future__ import annotations

import pytest

from tests.conftest import INGEST_TOKEN
from tests.factories import PRIV, PUB, SID, count_events, only_event
from tests.ingest.golden import WIRE_CASES

FORM = "application/x-www-form-urlencoded"


def post_raw(client, query: str, body: bytes = b"", content_type: str | None = FORM, **kw):
    headers = kw.pop("headers", {})
    if content_type:
        headers["Content-Type"] = content_type
    return client.post(f"/events?{query}", data=body, headers=headers, **kw)


# scalr-protocol.md 6.1: PHP RESTEventObserver, Scalr 3.6 - 4.5.
def test_php_sender_hostdown_exact_bytes(client, session_factory):
    body = (
        b"event=OnHostDown&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3"
        b"+%2854.211.17.89%29+Internal+IP%3A+10.183.42.7+terminated"
    )
    assert len(body) == 127
    response = post_raw(client, f"farm_id=1439&token={INGEST_TOKEN}", body)
    assert response.status_code == 202
    event = only_event(session_factory)
    assert response.get_json() == {"id": event.id}
    assert (event.name, event.server_id, event.public_ip, event.internal_ip) == (
        "HostDown",
        SID,
        PUB,
        PRIV,
    )
    assert event.farm_id == 1439
    assert event.farm_role_id is None and event.env_id is None and event.new_ip is None
    assert event.message == f"Instance {SID} ({PUB}) Internal IP: {PRIV} terminated"
    assert event.source == "observer"
    assert event.data == {} and event.enriched_fields == []


@pytest.mark.parametrize(
    ("body", "name", "expected"),
    [
        (
            b"event=OnHostUp&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+Public+IP%3A"
            b"+54.211.17.89+Internal+IP%3A+10.183.42.7+is+UP",
            "HostUp",
            {"server_id": SID, "public_ip": PUB, "internal_ip": PRIV},
        ),
        (
            b"event=OnIPAddressChanged&message=IP+address+for+instance+5bbd72c5-908c-4535-a7ec-"
            b"2fbf56486ff3+has+been+changed+to+54.211.20.14",
            "IPAddressChanged",
            {"server_id": SID, "new_ip": "54.211.20.14", "public_ip": None},
        ),
        # 6.2: the 2.x/3.0/3.5 templates end in a space, sent as a trailing '+'.
        (
            b"event=OnHostDown&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+%2854.211.17.89"
            b"%29+Internal+IP%3A+10.183.42.7+terminated+",
            "HostDown",
            {"server_id": SID, "public_ip": PUB, "internal_ip": PRIV},
        ),
        # 6.3: Scalr 1.x names the EC2 instance and the role.
        (
            b"event=OnHostDown&message=Instance+i-3f2a1b4c+%28app64%29+Public+IP%3A+75.101.12.34"
            b"+Internal+IP%3A+10.251.6.7+terminated+",
            "HostDown",
            {
                "server_id": "i-3f2a1b4c",
                "role_name": "app64",
                "public_ip": "75.101.12.34",
                "internal_ip": "10.251.6.7",
            },
        ),
    ],
    ids=["3.6-hostup", "3.6-ipchanged", "3.0-hostdown-trailing-space", "1.x-hostdown"],
)
def test_wire_examples(client, session_factory, body, name, expected):
    response = post_raw(client, f"token={INGEST_TOKEN}", body)
    assert response.status_code == 202, response.get_json()
    event = only_event(session_factory)
    assert event.name == name
    assert event.message == event.message.strip()
    for field, value in expected.items():
        assert getattr(event, field) == value, field


# 6.4: the Scalr 4.5 Python daemon puts both fields in the query string, body empty.
def test_python_sender_query_string_only(client, session_factory):
    query = (
        f"farm_id=1439&token={INGEST_TOKEN}&event=HostDown&message=Instance+5bbd72c5-908c-4535-"
        "a7ec-2fbf56486ff3+%2854.211.17.89%29+Internal+IP%3A+10.183.42.7+terminated"
    )
    response = client.post(
        f"/events?{query}", headers={"User-Agent": "python-requests/2.x", "Content-Length": "0"}
    )
    assert response.status_code == 202
    event = only_event(session_factory)
    assert (event.name, event.server_id, event.farm_id) == ("HostDown", SID, 1439)


def test_json_body_and_bearer_token(client, session_factory):
    response = client.post(
        "/events?farm_role_id=1978&env_id=3",
        json={
            "event": "OnHostCrash",
            "message": f"Instance {SID} Public IP:  Internal IP: {PRIV} crashed",
        },
        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
    )
    assert response.status_code == 202
    event = only_event(session_factory)
    assert event.name == "HostCrash"
    assert event.public_ip is None  # an empty IP is null, not garbage
    assert event.internal_ip == PRIV
    assert (event.farm_role_id, event.env_id) == (1978, 3)
    assert event.raw["headers"]["Authorization"] == "[redacted]"


def test_custom_event_is_stored_not_refused(client, session_factory):
    response = post_raw(
        client, f"token={INGEST_TOKEN}", b"event=OnDeployFinished&message=DeployFinished"
    )
    assert response.status_code == 202
    event = only_event(session_factory)
    assert event.name == "DeployFinished"
    assert event.server_id is None


def test_token_never_stored(client, session_factory):
    post_raw(client, f"token={INGEST_TOKEN}&farm_id=1", b"event=OnHostUp&message=x")
    event = only_event(session_factory)
    assert INGEST_TOKEN not in repr(event.raw)
    assert event.raw["query"]["token"] == ["[redacted]"]
    assert event.raw["query"]["farm_id"] == ["1"]


def test_each_delivery_is_its_own_event(client, session_factory):
    for _ in range(3):
        assert (
            post_raw(client, f"token={INGEST_TOKEN}", b"event=OnHostUp&message=m").status_code
            == 202
        )
    assert count_events(session_factory) == 3


def test_allowed_address_and_trusted_proxy(make_app, session_factory):
    app = make_app(environ={"INGEST_ALLOWED_IPS": "10.0.0.0/8", "TRUSTED_PROXIES": "1"})
    client = app.test_client()
    ok = client.post(
        f"/events?token={INGEST_TOKEN}",
        data=b"event=OnHostUp&message=m",
        content_type=FORM,
        headers={"X-Forwarded-For": "6.6.6.6, 10.1.2.3"},
    )
    assert ok.status_code == 202
    assert only_event(session_factory).remote_addr == "10.1.2.3"
    # A client cannot forge its way in by adding entries on the left.
    spoofed = client.post(
        f"/events?token={INGEST_TOKEN}",
        data=b"event=OnHostUp&message=m",
        content_type=FORM,
        headers={"X-Forwarded-For": "10.9.9.9, 6.6.6.6"},
    )
    assert spoofed.status_code == 403
    assert count_events(session_factory) == 1


def test_fewer_hops_than_trusted_proxies_keeps_the_socket_address(make_app, session_factory):
    # Deliberate fix: one hop where two proxies are trusted means the entry was written by
    # the client (or a proxy in front of ours that is not trusted); the socket address counts.
    app = make_app(environ={"INGEST_ALLOWED_IPS": "10.0.0.0/8", "TRUSTED_PROXIES": "2"})
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    response = client.post(
        f"/events?token={INGEST_TOKEN}",
        data=b"event=OnHostUp&message=m",
        content_type=FORM,
        headers={"X-Forwarded-For": "6.6.6.6"},
    )
    assert response.status_code == 202
    assert only_event(session_factory).remote_addr == "10.0.0.1"
    # ... and a client-written entry cannot take the place of a refused socket address.
    client.environ_base["REMOTE_ADDR"] = "6.6.6.6"
    forged = client.post(
        f"/events?token={INGEST_TOKEN}",
        data=b"event=OnHostUp&message=m",
        content_type=FORM,
        headers={"X-Forwarded-For": "10.9.9.9"},
    )
    assert forged.status_code == 403
    assert count_events(session_factory) == 1


def test_forwarded_for_is_ignored_without_trusted_proxies(make_app, session_factory):
    client = make_app().test_client()
    response = client.post(
        f"/events?token={INGEST_TOKEN}",
        data=b"event=OnHostUp&message=m",
        content_type=FORM,
        headers={"X-Forwarded-For": "6.6.6.6"},
    )
    assert response.status_code == 202
    assert only_event(session_factory).remote_addr == "127.0.0.1"


@pytest.mark.parametrize("case", WIRE_CASES, ids=[c.id for c in WIRE_CASES])
def test_every_golden_wire_example_is_stored_with_its_fields(client, session_factory, case):
    """Each section 6 delivery, sent as Scalr sends it, stores exactly the golden fields."""
    if case.id.startswith("6.4"):
        query = case.body.replace("token=s3cr3t", f"token={INGEST_TOKEN}")
        response = client.post(f"/events?{query}", headers={"Content-Length": "0"})
    else:
        response = post_raw(client, f"token={INGEST_TOKEN}", case.body.encode())
    assert response.status_code == 202, response.get_json()
    event = only_event(session_factory)
    assert event.name == case.event
    expected = case.expected.as_dict()
    expected.pop("farm_name")
    if case.id.startswith("6.4"):
        expected["farm_id"] = 1439  # the URL hint
    stored = {field: getattr(event, field) for field in expected}
    assert stored == expected
