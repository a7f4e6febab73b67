"""The client against the simulator over real loopback HTTP: every typed call, every error."""

from __future__ import annotations

import dataclasses
import re

import pytest

from app.scalr.client import ScalrClient
from app.scalr.environments import ScalrEnvironment
from app.scalr.errors import (
    ScalrActionNotSupported,
    ScalrAPIError,
    ScalrError,
    ScalrLaunchFailed,
    ScalrRateLimited,
    ScalrTransportError,
    ScalrVersionError,
)
from simulator import Fault, SimState

WEB, DB, FARM = 1978, 1979, 1439


def web_server(state: SimState) -> str:
    return next(s.server_id for s in state.servers.values() if s.farm_role_id == WEB)


def test_server_calls(scalr_client: ScalrClient, sim_state: SimState) -> None:
    server_id = scalr_client.server_launch(WEB)
    assert sim_state.servers[server_id].status == "Pending"
    info = scalr_client.server_get_extended_information(server_id)
    assert info["ServerInfo"]["ServerID"] == server_id
    assert info["ServerInfo"]["Status"] == "Pending"
    assert scalr_client.server_reboot(web_server(sim_state))["Result"] == "1"
    result = scalr_client.server_terminate(server_id, decrease_min_instances_setting=True)
    assert result["Result"] == "1"
    assert sim_state.servers[server_id].status == "Pending terminate"
    assert result.transaction_id


def test_farm_calls(scalr_client: ScalrClient, sim_state: SimState) -> None:
    farms = scalr_client.farms_list()["FarmSet"]
    assert {f["ID"]: f["Status"] for f in farms} == {"1439": "1", "1440": "0"}
    details = scalr_client.farm_get_details(FARM)
    assert details["Name"] == "prod"
    web = next(r for r in details["FarmRoleSet"] if r["ID"] == str(WEB))
    assert web["ScalingProperties"] == {"MinInstances": "2", "MaxInstances": "4"}
    assert len(web["ServerSet"]) == 2
    assert scalr_client.farm_launch(1440)["Result"] == "1"
    result = scalr_client.farm_terminate(1440, keep_ebs=False, keep_eip=True, keep_dns_zone=False)
    assert result["Result"] == "1"
    (call,) = sim_state.calls("FarmTerminate")
    assert [call.params[k] for k in ("KeepEBS", "KeepEIP", "KeepDNSZone")] == ["0", "1", "0"]


def test_farm_terminate_needs_all_four_parameters(scalr_client: ScalrClient) -> None:
    with pytest.raises(TypeError):
        scalr_client.farm_terminate(1439, keep_ebs=True)  # type: ignore[call-arg]
    with pytest.raises(ScalrAPIError, match="Missing required parameter 'KeepDNSZone'"):
        scalr_client.call("FarmTerminate", FarmID=1439, KeepEBS=0, KeepEIP=0)


def test_script_calls_with_array_params(scalr_client: ScalrClient, sim_state: SimState) -> None:
    scripts = scalr_client.scripts_list()["ScriptSet"]
    assert scripts[0]["Name"] == "restart-nginx"
    details = scalr_client.script_get_details(1, show_content=True)
    assert details["ScriptRevisionSet"][0]["Content"]
    result = scalr_client.script_execute(
        1, FARM, timeout=30, is_async=True, farm_role_id=WEB, config_variables={"mode": "fast"}
    )
    assert result["Result"] == "1"
    (call,) = sim_state.calls("ScriptExecute")
    assert call.params["ConfigVariables"] == {"mode": "fast"}
    assert call.params["Async"] == "1"
    logs = scalr_client.logs_list(FARM)
    assert logs["TotalRecords"] == "2"
    assert len(logs["LogSet"]) == 2


def test_variables_events_environments(scalr_client: ScalrClient, sim_state: SimState) -> None:
    assert scalr_client.global_variable_set("COLOR", "blue & green", farm_id=FARM)["Result"]
    listed = scalr_client.global_variables_list(farm_id=FARM)
    assert listed["VariableSet"] == [{"Name": "COLOR", "Value": "blue & green"}]
    scalr_client.server_reboot(web_server(sim_state))
    events = scalr_client.events_list(FARM, records_limit=5)
    assert events["EventSet"][0]["Type"] == "RebootBegin"
    assert events["RecordsLimit"] == "5"
    envs = scalr_client.environments_list()["EnvironmentSet"]
    assert envs == [{"ID": "3", "Name": "production"}]
    assert scalr_client.hello()["Result"] == "1"


