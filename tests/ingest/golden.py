"""Golden deliveries: scalr-protocol.md section 6 wire examples and the section 1.6 texts."""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from app.ingest.parsing import ParsedFields

# Example values of scalr-protocol.md sections 1.6 and 6.
SID = "5bbd72c5-908c-4535-a7ec-2fbf56486ff3"
PUB = "54.211.17.89"
PRIV = "10.183.42.7"
NEW = "54.211.20.14"
IID = "i-3f2a1b4c"
ROLE = "app64"
FARM_ID = 1439
FARM = "prod"
FARM_ROLE_ID = 1978
SNAPSHOT = "ami-1a2b3c4d"
VOLUME = "vol-1a2b3c4d"


class WireCase(NamedTuple):
    """A raw form body (or query string) as Scalr sends it, and the fields it carries."""

    id: str
    body: str
    byte_length: int | None  # the length section 6 states, when it states one
    event: str  # normalised name
    expected: ParsedFields


class TextCase(NamedTuple):
    """One row of the section 1.6 message tables, placeholders filled."""

    id: str
    event: str
    message: str
    expected: ParsedFields


_C_DOWN = ParsedFields(server_id=SID, public_ip=PUB, internal_ip=PRIV)
_A_HOST = ParsedFields(server_id=IID, public_ip="75.101.12.34", internal_ip="10.251.6.7")

WIRE_CASES = [
    # 6.1 Scalr 3.6 - 4.5, PHP cron path.
    WireCase(
        "6.1-HostDown",
        "event=OnHostDown&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+%2854.211.17.89"
        "%29+Internal+IP%3A+10.183.42.7+terminated",
        127,
        "HostDown",
        _C_DOWN,
    ),
    WireCase(
        "6.1-HostUp",
        "event=OnHostUp&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+Public+IP%3A+"
        "54.211.17.89+Internal+IP%3A+10.183.42.7+is+UP",
        127,
        "HostUp",
        _C_DOWN,
    ),
    WireCase(
        "6.1-IPAddressChanged",
        "event=OnIPAddressChanged&message=IP+address+for+instance+5bbd72c5-908c-4535-a7ec-"
        "2fbf56486ff3+has+been+changed+to+54.211.20.14",
        126,
        "IPAddressChanged",
        ParsedFields(server_id=SID, new_ip=NEW),
    ),
    WireCase(
        "6.1-RebootComplete",
        "event=OnRebootComplete&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+Public+IP"
        "%3A+54.211.17.89+Internal+IP%3A+10.183.42.7+successfully+rebooted",
        151,
        "RebootComplete",
        _C_DOWN,
    ),
    # 6.2 Scalr 2.x / 3.0 / 3.5: trailing "+" (a space) on every message.
    WireCase(
        "6.2-HostUp",
        "event=OnHostUp&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+Public+IP%3A+"
        "54.211.17.89+Internal+IP%3A+10.183.42.7+is+UP+",
        None,
        "HostUp",
        _C_DOWN,
    ),
    WireCase(
        "6.2-HostDown",
        "event=OnHostDown&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+%2854.211.17.89"
        "%29+Internal+IP%3A+10.183.42.7+terminated+",
        None,
        "HostDown",
        _C_DOWN,
    ),
    WireCase(
        "6.2-IPAddressChanged",
        "event=OnIPAddressChanged&message=IP+address+for+instance+5bbd72c5-908c-4535-a7ec-"
        "2fbf56486ff3+changed+to+54.211.20.14+",
        None,
        "IPAddressChanged",
        ParsedFields(server_id=SID, new_ip=NEW),
    ),
    WireCase(
        "6.2-RebootComplete",
        "event=OnRebootComplete&message=Instance+5bbd72c5-908c-4535-a7ec-2fbf56486ff3+Public+IP"
        "%3A+54.211.17.89+Internal+IP%3A+10.183.42.7+successfully+rebooted+",
        None,
        "RebootComplete",
        _C_DOWN,
    ),
    # 6.3 Scalr 1.x: EC2 instance id and role name.
    WireCase(
        "6.3-HostDown",
        "event=OnHostDown&message=Instance+i-3f2a1b4c+%28app64%29+Public+IP%3A+75.101.12.34+"
        "Internal+IP%3A+10.251.6.7+terminated+",
        None,
        "HostDown",
        replace(_A_HOST, role_name=ROLE),
    ),
    WireCase(
        "6.3-HostUp",
        "event=OnHostUp&message=Instance+i-3f2a1b4c+%28app64%29+Public+IP%3A+75.101.12.34+"
        "Internal+IP%3A+10.251.6.7+is+UP+",
        None,
        "HostUp",
        replace(_A_HOST, role_name=ROLE),
    ),
    # 6.4 Scalr 4.5 Python daemon: the whole query string of the request line, empty body.
    WireCase(
        "6.4-HostDown-query",
        "farm_id=1439&token=s3cr3t&event=HostDown&message=Instance+5bbd72c5-908c-4535-a7ec-"
        "2fbf56486ff3+%2854.211.17.89%29+Internal+IP%3A+10.183.42.7+terminated",
        None,
        "HostDown",
        _C_DOWN,
    ),
]

