"""Parse Scalr event deliveries (legacy observer texts, 5.x webhooks) into normalised fields.

Pure functions, no Flask and no database. Protocol references are to scalr-protocol.md.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.eventnames import strip_on_prefix
from app.limits import MAX_ID, positive_int

logger = logging.getLogger(__name__)

# \Z rather than $: "$" would also accept a name followed by a newline.
EVENT_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}\Z")
EVENT_ID_RE = re.compile(r"[\x21-\x7e]{1,128}")
SCALR_PREFIX = "SCALR_"


class InvalidEventName(ValueError):
    """An event name that is empty or not a plain identifier."""


class InvalidHint(ValueError):
    """A URL hint (farm_id, farm_role_id, env_id) that is not a positive integer."""


class InvalidPayload(ValueError):
    """A webhook body that is not a well-formed Scalr 5.x webhook payload."""


@dataclass(frozen=True)
class ParsedFields:
    """The fields one delivery carries; None where it carries nothing."""

    server_id: str | None = None
    public_ip: str | None = None
    internal_ip: str | None = None
    new_ip: str | None = None
    farm_id: int | None = None
    farm_role_id: int | None = None
    role_name: str | None = None
    env_id: int | None = None
    farm_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class WebhookParsed:
    """A validated 5.x webhook delivery."""

    event_name: str
    event_id: str
    message: str
    fields: ParsedFields
    data: dict[str, str]
    dropped_variables: list[str]
    timestamp: str | None
    configuration_id: str | None
    endpoint_id: str | None


# --- primitives -----------------------------------------------------------------------------

_SID = (
    r"(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|i-(?:[0-9A-Fa-f]{17}|[0-9A-Fa-f]{8}))(?![0-9A-Za-z_-])"
)
_SID_RE = re.compile(_SID, re.ASCII)
# An IP slot: anything up to whitespace or a parenthesis, validated afterwards by parse_ip.
# 64 is more than the longest textual IP (45), so a longer run is never cut into a valid one.
_TOK = r"[^\s()]{0,64}"
_ROLE = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_INT = r"[0-9]{1,19}"
_END = r"(?=\s|\Z)"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_RE = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}\Z")


def normalise_event_name(raw: str) -> str:
    """Strip whitespace and one leading "On" before an uppercase letter; validate the name."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidEventName("event name is empty")
    name = strip_on_prefix(raw.strip())
    if not EVENT_NAME_RE.match(name):
        raise InvalidEventName(
            "event name must be a letter followed by at most 63 letters, digits or underscores"
        )
    return name


def parse_ip(text: str | None) -> str | None:
    """Return the canonical form of an IPv4/IPv6 address, or None for anything else."""
    if not text:
        return None
    text = text.strip()
    # A scope id ("fe80::1%eth0") may hold arbitrary text; no Scalr field carries one.
    if not text or len(text) > 64 or "%" in text:
        return None
    if _IPV4_RE.match(text):
        # A dotted quad ipaddress accepts (ASCII digits, no leading zero, each at most
        # 255) is already its own canonical form: the same answer without the objects.
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def parse_int_hint(name: str, raw: str | None) -> int | None:
    """Parse a URL hint such as farm_id; None when absent or empty, InvalidHint when garbage."""
    if raw is None or raw == "":
        return None
    value = positive_int(raw)
    if value is None:
        raise InvalidHint(f"{name} must be a whole number between 1 and {MAX_ID}")
    return value


def _server_id(raw: str | None) -> str | None:
    if raw is None or not _SID_RE.fullmatch(raw):
        return None
    return raw.lower()


def _name(raw: str | None) -> str | None:
    """Return a stripped role/farm name, or None when empty, too long or holding controls."""
    if raw is None:
        return None
    raw = raw.strip()
    if not raw or len(raw) > 255 or _CONTROL_RE.search(raw):
        return None
    return raw


def _fields(values: Mapping[str, str | None]) -> ParsedFields:
    """Validate raw extracted strings into ParsedFields; invalid values become None."""
    return ParsedFields(
        server_id=_server_id(values.get("server_id")),
        public_ip=parse_ip(values.get("public_ip")),
        internal_ip=parse_ip(values.get("internal_ip")),
        new_ip=parse_ip(values.get("new_ip")),
        farm_id=positive_int(values.get("farm_id")),
        farm_role_id=positive_int(values.get("farm_role_id")),
        role_name=_name(values.get("role_name")),
        env_id=positive_int(values.get("env_id")),
        farm_name=_name(values.get("farm_name")),
    )


# --- legacy observer message texts (section 1.6) --------------------------------------------
# Every pattern is applied with .match (one start position) and has only bounded
# quantifiers, or is a .search over a literal prefix followed by bounded quantifiers, so
# parsing is linear in the message length whatever a hostile sender posts.


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


_PUB_PRIV = rf"Public IP: (?P<public_ip>{_TOK}) Internal IP: (?P<internal_ip>{_TOK})"

