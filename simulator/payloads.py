"""What a notification says: legacy message texts and bodies, 5.x webhook data and bodies.

Legacy RESTEventObserver (protocol 1.3, 6.1): a form body with `event=On<Name>`
and a PHP-urlencoded message. 5.x webhooks (2.2 - 2.4): a JSON body with the
SCALR_* variables, signed with HMAC-SHA1 over body + Date.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from simulator.model import Farm, FarmRole, Server, SimEnvironment

# Era C texts (Scalr 3.6 - 4.5, protocol 1.6); the trailing spaces are Scalr's.
MESSAGES = {
    "HostInit": "Instance {sid} Public IP: {pub} Internal IP: {priv} initialized ",
    "HostUp": "Instance {sid} Public IP: {pub} Internal IP: {priv} is UP",
    "HostDown": "Instance {sid} ({pub}) Internal IP: {priv} terminated",
    "HostCrash": "Instance {sid} Public IP: {pub} Internal IP: {priv} crashed",
    "RebootBegin": "Instance {sid} Public IP: {pub} Internal IP: {priv} is going to reboot ",
    "RebootComplete": "Instance {sid} Public IP: {pub} Internal IP: {priv} successfully rebooted",
    "IPAddressChanged": "IP address for instance {sid} has been changed to {new}",
    "FarmLaunched": "Farm has been launched",
    "FarmTerminated": "Farm has been terminated",
}

_PHP_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
WEBHOOK_DATE_FORMAT = "%a %d %b %Y %H:%M:%S UTC"


def event_message(event_name: str, server: Server | None, new_ip: str = "") -> str:
    """Return the text Scalr stores for an event (an unknown event's text is its name)."""
    template = MESSAGES.get(event_name, event_name)
    return template.format(
        sid=server.server_id if server else "",
        pub=server.public_ip if server else "",
        priv=server.internal_ip if server else "",
        new=new_ip,
    )


def server_vars(
    server: Server,
    role: FarmRole,
    farm: Farm,
    env: SimEnvironment | None,
    event_name: str,
) -> dict[str, str]:
    """Return the SCALR_* variables a 5.x webhook carries for a server event."""
    data = {
        "SCALR_SERVER_ID": server.server_id,
        "SCALR_FARM_ID": str(farm.id),
        "SCALR_FARM_NAME": farm.name,
        "SCALR_FARM_HASH": farm.hash,
        "SCALR_FARM_ROLE_ID": str(role.id),
        "SCALR_FARM_ROLE_ALIAS": role.role_name,
        "SCALR_ROLE_NAME": role.role_name,
        "SCALR_INSTANCE_INDEX": str(server.index),
        "SCALR_EXTERNAL_IP": server.public_ip,
        "SCALR_INTERNAL_IP": server.internal_ip,
        "SCALR_CLOUD_LOCATION": role.cloud_location,
        "SCALR_CLOUD_SERVER_ID": server.cloud_server_id,
        "SCALR_ENV_ID": str(farm.env_id),
        "SCALR_ENV_NAME": env.name if env else "",
        "SCALR_EVENT_NAME": event_name,
        "SCALR_EVENT_SERVER_ID": server.server_id,
    }
    if event_name == "IPAddressChanged":
        data["SCALR_NEW_IP_ADDRESS"] = server.public_ip
        data["SCALR_NEW_LOCAL_IP_ADDRESS"] = server.internal_ip
    return data


def php_urlencode(text: str) -> str:
    """Encode like PHP urlencode(): space as '+', only [A-Za-z0-9_.-] left as is."""
    out = []
    for byte in text.encode("utf-8"):
        if byte in _PHP_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def legacy_body(event_name: str, message: str) -> bytes:
    """Build the RESTEventObserver body: event first, then message (protocol 1.3)."""
    return f"event=On{event_name}&message={php_urlencode(message)}".encode("ascii")


def php_json(value: Any) -> str:
    """Serialise like PHP json_encode: compact, non-ASCII as \\u escapes, '/' as '\\/'."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


def webhook_signature(key: str, body: bytes, date: str) -> str:
    """Return the hex HMAC-SHA1 of body + Date with the endpoint key (protocol 2.4)."""
    return hmac.new(key.encode("ascii"), body + date.encode("ascii"), hashlib.sha1).hexdigest()


def webhook_request(
    event_name: str,
    data: Mapping[str, str],
    *,
    key: str,
    configuration_id: str,
    endpoint_id: str,
    now: float | None = None,
) -> tuple[bytes, dict[str, str]]:
    """Build a signed 5.x webhook body and its headers (protocol 2.2 - 2.4)."""
    date = time.strftime(WEBHOOK_DATE_FORMAT, time.gmtime(now))
    payload = {
        "eventName": event_name,
        "eventId": str(uuid.uuid4()),
        "timestamp": date,
        "configurationId": configuration_id,
        "data": dict(data),
        "userData": "",
        "endpointId": endpoint_id,
    }
    body = php_json(payload).encode("ascii")
    headers = {
        "Date": date,
        "X-Signature": webhook_signature(key, body, date),
        "X-Scalr-Webhook-Id": uuid.uuid4().hex.upper(),
        "Content-type": "application/json",
    }
    return body, headers