# 6.6, the body exactly as printed.
WEBHOOK_BODY = (
    '{"eventName":"HostDown","eventId":"a71ff7bc-0fa7-4cc2-9e0b-9fa3581888ce",'
    '"timestamp":"Tue 11 Apr 2017 11:01:11 UTC",'
    '"configurationId":"f257be82-f4ec-49d4-89a0-1891e25f8780",'
    '"data":{"SCALR_SERVER_ID":"5bbd72c5-908c-4535-a7ec-2fbf56486ff3","SCALR_FARM_ID":"1439",'
    '"SCALR_FARM_NAME":"test","SCALR_FARM_ROLE_ID":"1978",'
    '"SCALR_FARM_ROLE_ALIAS":"ubuntu16-base","SCALR_ROLE_NAME":"ubuntu16-base",'
    '"SCALR_EXTERNAL_IP":"138.201.45.101","SCALR_INTERNAL_IP":"10.0.0.14","SCALR_ENV_ID":"24",'
    '"SCALR_EVENT_NAME":"HostDown",'
    '"SCALR_EVENT_SERVER_ID":"5bbd72c5-908c-4535-a7ec-2fbf56486ff3"},'
    '"userData":"","endpointId":"03c8b252-1190-44c4-b9da-1074eaa215fc"}'
)
# 6.6: its Date header, the made-up 64-character signing key and the signature printed.
WEBHOOK_DATE = "Tue 11 Apr 2017 11:01:11 UTC"
WEBHOOK_KEY = "kQ1v0m3Jb7QeXh0xYk2n8cJz5pWf4uR9tA6sD1gH3jK5lZ7xC9vB2nM4qW6eR8tY"
WEBHOOK_SIGNATURE = "da6115ddf6d04f97d9edbdb5b555af6b5a004d1e"
WEBHOOK_EXPECTED = ParsedFields(
    server_id=SID,
    public_ip="138.201.45.101",
    internal_ip="10.0.0.14",
    farm_id=1439,
    farm_role_id=1978,
    role_name="ubuntu16-base",
    env_id=24,
    farm_name="test",
)

_SERVER = ParsedFields(server_id=SID, public_ip=PUB, internal_ip=PRIV)
_EC2 = ParsedFields(server_id=IID, public_ip=PUB, internal_ip=PRIV)
_EC2_ROLE = replace(_EC2, role_name=ROLE)
_PP = f"Public IP: {PUB} Internal IP: {PRIV}"