_INSTANCE_TEXTS = (
    # Eras B/C, and era A HostCrash/Reboot*: "Instance {sid} Public IP: .. Internal IP: .. <verb>"
    _rx(rf"Instance (?P<server_id>{_SID}) {_PUB_PRIV}{_END}"),
    # Eras B/C HostDown: "Instance {sid} ({pub}) Internal IP: {priv} terminated"
    _rx(
        rf"Instance (?P<server_id>{_SID}) \((?P<public_ip>{_TOK})\) "
        rf"Internal IP: (?P<internal_ip>{_TOK}){_END}"
    ),
    # Era A: "Instance {iid} ({role}) Public IP: ..."; HostInit leaves the id blank.
    _rx(rf"Instance (?P<server_id>{_SID})? \((?P<role_name>{_ROLE})\) {_PUB_PRIV}{_END}"),
    # Era A HostDown without external IP: "Instance {iid} ({role})  terminated" (two spaces).
    _rx(rf"Instance (?P<server_id>{_SID})? \((?P<role_name>{_ROLE})\)  terminated\Z"),
)
_TEMPLATES: dict[str, tuple[re.Pattern[str], ...]] = {
    **dict.fromkeys(
        ("HostInit", "HostUp", "HostDown", "HostCrash", "RebootBegin", "RebootComplete"),
        _INSTANCE_TEXTS,
    ),
    "IPAddressChanged": (
        _rx(
            rf"IP address for instance (?P<server_id>{_SID}) (?:has been )?"
            rf"changed to (?P<new_ip>{_TOK})\Z"
        ),
    ),
    **dict.fromkeys(
        ("NewMysqlMasterUp", "NewDbMsrMasterUp"),
        (_rx(rf"New (?:MySQL|database) master UP: (?P<server_id>{_SID}) {_PUB_PRIV}\Z"),),
    ),
    **dict.fromkeys(
        ("MySQLReplicationFail", "MySQLReplicationRecovered"),
        (
            _rx(
                rf"Mysql replication (?:fail|recovered) on instance (?P<server_id>{_SID}) "
                rf"{_PUB_PRIV}\Z"
            ),
        ),
    ),
    # "Rebundle started on instance {pub} ({sid}) for farm #{id}[ (RoleName: {role})] ...":
    # the id is taken only from the parentheses, never from the trailing image/snapshot id.
    **dict.fromkeys(
        ("RebundleComplete", "RebundleFailed"),
        (
            _rx(
                rf"Rebundle started on instance (?P<public_ip>{_TOK}) \((?P<server_id>{_SID})\) "
                rf"for farm #(?P<farm_id>{_INT})(?: \(RoleName: (?P<role_name>{_ROLE})\))?{_END}"
            ),
        ),
    ),
    **dict.fromkeys(
        ("FarmLaunched", "FarmTerminated"),
        (
            _rx(
                r"Farm (?P<farm_name>.{1,255}) "
                rf"\(ID: (?P<farm_id>{_INT})\) (?:launched|terminated)\Z"
            ),
        ),
    ),
    "EBSVolumeMounted": (
        # Era B: "... mounted to {Mountpoint} on {sid} ({pub}) server"
        _rx(
            rf"EBS volume \S{{1,128}} successfully mounted to .{{0,255}}? "
            rf"on (?P<server_id>{_SID}) \((?P<public_ip>{_TOK})\) server\Z"
        ),
        # Era A: "... mounted to {Mountpoint} on  ({int}) instance" (blank id)
        _rx(
            rf"EBS volume \S{{1,128}} successfully mounted to .{{0,255}}? "
            rf"on (?P<server_id>{_SID})? \((?P<internal_ip>{_TOK})\) instance\Z"
        ),
    ),
    "RoleOptionChanged": (
        _rx(rf"Option \S{{1,255}} for farm role (?P<farm_role_id>{_INT}) changed\Z"),
        _rx(rf"Option \S{{1,255}} for role (?P<role_name>{_ROLE}) ch(?:na|an)ged\Z"),
    ),
}
_GENERIC_SERVER = _rx(rf"(?<![A-Za-z])(?:[Ii]nstance|UP:) (?P<v>{_SID})")
_GENERIC_PUBLIC = _rx(rf"Public IP: (?P<v>{_TOK})")
_GENERIC_INTERNAL = _rx(rf"Internal IP: (?P<v>{_TOK})")
_GENERIC_NEW = _rx(rf"changed to (?P<v>{_TOK})")


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group("v") if match else None


