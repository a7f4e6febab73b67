"""Typed, documented wrappers of the Query API actions Lifeguard uses (protocol section 4)."""

from __future__ import annotations

from typing import Any

from app.scalr.responses import ScalrResponse


class TypedActionsMixin:
    """One snake_case method per action; parameters left as None are not sent."""

    def call(self, action: str, /, *, method: str = "POST", **params: Any) -> ScalrResponse:
        """Perform one action (implemented by the client)."""
        raise NotImplementedError

    # servers

    def server_launch(self, farm_role_id: int, increase_max_instances: bool = False) -> str:
        """Launch a server in a farm role and return its new ServerID."""
        response = self.call(
            "ServerLaunch", FarmRoleID=farm_role_id, IncreaseMaxInstances=increase_max_instances
        )
        return str(response["ServerID"])

    def server_terminate(
        self, server_id: str, decrease_min_instances_setting: bool = False
    ) -> ScalrResponse:
        """Terminate a server, optionally lowering the farm role's MinInstances by one."""
        return self.call(
            "ServerTerminate",
            ServerID=server_id,
            DecreaseMinInstancesSetting=decrease_min_instances_setting,
        )

    def server_reboot(self, server_id: str) -> ScalrResponse:
        """Reboot a server."""
        return self.call("ServerReboot", ServerID=server_id)

    def server_get_extended_information(self, server_id: str) -> ScalrResponse:
        """Return ServerInfo, PlatformProperties and ScalrProperties of a server (2.3.0)."""
        return self.call("ServerGetExtendedInformation", ServerID=server_id)

    # farms

    def farm_launch(self, farm_id: int) -> ScalrResponse:
        """Launch a terminated farm."""
        return self.call("FarmLaunch", FarmID=farm_id)

    def farm_terminate(
        self, farm_id: int, *, keep_ebs: bool, keep_eip: bool, keep_dns_zone: bool
    ) -> ScalrResponse:
        """Terminate a farm; Scalr requires all three Keep flags."""
        return self.call(
            "FarmTerminate",
            FarmID=farm_id,
            KeepEBS=keep_ebs,
            KeepEIP=keep_eip,
            KeepDNSZone=keep_dns_zone,
        )

    def farm_get_details(self, farm_id: int) -> ScalrResponse:
        """Return a farm's roles and their servers (FarmRoleSet)."""
        return self.call("FarmGetDetails", FarmID=farm_id)

    def farms_list(self) -> ScalrResponse:
        """List the environment's farms (FarmSet)."""
        return self.call("FarmsList")

    # scripts, variables, events, logs

    def script_execute(
        self,
        script_id: int,
        farm_id: int,
        *,
        timeout: int = 60,
        is_async: bool = True,
        farm_role_id: int | None = None,
        server_id: str | None = None,
        revision: int | str | None = None,
        config_variables: dict[str, str] | None = None,
    ) -> ScalrResponse:
        """Run a script on a server, a farm role, or a whole farm."""
        return self.call(
            "ScriptExecute",
            ScriptID=script_id,
            Timeout=timeout,
            Async=is_async,
            FarmID=farm_id,
            FarmRoleID=farm_role_id,
            ServerID=server_id,
            Revision=revision,
            ConfigVariables=config_variables,
        )

    def scripts_list(self) -> ScalrResponse:
        """List the scripts available to the environment (ScriptSet)."""
        return self.call("ScriptsList")

    def script_get_details(self, script_id: int, show_content: bool | None = None) -> ScalrResponse:
        """Return a script's revisions, with their content if asked."""
        return self.call("ScriptGetDetails", ScriptID=script_id, ShowContent=show_content)

    def global_variable_set(
        self,
        param_name: str,
        param_value: str,
        *,
        farm_id: int | None = None,
        farm_role_id: int | None = None,
    ) -> ScalrResponse:
        """Set a global variable on a farm or farm role (2.3.0)."""
        return self.call(
            "GlobalVariableSet",
            ParamName=param_name,
            ParamValue=param_value,
            FarmID=farm_id,
            FarmRoleID=farm_role_id,
        )

    def global_variables_list(
        self,
        *,
        server_id: str | None = None,
        farm_id: int | None = None,
        farm_role_id: int | None = None,
        role_id: int | None = None,
    ) -> ScalrResponse:
        """List global variables of the first scope given, else the environment (2.3.0)."""
        return self.call(
            "GlobalVariablesList",
            ServerID=server_id,
            FarmID=farm_id,
            FarmRoleID=farm_role_id,
            RoleID=role_id,
        )

    def events_list(
        self, farm_id: int, start_from: int | None = None, records_limit: int | None = None
    ) -> ScalrResponse:
        """List a farm's events, newest first (EventSet)."""
        return self.call(
            "EventsList", FarmID=farm_id, StartFrom=start_from, RecordsLimit=records_limit
        )

    def logs_list(
        self,
        farm_id: int,
        server_id: str | None = None,
        start_from: int | None = None,
        records_limit: int | None = None,
    ) -> ScalrResponse:
        """List a farm's (or one server's) log entries (LogSet)."""
        return self.call(
            "LogsList",
            FarmID=farm_id,
            ServerID=server_id,
            StartFrom=start_from,
            RecordsLimit=records_limit,
        )

    def environments_list(self) -> ScalrResponse:
        """List the environments of the calling user (2.3.0)."""
        return self.call("EnvironmentsList")

    # DNS

    def dns_zone_record_add(
        self,
        zone_name: str,
        record_type: str,
        ttl: int,
        name: str,
        value: str,
        *,
        priority: int | None = None,
        weight: int | None = None,
        port: int | None = None,
    ) -> ScalrResponse:
        """Add a record (A, MX, CNAME, NS, TXT or SRV) to a DNS zone."""
        return self.call(
            "DNSZoneRecordAdd",
            ZoneName=zone_name,
            Type=record_type,
            TTL=ttl,
            Name=name,
            Value=value,
            Priority=priority,
            Weight=weight,
            Port=port,
        )

    def dns_zone_record_remove(self, zone_name: str, record_id: int) -> ScalrResponse:
        """Remove a record from a DNS zone."""
        return self.call("DNSZoneRecordRemove", ZoneName=zone_name, RecordID=record_id)

    def dns_zone_records_list(self, zone_name: str) -> ScalrResponse:
        """List the records of a DNS zone (ZoneRecordSet)."""
        return self.call("DNSZoneRecordsList", ZoneName=zone_name)

    def hello(self) -> ScalrResponse:
        """Ping Scalr with an authenticated no-op."""
        return self.call("Hello")
