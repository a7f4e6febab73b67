"""The actions of the Scalr Query API 2.x, with the API version each first needs.

Source: scalr-protocol.md section 4 (read from ScalrAPI_2_0_0 ... 2_3_0 of Scalr 4.4).
"""

from __future__ import annotations

# action name -> lowest API Version that defines it
ACTIONS: dict[str, str] = {
    # servers
    "ServerLaunch": "2.0.0",
    "ServerTerminate": "2.0.0",
    "ServerReboot": "2.0.0",
    "ServerImageCreate": "2.0.0",
    "BundleTaskGetStatus": "2.0.0",
    "ServerGetExtendedInformation": "2.3.0",
    # farms
    "FarmsList": "2.0.0",
    "FarmGetDetails": "2.0.0",
    "FarmLaunch": "2.0.0",
    "FarmTerminate": "2.0.0",
    "FarmGetStats": "2.0.0",
    "FarmClone": "2.3.0",
    "FarmGetDnsEndpoints": "2.3.0",
    "FarmRoleParametersList": "2.3.0",
    "FarmRoleUpdateParameterValue": "2.3.0",
    "FireCustomEvent": "2.3.0",
    # scripts, events, logs
    "ScriptsList": "2.0.0",
    "ScriptGetDetails": "2.0.0",
    "ScriptExecute": "2.0.0",
    "EventsList": "2.0.0",
    "LogsList": "2.0.0",
    "ScriptingLogsList": "2.3.0",
    "RolesList": "2.0.0",
    "EnvironmentsList": "2.3.0",
    "GlobalVariableSet": "2.3.0",
    "GlobalVariablesList": "2.3.0",
    "Hello": "2.0.0",
    "StatisticsGetGraphURL": "2.0.0",
    # DNS
    "DNSZonesList": "2.0.0",
    "DNSZoneCreate": "2.0.0",
    "DNSZoneRecordsList": "2.0.0",
    "DNSZoneRecordAdd": "2.0.0",
    "DNSZoneRecordRemove": "2.0.0",
    # Apache vhosts and deployments
    "ApacheVhostCreate": "2.1.0",
    "ApacheVhostsList": "2.1.0",
    "DmSourcesList": "2.3.0",
    "DmSourceCreate": "2.3.0",
    "DmApplicationCreate": "2.3.0",
    "DmApplicationsList": "2.3.0",
    "DmApplicationDeploy": "2.3.0",
    "DmDeploymentTasksList": "2.3.0",
    "DmDeploymentTaskGetLog": "2.3.0",
    "DmDeploymentTaskGetStatus": "2.3.0",
}

SUPPORTED_VERSIONS = ("2.0.0", "2.1.0", "2.2.0", "2.3.0")
DEFAULT_VERSION = "2.3.0"

# Actions that change something at Scalr (counted against the remediation budget).
MUTATING_ACTIONS = frozenset(
    {
        "ServerLaunch",
        "ServerTerminate",
        "ServerReboot",
        "ServerImageCreate",
        "FarmLaunch",
        "FarmTerminate",
        "FarmClone",
        "FarmRoleUpdateParameterValue",
        "FireCustomEvent",
        "ScriptExecute",
        "GlobalVariableSet",
        "DNSZoneCreate",
        "DNSZoneRecordAdd",
        "DNSZoneRecordRemove",
        "ApacheVhostCreate",
        "DmSourceCreate",
        "DmApplicationCreate",
        "DmApplicationDeploy",
    }
)


def is_known_action(name: str) -> bool:
    """Say whether `name` is an action of the Query API 2.x (case as Scalr documents it)."""
    return name in ACTIONS


# Parameters that Scalr reads with PHP truthiness, where "false" is true (protocol 4):
# the client always sends them as "1" or "0".
FLAG_PARAMS = frozenset(
    {
        "IncreaseMaxInstances",
        "DecreaseMinInstancesSetting",
        "KeepEBS",
        "KeepEIP",
        "KeepDNSZone",
        "Async",
        "ShowContent",
        "EnableSSL",
    }
)

# Parameters the client sets itself on every call (protocol 3.2).
COMMON_PARAMS = frozenset(
    {"Action", "Version", "AuthVersion", "EnvID", "KeyID", "TimeStamp", "Timestamp", "Signature"}
)


def version_tuple(version: str) -> tuple[int, ...]:
    """Turn "2.3.0" into (2, 3, 0) for comparison."""
    return tuple(int(part) for part in version.split("."))


# Parameters each action cannot do without ("req" in scalr-protocol.md section 4;
# Scalr answers "Missing required parameter 'X'" otherwise). FarmTerminate needs
# all four, a known trap.
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "ServerLaunch": ("FarmRoleID",),
    "ServerTerminate": ("ServerID",),
    "ServerReboot": ("ServerID",),
    "ServerImageCreate": ("ServerID", "RoleName"),
    "BundleTaskGetStatus": ("BundleTaskID",),
    "ServerGetExtendedInformation": ("ServerID",),
    "FarmGetDetails": ("FarmID",),
    "FarmLaunch": ("FarmID",),
    "FarmTerminate": ("FarmID", "KeepEBS", "KeepEIP", "KeepDNSZone"),
    "FarmGetStats": ("FarmID",),
    "FarmClone": ("FarmID",),
    "FarmGetDnsEndpoints": ("FarmID",),
    "FarmRoleParametersList": ("FarmRoleID",),
    "FarmRoleUpdateParameterValue": ("FarmRoleID", "ParamName", "ParamValue"),
    "FireCustomEvent": ("ServerID", "EventName"),
    "ScriptGetDetails": ("ScriptID",),
    "ScriptExecute": ("ScriptID", "Timeout", "Async", "FarmID"),
    "EventsList": ("FarmID",),
    "LogsList": ("FarmID",),
    "ScriptingLogsList": ("FarmID",),
    "GlobalVariableSet": ("ParamName", "ParamValue"),
    "StatisticsGetGraphURL": ("ObjectType", "ObjectID", "WatcherName", "GraphType"),
    "DNSZoneCreate": ("DomainName",),
    "DNSZoneRecordsList": ("ZoneName",),
    "DNSZoneRecordAdd": ("ZoneName", "Type", "TTL", "Name", "Value"),
    "DNSZoneRecordRemove": ("ZoneName", "RecordID"),
    "ApacheVhostCreate": ("DomainName", "FarmID", "FarmRoleID", "DocumentRootDir", "EnableSSL"),
    "DmSourceCreate": ("Type", "URL"),
    "DmApplicationCreate": ("Name", "SourceID"),
    "DmApplicationDeploy": ("ApplicationID", "FarmRoleID", "RemotePath"),
    "DmDeploymentTaskGetLog": ("DeploymentTaskID",),
    "DmDeploymentTaskGetStatus": ("DeploymentTaskID",),
}