def parse_message(event_name: str, message: str) -> ParsedFields:
    """Extract the fields a legacy observer message names; never raises on a str."""
    if not isinstance(event_name, str) or not isinstance(message, str):
        return ParsedFields()
    name = strip_on_prefix(event_name.strip())
    text = message.strip()
    for template in _TEMPLATES.get(name, ()):
        match = template.match(text)
        if match:
            return _fields(match.groupdict())
    # Unknown/custom events, or a known event whose text has an unexpected shape: take only
    # what the labelled slots of section 1.6 ("Instance ", "Public IP: ", ...) give.
    return _fields(
        {
            "server_id": _first(_GENERIC_SERVER, text),
            "public_ip": _first(_GENERIC_PUBLIC, text),
            "internal_ip": _first(_GENERIC_INTERNAL, text),
            "new_ip": _first(_GENERIC_NEW, text) if name == "IPAddressChanged" else None,
        }
    )


# --- 5.x webhooks (section 2.2) -------------------------------------------------------------

_WEBHOOK_FIELDS = {
    "server_id": "SERVER_ID",
    "public_ip": "EXTERNAL_IP",
    "internal_ip": "INTERNAL_IP",
    "farm_id": "FARM_ID",
    "farm_role_id": "FARM_ROLE_ID",
    # SCALR_ROLE_NAME, not SCALR_FARM_ROLE_ALIAS: it is the role name that era A texts carry,
    # so role_name means the same thing for every source; the alias stays in data.
    "role_name": "ROLE_NAME",
    "env_id": "ENV_ID",
    "farm_name": "FARM_NAME",
}


def _optional_str(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InvalidPayload(f"{key} must be a string")


def _required_str(payload: Mapping[str, Any], key: str) -> str:
    value = _optional_str(payload, key)
    if value is None or not value.strip():
        raise InvalidPayload(f"{key} is missing or empty")
    return value.strip()


def _data_value(key: str, value: Any) -> str:
    """Return a data value as the string PHP would have sent."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise InvalidPayload(f"data.{key} must be a string or a scalar")


def _webhook_data(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidPayload("data must be an object")
    data: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise InvalidPayload("data keys must be strings")
        data[key] = _data_value(key, value)
    return data


def _webhook_fields(event_name: str, data: Mapping[str, str]) -> ParsedFields:
    """Take fields from SCALR_EVENT_<X>, else SCALR_<X> when both name the same server."""
    event_sid = data.get("SCALR_EVENT_SERVER_ID", "").strip().lower()
    sid = data.get("SCALR_SERVER_ID", "").strip().lower()
    # The SCALR_* set describes the server the variables were built for; if that is not the
    # event's server, only the SCALR_EVENT_* set may be trusted (never guess).
    same_server = not event_sid or not sid or event_sid == sid
    values: dict[str, str | None] = {}
    for field, suffix in _WEBHOOK_FIELDS.items():
        value = data.get(f"SCALR_EVENT_{suffix}") or None
        if value is None and same_server:
            value = data.get(f"SCALR_{suffix}")
        values[field] = value
    if event_name == "IPAddressChanged":
        values["new_ip"] = data.get("SCALR_NEW_IP_ADDRESS")
    fields = _fields(values)
    for field, value in values.items():
        if value and getattr(fields, field) is None:
            # A bad value does not lose the event: the field is None, the raw value stays in data.
            logger.debug("webhook field %s ignored: value is not valid", field)
    return fields


def _summary(event_name: str, fields: ParsedFields) -> str:
    """Build a one-line message that parse_message reads back to the same server fields."""
    if fields.server_id is None:
        return event_name
    text = (
        f"Instance {fields.server_id} Public IP: {fields.public_ip or ''}"
        f" Internal IP: {fields.internal_ip or ''}"
    )
    if fields.new_ip:
        text += f" (IP address changed to {fields.new_ip})"
    return text


def parse_webhook(payload: Mapping[str, Any], keep_user_variables: bool) -> WebhookParsed:
    """Validate a 5.x webhook body and extract its normalised fields and SCALR_* variables."""
    if not isinstance(payload, Mapping):
        raise InvalidPayload("payload must be a JSON object")
    try:
        event_name = normalise_event_name(_required_str(payload, "eventName"))
    except InvalidEventName as exc:
        raise InvalidPayload(f"eventName: {exc}") from None
    event_id = _required_str(payload, "eventId")
    if not EVENT_ID_RE.fullmatch(event_id):
        raise InvalidPayload("eventId must be 1 to 128 printable ASCII characters")
    timestamp = _optional_str(payload, "timestamp")
    configuration_id = _optional_str(payload, "configurationId")
    endpoint_id = _optional_str(payload, "endpointId")
    all_data = _webhook_data(payload.get("data"))

    fields = _webhook_fields(event_name, all_data)
    data: dict[str, str] = {}
    dropped: list[str] = []
    for key, value in all_data.items():
        if keep_user_variables or key.startswith(SCALR_PREFIX):
            data[key] = value
        else:
            dropped.append(key)
    return WebhookParsed(
        event_name=event_name,
        event_id=event_id,
        message=_summary(event_name, fields),
        fields=fields,
        data=data,
        dropped_variables=dropped,
        timestamp=timestamp,
        configuration_id=configuration_id,
        endpoint_id=endpoint_id,
    )