def test_dns_calls(scalr_client: ScalrClient) -> None:
    assert scalr_client.dns_zone_record_add("example.com", "A", 300, "api", "54.1.2.3")["Result"]
    records = scalr_client.dns_zone_records_list("example.com")["ZoneRecordSet"]
    added = next(r for r in records if r["Name"] == "api")
    assert added["Value"] == "54.1.2.3"
    assert scalr_client.dns_zone_record_remove("example.com", int(added["ID"]))["Result"]
    with pytest.raises(ScalrAPIError, match=re.escape("Zone 'nope.org' not found in database")):
        scalr_client.dns_zone_records_list("nope.org")


def test_get_method_works_too(scalr_client: ScalrClient, sim_state: SimState) -> None:
    assert scalr_client.call("FarmGetDetails", method="GET", FarmID=FARM)["ID"] == "1439"
    assert sim_state.calls("FarmGetDetails")[0].method == "GET"


@pytest.mark.parametrize(
    ("given", "sent"), [(True, "1"), (False, "0"), ("true", "1"), ("false", "0"), (0, "0")]
)
def test_flags_go_out_as_1_or_0(
    scalr_client: ScalrClient, sim_state: SimState, given: object, sent: str
) -> None:
    scalr_client.call("ServerLaunch", FarmRoleID=WEB, IncreaseMaxInstances=given)
    assert sim_state.calls("ServerLaunch")[-1].params["IncreaseMaxInstances"] == sent


def test_bad_flag_value_is_refused_before_sending(
    scalr_client: ScalrClient, sim_state: SimState
) -> None:
    with pytest.raises(ScalrActionNotSupported):
        scalr_client.call("ServerLaunch", FarmRoleID=WEB, IncreaseMaxInstances="maybe")
    assert sim_state.calls() == []


def test_unknown_or_too_new_action_is_refused_before_sending(
    scalr_env: ScalrEnvironment, sim_state: SimState
) -> None:
    with ScalrClient(scalr_env) as client, pytest.raises(ScalrActionNotSupported):
        client.call("ServerLanuch", FarmRoleID=WEB)
    old = dataclasses.replace(scalr_env, version="2.0.0")
    with ScalrClient(old) as client:
        with pytest.raises(ScalrActionNotSupported, match=re.escape("needs API Version 2.3.0")):
            client.environments_list()
        assert client.farms_list()["FarmSet"][0]["Region"] is None
    with ScalrClient(scalr_env) as client, pytest.raises(ScalrActionNotSupported):
        client.call("Hello", Signature="forged")
    assert [c.action for c in sim_state.calls()] == ["FarmsList"]


def test_application_error_keeps_transaction_id(scalr_client: ScalrClient) -> None:
    with pytest.raises(ScalrAPIError) as caught:
        scalr_client.server_launch(99999)
    assert caught.value.message == "Farm Role ID #99999 not found"
    assert caught.value.transaction_id
    assert caught.value.retryable is False


def test_error_message_with_ampersand_and_bracket(
    scalr_client: ScalrClient, sim_state: SimState
) -> None:
    sim_state.add_fault(Fault("error", action="Hello", message="Q&A <b>broken</b> & more"))
    with pytest.raises(ScalrAPIError) as caught:
        scalr_client.hello()
    assert caught.value.message == "Q&A <b>broken</b> & more"


def test_max_instances_error_and_increase(scalr_client: ScalrClient, sim_state: SimState) -> None:
    with pytest.raises(ScalrAPIError, match="Max instances limit reached"):
        scalr_client.server_launch(DB)
    assert scalr_client.server_launch(DB, increase_max_instances=True)
    assert sim_state.farm_roles[DB].max_instances == 2


def test_empty_server_id_raises_launch_failed(
    scalr_client: ScalrClient, sim_state: SimState
) -> None:
    sim_state.add_fault(Fault("launch_failure", action="ServerLaunch", remaining=1))
    with pytest.raises(ScalrLaunchFailed) as caught:
        scalr_client.server_launch(WEB)
    assert isinstance(caught.value, ScalrAPIError)
    assert caught.value.transaction_id
    assert caught.value.retryable is False
    assert sim_state.calls("ServerLaunch")[0].outcome == "ok"
    with pytest.raises(ScalrLaunchFailed):
        sim_state.add_fault(Fault("launch_failure", action="ServerLaunch", remaining=1))
        scalr_client.call("ServerLaunch", FarmRoleID=WEB)
    assert scalr_client.server_launch(WEB)