# Section 1.6 rows that carry a server, an IP, a role, a farm or a farm role. A trailing
# space in a message is the table's trailing-space marker.
TEXT_CASES = [
    # Era C: Scalr 3.6 - 4.5.
    TextCase("C-HostInit", "HostInit", f"Instance {SID} {_PP} initialized ", _SERVER),
    TextCase("C-HostUp", "HostUp", f"Instance {SID} {_PP} is UP", _SERVER),
    TextCase(
        "C-HostDown", "HostDown", f"Instance {SID} ({PUB}) Internal IP: {PRIV} terminated", _SERVER
    ),
    TextCase("C-HostCrash", "HostCrash", f"Instance {SID} {_PP} crashed", _SERVER),
    TextCase("C-RebootBegin", "RebootBegin", f"Instance {SID} {_PP} is going to reboot ", _SERVER),
    TextCase(
        "C-RebootComplete", "RebootComplete", f"Instance {SID} {_PP} successfully rebooted", _SERVER
    ),
    TextCase(
        "C-IPAddressChanged",
        "IPAddressChanged",
        f"IP address for instance {SID} has been changed to {NEW}",
        ParsedFields(server_id=SID, new_ip=NEW),
    ),
    TextCase(
        "C-NewMysqlMasterUp", "NewMysqlMasterUp", f"New MySQL master UP: {SID} {_PP}", _SERVER
    ),
    TextCase(
        "C-NewDbMsrMasterUp", "NewDbMsrMasterUp", f"New database master UP: {SID} {_PP}", _SERVER
    ),
    TextCase(
        "C-MySQLReplicationFail",
        "MySQLReplicationFail",
        f"Mysql replication fail on instance {SID} {_PP} ",
        _SERVER,
    ),
    TextCase(
        "C-MySQLReplicationRecovered",
        "MySQLReplicationRecovered",
        f"Mysql replication recovered on instance {SID} {_PP} ",
        _SERVER,
    ),
    TextCase(
        "C-RebundleComplete",
        "RebundleComplete",
        f"Rebundle started on instance {PUB} ({SID}) for farm #{FARM_ID} successfully complete. "
        f"New Image ID: {SNAPSHOT}.",
        ParsedFields(server_id=SID, public_ip=PUB, farm_id=FARM_ID),
    ),
    TextCase(
        "C-RebundleFailed",
        "RebundleFailed",
        f"Rebundle started on instance {PUB} ({SID}) for farm #{FARM_ID} failed.",
        ParsedFields(server_id=SID, public_ip=PUB, farm_id=FARM_ID),
    ),
    TextCase(
        "C-RoleOptionChanged",
        "RoleOptionChanged",
        f"Option mysql.ebs_volume_size for farm role {FARM_ROLE_ID} changed",
        ParsedFields(farm_role_id=FARM_ROLE_ID),
    ),
    # Era B: Scalr 2.x, 3.0, 3.5.
    TextCase("B-HostInit", "HostInit", f"Instance {SID} {_PP} initialized ", _SERVER),
    TextCase("B-HostUp", "HostUp", f"Instance {SID} {_PP} is UP ", _SERVER),
    TextCase(
        "B-HostDown",
        "HostDown",
        f"Instance {SID} ({PUB}) Internal IP: {PRIV} terminated ",
        _SERVER,
    ),
    TextCase("B-HostCrash", "HostCrash", f"Instance {SID} {_PP} crashed ", _SERVER),
    TextCase("B-RebootBegin", "RebootBegin", f"Instance {SID} {_PP} is going to reboot ", _SERVER),
    TextCase(
        "B-RebootComplete",
        "RebootComplete",
        f"Instance {SID} {_PP} successfully rebooted ",
        _SERVER,
    ),
    TextCase(
        "B-IPAddressChanged",
        "IPAddressChanged",
        f"IP address for instance {SID} changed to {NEW} ",
        ParsedFields(server_id=SID, new_ip=NEW),
    ),
    TextCase(
        "B-NewMysqlMasterUp", "NewMysqlMasterUp", f"New MySQL master UP: {SID} {_PP}", _SERVER
    ),
    TextCase(
        "B-MySQLReplicationFail",
        "MySQLReplicationFail",
        f"Mysql replication fail on instance {SID} {_PP} ",
        _SERVER,
    ),
    TextCase(
        "B-MySQLReplicationRecovered",
        "MySQLReplicationRecovered",
        f"Mysql replication recovered on instance {SID} {_PP} ",
        _SERVER,
    ),
    TextCase(
        "B-RebundleComplete",
        "RebundleComplete",
        f"Rebundle started on instance {PUB} ({SID}) for farm #{FARM_ID} successfully complete. "
        f"New Snapshot ID: {SNAPSHOT}.",
        ParsedFields(server_id=SID, public_ip=PUB, farm_id=FARM_ID),
    ),
    TextCase(
        "B-RebundleFailed",
        "RebundleFailed",
        f"Rebundle started on instance {PUB} ({SID}) for farm #{FARM_ID} failed.",
        ParsedFields(server_id=SID, public_ip=PUB, farm_id=FARM_ID),
    ),
    TextCase(
        "B-FarmLaunched",
        "FarmLaunched",
        f"Farm {FARM} (ID: {FARM_ID}) launched",
        ParsedFields(farm_id=FARM_ID, farm_name=FARM),
    ),
    TextCase(
        "B-FarmTerminated",
        "FarmTerminated",
        f"Farm {FARM} (ID: {FARM_ID}) terminated",
        ParsedFields(farm_id=FARM_ID, farm_name=FARM),
    ),
    TextCase(
        "B-EBSVolumeMounted",
        "EBSVolumeMounted",
        f"EBS volume {VOLUME} successfully mounted to /mnt/data on {SID} ({PUB}) server",
        ParsedFields(server_id=SID, public_ip=PUB),
    ),
    TextCase(
        "B-RoleOptionChanged",
        "RoleOptionChanged",
        f"Option mysql.ebs_volume_size for farm role {FARM_ROLE_ID} changed",
        ParsedFields(farm_role_id=FARM_ROLE_ID),
    ),
    # Era A: Scalr 1.0 RC2 - 1.2 (EC2 instance ids, role names).
    TextCase(
        "A-HostInit-blank-id",
        "HostInit",
        f"Instance  ({ROLE}) {_PP} initialized ",
        ParsedFields(public_ip=PUB, internal_ip=PRIV, role_name=ROLE),
    ),
    TextCase("A-HostUp", "HostUp", f"Instance {IID} ({ROLE}) {_PP} is UP ", _EC2_ROLE),
    TextCase("A-HostDown", "HostDown", f"Instance {IID} ({ROLE}) {_PP} terminated ", _EC2_ROLE),
    TextCase(
        "A-HostDown-no-external-ip",
        "HostDown",
        f"Instance {IID} ({ROLE})  terminated ",
        ParsedFields(server_id=IID, role_name=ROLE),
    ),
    TextCase("A-HostCrash", "HostCrash", f"Instance {IID} {_PP} crashed ", _EC2),
    TextCase("A-RebootBegin", "RebootBegin", f"Instance {IID} {_PP} is going to reboot ", _EC2),
    TextCase(
        "A-RebootComplete", "RebootComplete", f"Instance {IID} {_PP} successfully rebooted ", _EC2
    ),
    TextCase(
        "A-IPAddressChanged",
        "IPAddressChanged",
        f"IP address for instance {IID} changed to {NEW} ",
        ParsedFields(server_id=IID, new_ip=NEW),
    ),
    TextCase("A-NewMysqlMasterUp", "NewMysqlMasterUp", f"New MySQL master UP: {IID} {_PP}", _EC2),
    TextCase(
        "A-FarmLaunched",
        "FarmLaunched",
        f"Farm {FARM} (ID: {FARM_ID}) launched",
        ParsedFields(farm_id=FARM_ID, farm_name=FARM),
    ),
    TextCase(
        "A-FarmTerminated",
        "FarmTerminated",
        f"Farm {FARM} (ID: {FARM_ID}) terminated",
        ParsedFields(farm_id=FARM_ID, farm_name=FARM),
    ),
    TextCase(
        "A-RebundleComplete",
        "RebundleComplete",
        f"Rebundle started on instance {PUB} ({IID}) for farm #{FARM_ID} (RoleName: {ROLE}) "
        "successfully complete. New AMI ID: ami-1a2b3c4d.",
        ParsedFields(server_id=IID, public_ip=PUB, farm_id=FARM_ID, role_name=ROLE),
    ),
    TextCase(
        "A-RebundleFailed",
        "RebundleFailed",
        f"Rebundle started on instance {PUB} ({IID}) for farm #{FARM_ID} (RoleName: {ROLE}) "
        "failed.",
        ParsedFields(server_id=IID, public_ip=PUB, farm_id=FARM_ID, role_name=ROLE),
    ),
    TextCase(
        "A-MySQLReplicationFail",
        "MySQLReplicationFail",
        f"Mysql replication fail on instance {IID} {_PP} ",
        _EC2,
    ),
    TextCase(
        "A-MySQLReplicationRecovered",
        "MySQLReplicationRecovered",
        f"Mysql replication recovered on instance {IID} {_PP} ",
        _EC2,
    ),
    TextCase(
        "A-EBSVolumeMounted-blank-id",
        "EBSVolumeMounted",
        f"EBS volume {VOLUME} successfully mounted to /mnt/data on  ({PRIV}) instance",
        ParsedFields(internal_ip=PRIV),
    ),
    TextCase(
        "A-RoleOptionChanged",
        "RoleOptionChanged",
        f"Option mysql.ebs_volume_size for role {ROLE} chnaged",
        ParsedFields(role_name=ROLE),
    ),
]

