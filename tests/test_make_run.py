"""`make run`, typed in a copy of the project, exactly as the README gives it.

Make sets up (here against the suite's own virtualenv, so nothing is installed twice),
`flask demo init` prints the dashboard's login and two `curl` commands, and honcho
starts the demo. The test runs those two printed commands in a shell as a newcomer
would paste them, then presses Ctrl-C (SIGINT to the foreground process group) and
checks that every process stopped. `tests/test_demo_story.py` checks the story itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PG_URL
from tests.test_procfile import copy_project, free_port, http, wait_for

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent.parent

pytestmark = pytest.mark.skipif(
    bool(PG_URL), reason="make run is the embedded SQLite demo: run once, in the SQLite pass"
)


def test_make_run_answers_the_printed_curl_commands_and_stops_on_ctrl_c(tmp_path):
    project = copy_project(tmp_path / "lifeguard")
    port, sim_port, smtp_port = free_port(), free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LIFEGUARD_", "SCALR_", "TEST_", "PYTEST", "SMTP_"))
        and key not in {"DATABASE_URL", "RULES_FILE", "BIND", "PORT", "VIRTUAL_ENV"}
    }
    demo_args = f"--port {port} --sim-port {sim_port} --smtp-port {smtp_port}"
    log = tmp_path / "make-run.log"
    with log.open("w") as out:
        make = subprocess.Popen(
            ["make", "run", f"VENV={VENV}", f"DEMO_ARGS={demo_args}"],
            cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: http("GET", f"{base}/readyz")[0] == 200, 120, "/readyz", make, log)
        printed = log.read_text()
        assert re.search(r"log in as admin / \S+", printed), printed
        curls = [line.strip() for line in printed.splitlines() if line.strip().startswith("curl ")]
        assert len(curls) == 2, printed
        post, read_back = curls
        posted = subprocess.run(  # noqa: S602 -- the printed curl, pasted
            post, shell=True, cwd=project, capture_output=True, text=True, timeout=30
        )
        assert posted.returncode == 0 and " 202 " in posted.stdout.splitlines()[0], posted.stdout
        event_id = json.loads(posted.stdout.split("\n\n", 1)[1])["id"]
        deadline = time.monotonic() + 30
        while True:
            answer = subprocess.run(  # noqa: S602 -- the printed curl, pasted
                read_back, shell=True, cwd=project, capture_output=True, text=True, timeout=30
            )
            items = json.loads(answer.stdout)["items"]
            if any(e["id"] == event_id for e in items) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        mine = [e for e in items if e["id"] == event_id]
        assert mine and mine[0]["name"] == "HostDown" and mine[0]["farm_id"] == 1439, items
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGINT)  # Ctrl-C in the terminal that typed `make run`
            try:
                make.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)
                raise
    time.sleep(1)
    for p in (port, sim_port, smtp_port):
        assert http("GET", f"http://127.0.0.1:{p}/")[0] == 0, f"port {p} still answers"
    output = log.read_text()
    for name in ("web", "worker", "sim", "mail"):
        assert f"{name}.1 stopped" in output, output[-3000:]
