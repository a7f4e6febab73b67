"""Server life cycles, ServerLaunch side effects, chaos, faults and the /_sim/ controls."""

from __future__ import annotations

import threading

import requests
from click.testing import CliRunner

from app.scalr.client import ScalrClient
from simulator import SimState, SimulatorServer
from simulator.cli import scalr_sim_command
from tests.scalr.conftest import KEY_ID, make_state


def statuses(state: SimState, role: int) -> list[str]:
    return sorted(s.status for s in state.servers.values() if s.farm_role_id == role)


def test_launch_moves_through_pending_initializing_running(
    scalr_client: ScalrClient, sim_state: SimState
) -> None:
    server_id = scalr_client.server_launch(1978)
    server = sim_state.servers[server_id]
    assert server.status == "Pending"
    sim_state.advance(1)
    assert server.status == "Initializing"
    sim_state.advance(2)
    assert server.status == "Running"
    scalr_client.server_terminate(server_id)
    assert server.status == "Pending terminate"
    sim_state.advance(1)
    assert server.status == "Terminated"
    types = [e.type for e in sim_state.events if e.server_id == server_id]
    assert types == ["HostInit", "HostUp", "BeforeHostTerminate", "HostDown"]


def test_advance_runs_several_steps_at_once(sim_state: SimState) -> None:
    server = sim_state.launch_server(1978)
    sim_state.advance(10)
    assert server.status == "Running"
    assert [e.type for e in sim_state.events] == ["HostInit", "HostUp"]


def test_server_launch_raises_min_after_a_host_down(
    scalr_client: ScalrClient, sim_state: SimState
) -> None:
    victim = next(s for s in sim_state.servers.values() if s.farm_role_id == 1978)
    scalr_client.server_terminate(victim.server_id)
    sim_state.advance(1)
    assert sim_state.farm_roles[1978].min_instances == 2
    scalr_client.server_launch(1978)
    # <= 4.x: running (1) < min (2) -> MinInstances + 1 (protocol section 4).
    assert sim_state.farm_roles[1978].min_instances == 3


def test_terminate_can_decrease_min(scalr_client: ScalrClient, sim_state: SimState) -> None:
    victim = next(s for s in sim_state.servers.values() if s.farm_role_id == 1978)
    scalr_client.server_terminate(victim.server_id, decrease_min_instances_setting=True)
    assert sim_state.farm_roles[1978].min_instances == 1


def test_reboot_and_farm_events(scalr_client: ScalrClient, sim_state: SimState) -> None:
    server = next(s for s in sim_state.servers.values() if s.farm_role_id == 1979)
    scalr_client.server_reboot(server.server_id)
    sim_state.advance(2)
    scalr_client.farm_launch(1440)
    assert statuses(sim_state, 1990) == ["Pending"]
    scalr_client.farm_terminate(1440, keep_ebs=False, keep_eip=False, keep_dns_zone=False)
    assert [e.type for e in sim_state.events][:2] == ["RebootBegin", "RebootComplete"]
    assert "FarmLaunched" in [e.type for e in sim_state.events]
    assert [e.type for e in sim_state.events][-1] == "FarmTerminated"
    assert sim_state.farms[1440].status == 0


def test_chaos_hits_running_servers(sim_state: SimState) -> None:
    sim_state.set_chaos(60.0, ("terminate",))
    sim_state.advance(3)
    hit = [s for s in sim_state.servers.values() if s.status != "Running"]
    assert len(hit) == 3
    sim_state.set_chaos(0)
    sim_state.advance(1)
    assert {e.type for e in sim_state.events} == {"BeforeHostTerminate", "HostDown"}


def test_scaling_replaces_lost_servers() -> None:
    state = make_state(scaling=True)
    victim = next(s for s in state.servers.values() if s.farm_role_id == 1978)
    state.crash_server(victim)
    state.advance(0.1)
    assert statuses(state, 1978) == ["Pending", "Running", "Terminated"]


def test_ticker_thread_moves_time_by_itself() -> None:
    state = make_state(autotick=True)
    state.timings.tick_seconds = 0.02
    state.timings.pending_seconds = 0.05
    with SimulatorServer(state):
        server = state.launch_server(1978)
        for _ in range(200):
            if server.status == "Initializing":
                break
            threading.Event().wait(0.01)
    assert server.status == "Initializing"


def test_control_endpoints(
    sim: SimulatorServer, sim_state: SimState, scalr_client: ScalrClient
) -> None:
    scalr_client.hello()
    base = f"{sim.base_url}/_sim"
    with requests.Session() as http:
        calls = http.get(f"{base}/calls", params={"action": "Hello"}, timeout=5).json()["calls"]
        assert [c["action"] for c in calls] == ["Hello"]
        assert "Signature" not in calls[0]["params"]
        assert calls[0]["params"]["KeyID"] == KEY_ID
        http.post(f"{base}/faults", json={"kind": "status", "status": 503, "count": 1}, timeout=5)
        assert http.get(f"{base}/faults", timeout=5).json()["faults"][0]["status"] == 503
        assert http.post(sim.url, data={"Action": "Hello"}, timeout=5).status_code == 503
        assert http.get(f"{base}/faults", timeout=5).json()["faults"] == []
        http.post(f"{base}/faults", json={"kind": "latency", "latency": 0.01}, timeout=5)
        http.delete(f"{base}/faults", timeout=5)
        assert sim_state.faults == []
        server_id = scalr_client.server_launch(1978)
        state = http.post(f"{base}/advance", json={"seconds": 5}, timeout=5).json()
        assert (
            next(s for s in state["servers"] if s["server_id"] == server_id)["status"] == "Running"
        )
        assert http.post(f"{base}/servers/{server_id}/reboot", timeout=5).json() == {"ok": True}
        assert http.post(f"{base}/servers/nope/reboot", timeout=5).status_code == 404
        http.post(f"{base}/chaos", json={"rate_per_minute": 2, "kinds": ["reboot"]}, timeout=5)
        assert sim_state.chaos_rate_per_minute == 2
        http.post(f"{base}/notify", json={"default_url": "http://127.0.0.1:9/x"}, timeout=5)
        assert sim_state.notifier.config.default_url == "http://127.0.0.1:9/x"
        assert "farms" in http.get(f"{base}/state", timeout=5).json()
        assert "deliveries" in http.get(f"{base}/deliveries", timeout=5).json()


def test_cli_prints_what_to_configure(monkeypatch: object) -> None:
    import threading

    import simulator.cli as cli

    # `cli.time` is the time module itself: a thread another test left running (a spool
    # replayer between retries) sleeps through it too, and must not be interrupted.
    main, real_sleep = threading.current_thread(), cli.time.sleep

    def interrupt(seconds: float) -> None:
        if threading.current_thread() is not main:
            real_sleep(seconds)
            return
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.time, "sleep", interrupt)  # type: ignore[attr-defined]
    result = CliRunner().invoke(
        scalr_sim_command,
        [
            "--port",
            "0",
            "--key-id",
            "abc123",
            "--secret-key",
            "s3cret",
            "--notify-url",
            "http://127.0.0.1:9/events?token=t",
            "--chaos-rate",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "SCALR_API_URL=http://127.0.0.1:" in result.output
    assert "/api/api.php" in result.output
    assert "SCALR_KEY_ID=abc123" in result.output
    assert "SCALR_SECRET_KEY=s3cret" in result.output
    assert "SCALR_ENV_ID=3" in result.output