# Section 1.6 rows that carry none of the fields (the message is all there is).
EMPTY_TEXT_CASES = [
    TextCase(
        "C-MysqlBackupComplete", "MysqlBackupComplete", "MySQL backup complete", ParsedFields()
    ),
    TextCase("C-MysqlBackupFail", "MysqlBackupFail", "MySQL backup failed", ParsedFields()),
    TextCase("C-FarmLaunched", "FarmLaunched", "Farm has been launched", ParsedFields()),
    TextCase("C-FarmTerminated", "FarmTerminated", "Farm has been terminated", ParsedFields()),
    TextCase("C-DNSZoneUpdated", "DNSZoneUpdated", "DNS Zone example.com updated", ParsedFields()),
    TextCase(
        "C-EBSVolumeAttached",
        "EBSVolumeAttached",
        f"EBS volume {VOLUME} successfully atatched as /dev/sdf",
        ParsedFields(),
    ),
    TextCase(
        "C-EBSVolumeMounted",
        "EBSVolumeMounted",
        f"EBS volume {VOLUME} successfully mounted to /mnt/data",
        ParsedFields(),
    ),
    TextCase("C-BeforeHostTerminate", "BeforeHostTerminate", "BeforeHostTerminate", ParsedFields()),
    TextCase(
        "C-BeforeInstanceLaunch", "BeforeInstanceLaunch", "BeforeInstanceLaunch", ParsedFields()
    ),
    TextCase("C-BeforeHostUp", "BeforeHostUp", "BeforeHostUp", ParsedFields()),
    TextCase("C-CheckFailed", "CheckFailed", "CheckFailed", ParsedFields()),
    TextCase("C-CheckRecovered", "CheckRecovered", "CheckRecovered", ParsedFields()),
    TextCase("C-CustomEvent", "CustomEvent", "CustomEvent", ParsedFields()),
    TextCase(
        "C-ServiceConfigurationPresetChanged",
        "ServiceConfigurationPresetChanged",
        "ServiceConfigurationPresetChanged",
        ParsedFields(),
    ),
    TextCase("B-MysqlBackupFail", "MysqlBackupFail", "MySQL backup fail ", ParsedFields()),
    TextCase("B-DNSZoneUpdated", "DNSZoneUpdated", "DNS Zone example.com updated ", ParsedFields()),
]
