"""The simulator's answers and notifications, byte for byte (protocol 3.4, 1.3, 2.4, 6.1)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import requests

from app.scalr.client import ScalrClient
from simulator import Fault, SimState, SimulatorServer
from simulator.payloads import php_urlencode
from tests.scalr.conftest import Receiver

SID = "5bbd72c5-908c-4535-a7ec-2fbf56486ff3"
PUB, PRIV = "54.211.17.89", "10.183.42.7"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
WEBHOOK_KEY = "kQ1v0m3Jb7QeXh0xYk2n8cJz5pWf4uR9tA6sD1gH3jK5lZ7xC9vB2nM4qW6eR8tY"

BODIES = {
    "HostDown": "event=OnHostDown&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+%2854.211.17.89%29+Internal+IP%3A+10.183.42.7+terminated",
    "HostUp": "event=OnHostUp&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+Public+IP%3A+54.211.17.89+Internal+IP%3A+10.183.42.7+is+UP",
    "IPAddressChanged": "event=OnIPAddressChanged&message=IP+address+for+instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+has+been+changed+to+54.211.20.14",
    "RebootComplete": "event=OnRebootComplete&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+Public+IP%3A+54.211.17.89+Internal+IP%3A+10.183.42.7+successfully+rebooted",
}


def raw_call(scalr_client: ScalrClient, action: str, **params: object) -> requests.Response:
    """Send a correctly signed call and return the raw HTTP answer."""
    from app.scalr.client import encode_params
    from app.scalr.signing import format_timestamp, signed_params

    env = scalr_client.environment
    fields = signed_params(
        action=action,
        version=env.version,
        key_id=env.key_id,
        secret_key=env.secret_key,
        timestamp=format_timestamp(scalr_client.clock()),
        env_id=env.env_id,
        params=encode_params(params),
    )
    return scalr_client.session.post(env.api_url, data=fields, timeout=5)


def test_success_shape(scalr_client: ScalrClient) -> None:
    answer = raw_call(scalr_client, "ServerReboot", ServerID="nope")
    assert answer.headers["Content-Type"] == "text/xml"
    answer = raw_call(scalr_client, "Hello")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/xml"
    assert answer.headers["Content-Length"] == str(len(answer.content))
    assert re.fullmatch(
        rb'<\?xml version="1.0"\?>\n<HelloResponse><TransactionID>'
        + UUID.encode()
        + rb"</TransactionID><Result>1</Result></HelloResponse>\n",
        answer.content,
    )


def test_empty_set_and_empty_element(scalr_client: ScalrClient) -> None:
    answer = raw_call(scalr_client, "GlobalVariablesList")
    assert answer.content.endswith(b"<VariableSet/></GlobalVariablesListResponse>\n")
    farms = raw_call(scalr_client, "FarmsList").content
    assert (
        b"<FarmSet><Item><ID>1439</ID><Name>prod</Name><Status>1</Status><Comments/></Item>"
        in farms
    )


def test_error_shape_with_unescaped_message(scalr_client: ScalrClient, sim_state: SimState) -> None:
    sim_state.add_fault(Fault("error", action="Hello", message="a & b <c>", remaining=1))
    answer = raw_call(scalr_client, "Hello")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/xml"
    assert re.fullmatch(
        rb'<\?xml version="1.0"\?>\n<Error>\n\t<TransactionID>'
        + UUID.encode()
        + rb"</TransactionID>\n\t<Message>a & b <c></Message>\n</Error>\n",
        answer.content,
    )


def test_action_is_echoed_verbatim(scalr_client: ScalrClient) -> None:
    answer = raw_call(scalr_client, "hello")
    assert answer.content.startswith(b'<?xml version="1.0"?>\n<helloResponse>')


def test_php_urlencode() -> None:
    assert php_urlencode("a b~c*(1):#é") == "a+b%7Ec%2A%281%29%3A%23%C3%A9"


def seed_known_server(state: SimState, status: str = "Running") -> None:
    state.add_server(1978, status=status, server_id=SID, public_ip=PUB, internal_ip=PRIV)


def test_legacy_notifications_have_the_exact_bytes_of_6_1(
    sim: SimulatorServer, sim_state: SimState, scalr_client: ScalrClient, receiver: Receiver
) -> None:
    for event in BODIES:
        sim_state.notifier.config.urls[event] = f"{receiver.url}/scalr?farm_id=1439&token=s3cr3t"
    seed_known_server(sim_state, status="Initializing")
    sim_state.advance(2)  # -> Running: HostUp
    scalr_client.server_reboot(SID)
    sim_state.advance(2)  # RebootComplete
    sim_state.change_ip(sim_state.servers[SID], "54.211.20.14")
    sim_state.servers[SID].public_ip = PUB
    scalr_client.server_terminate(SID)
    sim_state.advance(1)  # -> Terminated: HostDown
    assert sim_state.notifier.flush()
    got = receiver.wait_for(4)
    assert [r.body.decode() for r in got] == [
        BODIES["HostUp"],
        BODIES["RebootComplete"],
        BODIES["IPAddressChanged"],
        BODIES["HostDown"],
    ]
    assert len(got[-1].body) == 127
    for request in got:
        assert request.method == "POST"
        assert request.path == "/scalr?farm_id=1439&token=s3cr3t"
        names = [name.lower() for name, _ in request.raw_headers]
        assert sorted(names) == ["accept", "content-length", "content-type", "host"]
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert request.headers["Accept"] == "*/*"


def test_default_url_gets_every_event_in_order(
    sim: SimulatorServer, sim_state: SimState, scalr_client: ScalrClient, receiver: Receiver
) -> None:
    sim_state.notifier.config.default_url = f"{receiver.url}/events"
    server_id = scalr_client.server_launch(1978)
    sim_state.advance(3)
    assert sim_state.notifier.flush()
    events = [r.body.split(b"&")[0] for r in receiver.wait_for(2)]
    assert events == [b"event=OnHostInit", b"event=OnHostUp"]
    assert server_id.encode() in receiver.requests[0].body
    assert receiver.requests[0].body.endswith(b"initialized+")


def test_webhook_signature_verifies(
    sim: SimulatorServer, sim_state: SimState, receiver: Receiver
) -> None:
    config = sim_state.notifier.config
    config.webhook_url, config.webhook_key = f"{receiver.url}/webhooks/scalr", WEBHOOK_KEY
    seed_known_server(sim_state)
    sim_state.terminate_server(sim_state.servers[SID])
    sim_state.advance(1)
    assert sim_state.notifier.flush()
    got = receiver.wait_for(2)
    host_down = next(r for r in got if b'"eventName":"HostDown"' in r.body)
    date = host_down.headers["Date"]
    assert time.strptime(date, "%a %d %b %Y %H:%M:%S UTC")
    expected = hmac.new(WEBHOOK_KEY.encode(), host_down.body + date.encode(), hashlib.sha1)
    assert host_down.headers["X-Signature"] == expected.hexdigest()
    assert re.fullmatch(r"[0-9A-F]{32}", host_down.headers["X-Scalr-Webhook-Id"])
    assert host_down.headers["Content-type"] == "application/json"
    payload = json.loads(host_down.body)
    assert list(payload) == [
        "eventName",
        "eventId",
        "timestamp",
        "configurationId",
        "data",
        "userData",
        "endpointId",
    ]
    assert payload["timestamp"] == date
    assert payload["data"]["SCALR_SERVER_ID"] == SID
    assert payload["data"]["SCALR_FARM_ID"] == "1439"
    assert payload["data"]["SCALR_EXTERNAL_IP"] == PUB
    assert payload["data"]["SCALR_EVENT_NAME"] == "HostDown"