def test_http_429_is_rate_limited(scalr_client: ScalrClient, sim_state: SimState) -> None:
    sim_state.add_fault(Fault("status", status=429, remaining=1))
    with pytest.raises(ScalrRateLimited) as caught:
        scalr_client.hello()
    assert caught.value.retryable is True
    assert 0 < caught.value.retry_after_seconds <= 3600
    assert scalr_client.hello()["Result"] == "1"


def test_scalr_side_hourly_limit(scalr_client: ScalrClient, sim_state: SimState) -> None:
    sim_state.environments[3].requests_per_hour = 2
    scalr_client.hello()
    scalr_client.hello()
    with pytest.raises(ScalrRateLimited):
        scalr_client.hello()
    assert sim_state.calls()[-1].outcome == "http 429"


def test_unsupported_version_names_it(scalr_env: ScalrEnvironment) -> None:
    with (
        ScalrClient(dataclasses.replace(scalr_env, version="2.4.0")) as client,
        pytest.raises(ScalrVersionError, match=re.escape("2.4.0")) as caught,
    ):
        client.hello()
    assert caught.value.retryable is False


def test_5xx_is_a_retryable_transport_error(scalr_client: ScalrClient, sim_state: SimState) -> None:
    sim_state.add_fault(Fault("status", status=502, action="Hello", remaining=1))
    with pytest.raises(ScalrTransportError) as caught:
        scalr_client.hello()
    assert caught.value.retryable is True
    assert caught.value.status_code == 502


def test_timeout_is_a_retryable_transport_error(
    scalr_env: ScalrEnvironment, sim_state: SimState
) -> None:
    sim_state.add_fault(Fault("latency", latency=1.0, remaining=1))
    fast = dataclasses.replace(scalr_env, timeout_seconds=0.2)
    with ScalrClient(fast) as client, pytest.raises(ScalrTransportError) as caught:
        client.hello()
    assert caught.value.retryable is True
    assert "within 0.2s" in str(caught.value)


def test_dropped_connection_is_a_retryable_transport_error(
    scalr_client: ScalrClient, sim_state: SimState
) -> None:
    sim_state.add_fault(Fault("drop", action="ServerReboot", remaining=1))
    with pytest.raises(ScalrTransportError) as caught:
        scalr_client.server_reboot(web_server(sim_state))
    assert caught.value.retryable is True
    assert caught.value.status_code is None
    assert sim_state.calls("ServerReboot")[0].outcome == "dropped"
    assert scalr_client.hello()["Result"] == "1"


def test_connection_refused_is_a_transport_error(scalr_env: ScalrEnvironment) -> None:
    closed = dataclasses.replace(scalr_env, api_url="http://127.0.0.1:9/api/api.php")
    with ScalrClient(closed) as client, pytest.raises(ScalrTransportError) as caught:
        client.hello()
    assert caught.value.retryable is True
    assert isinstance(caught.value, ScalrError)


class BrokenLimiter:
    """A rate limiter whose database is not there (an unmigrated schema, an outage)."""

    def reserve(self, environment: ScalrEnvironment, *, action: str | None = None) -> int:
        raise RuntimeError("no such table: scalr_api_usage")


def test_a_call_that_fails_before_the_wire_logs_its_real_outcome(
    scalr_env: ScalrEnvironment, sim_state: SimState, caplog
) -> None:
    caplog.set_level("INFO", logger="app.scalr.client")
    with (
        ScalrClient(scalr_env, rate_limiter=BrokenLimiter()) as client,
        pytest.raises(RuntimeError),
    ):
        client.call("FarmsList")
    [line] = [r.getMessage() for r in caplog.records if "scalr call FarmsList" in r.getMessage()]
    assert "outcome=error:RuntimeError" in line and "sent=no" in line, line
    assert "outcome=ok" not in line
    assert sim_state.calls() == []


def test_a_successful_call_logs_that_it_was_sent(
    scalr_client: ScalrClient, sim_state: SimState, caplog
) -> None:
    caplog.set_level("INFO", logger="app.scalr.client")
    scalr_client.call("FarmsList")
    [line] = [r.getMessage() for r in caplog.records if "scalr call FarmsList" in r.getMessage()]
    assert "outcome=ok sent=yes" in line, line
    assert len(sim_state.calls("FarmsList")) == 1
