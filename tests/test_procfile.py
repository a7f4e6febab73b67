"""The production `Procfile`, started the way a deployment starts it.

A copy of the project in a temporary directory, its `release:` line run once,
then `honcho start web worker` exactly as the file writes them: no import of
the app, no fixture standing in for a process. A legacy `HostDown` goes in
through HTTP and the Scalr simulator must receive the signed `ServerLaunch`.
This is the test that would have caught a Procfile without a worker.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from simulator import SimulatorServer
from tests.conftest import API_TOKEN, INGEST_TOKEN, PG_URL, scratch_schema
from tests.scalr.conftest import KEY_ID, SECRET_KEY, make_state

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PRODUCTION_PROCESSES = {"release", "web", "worker"}

RULES = """
rules:
  - name: replace-terminated-web
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}", IncreaseMaxInstances: 1}
"""

# Protocol section 6: a 4.x HostDown as the PHP observer posts it.
MESSAGE = (
    "Instance 5bbd72c5-908c-4535-a7ec-2fbf56486ff3 (54.211.17.89) "
    "Internal IP: 10.183.42.7 terminated"
)


def read_procfile(path: Path) -> dict[str, str]:
    """Return the process lines of a Procfile, the way honcho reads them."""
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, command = line.partition(":")
        assert sep, f"{path.name}: not a process line: {line!r}"
        assert name.strip() not in processes, f"{path.name}: {name} declared twice"
        processes[name.strip()] = command.strip()
    return processes


def copy_project(target: Path) -> Path:
    """Copy what git would ship (tracked and new, unignored files) into `target`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"honcho exited ({proc.returncode}):\n{log.read_text()}")
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()}")


def http(method: str, url: str, body: bytes | None = None, headers=None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


@pytest.fixture
def deployment_database() -> Iterator[str | None]:
    """None on SQLite (the embedded default in the copy's instance/), else a fresh schema."""
    if not PG_URL:
        yield None
        return
    with scratch_schema(PG_URL, prefix="procfile") as url:
        yield url


def test_procfile_declares_every_production_process():
    processes = read_procfile(ROOT / "Procfile")
    assert set(processes) == PRODUCTION_PROCESSES
    assert processes["release"] == "flask --app wsgi db upgrade"
    assert "gunicorn.conf.py" in processes["web"]


def test_demo_procfile_runs_the_production_lines_unchanged():
    production = read_procfile(ROOT / "Procfile")
    demo = read_procfile(ROOT / "Procfile.demo")
    # `make run` migrates before honcho starts, so the demo has no release line.
    for name in ("web", "worker"):
        assert demo[name] == production[name], name
    assert {"sim", "mail"} <= set(demo)


def test_procfile_processes_remediate_a_legacy_host_down(tmp_path, deployment_database):
    project = copy_project(tmp_path / "lifeguard")
    (project / "rules.yml").write_text(RULES)
    processes = read_procfile(project / "Procfile")
    port = free_port()
    with ExitStack() as stack:
        sim = stack.enter_context(SimulatorServer(make_state()))
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LIFEGUARD_", "SCALR_", "TEST_", "PYTEST"))
            and key not in {"DATABASE_URL", "RULES_FILE", "BIND", "PORT"}
        }
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            INGEST_TOKEN=INGEST_TOKEN,
            API_TOKEN=API_TOKEN,
            SCALR_API_URL=sim.url,
            SCALR_KEY_ID=KEY_ID,
            SCALR_SECRET_KEY=SECRET_KEY,
            SCALR_ENV_ID="3",
            WEB_CONCURRENCY="2",
        )
        if deployment_database:
            env["DATABASE_URL"] = deployment_database

        release = subprocess.run(
            ["sh", "-c", processes["release"]],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert release.returncode == 0, release.stdout + release.stderr
        if not deployment_database:
            assert (project / "instance" / "lifeguard.db").exists()

        log = tmp_path / "honcho.log"
        with log.open("w") as out:
            honcho = subprocess.Popen(
                [str(BIN / "honcho"), "start", "-f", "Procfile", "-p", str(port), "web", "worker"],
                cwd=project,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def stop() -> None:
            if honcho.poll() is None:
                os.killpg(honcho.pid, signal.SIGKILL)
                honcho.wait(10)

        stack.callback(stop)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: http("GET", f"{base}/readyz")[0] == 200, 60, "/readyz", honcho, log)

        query = urllib.parse.urlencode(
            {"token": INGEST_TOKEN, "farm_id": "1439", "farm_role_id": "1978"}
        )
        form = urllib.parse.urlencode({"event": "OnHostDown", "message": MESSAGE}).encode()
        status, body = http(
            "POST",
            f"{base}/events?{query}",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 202, body
        event_id = json.loads(body)["id"]

        def launched() -> bool:
            return any(c.outcome == "ok" for c in sim.state.calls("ServerLaunch"))

        wait_for(launched, 60, "the worker's ServerLaunch at the simulator", honcho, log)
        [call] = sim.state.calls("ServerLaunch")
        # The simulator checks the AuthVersion 3 signature before it records an "ok" call.
        assert call.params["FarmRoleID"] == "1978"
        assert call.transaction_id

        def job_recorded() -> bool:
            status, body = http(
                "GET",
                f"{base}/api/v1/actions?event_id={event_id}",
                headers={"Authorization": f"Bearer {API_TOKEN}"},
            )
            items = json.loads(body)["items"] if status == 200 else []
            return [(i["status"], i["transaction_id"]) for i in items] == [
                ("succeeded", call.transaction_id)
            ]

        wait_for(job_recorded, 30, "the succeeded job in the API", honcho, log)

        # Ctrl-C, as an operator stops `honcho start`: every process ends.
        os.killpg(honcho.pid, signal.SIGINT)
        honcho.wait(30)
        output = log.read_text()
        assert "worker " in output and " running; rules from " in output, output
        assert INGEST_TOKEN not in output and SECRET_KEY not in output
