"""Every command the README and docs/ tell a person to type is run, as they would type it.

The commands are read out of the pages (code blocks and inline code), not from a list
kept by hand. A `flask --app wsgi ...` line is run here, literally, in a shell against a
fresh SQLite database and the project's Scalr simulator started by its own documented
command; only the placeholders a reader must fill in (NAME, FILE, ID, ...) are replaced.
A command that starts a long-running process set (`make run`, the Procfile lines,
`make test`) is run by the test or CI script named in `ELSEWHERE`, and this test checks
that the script really contains it.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import click
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app import create_app
from app.config import Config
from app.db import utcnow
from tests.dashboard.helpers import gen_job
from tests.factories import gen_event
from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FLASK = "flask --app wsgi"
SHELL_COMMANDS = ("flask ", "make ", "honcho ", "gunicorn ", ".venv/bin/")
ENV_PREFIX = re.compile(r"^(?:[A-Z][A-Z0-9_]*=\S+ )+")

# Long-running commands, run by another test or by CI: the file must contain the command.
ELSEWHERE = {
    "make run": "tests/test_make_run.py",
    'make run DEMO_ARGS="--port 5001 --sim-port 8401"': "tests/test_make_run.py",
    "make test": ".ci/run",
    "TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test make test": ".ci/run",
    "make bench": ".ci/run",
    "BENCH_SMOKE=1 make bench": ".ci/run",
    "BENCH_EVENTS=1000000 make bench": "bench/run.py",
    "honcho run flask --app wsgi db upgrade": "tests/test_procfile.py",
    "honcho start web worker": "tests/test_procfile.py",
    "honcho start": "tests/test_procfile.py",  # named to warn that it also runs `release`
    "gunicorn -c gunicorn.conf.py wsgi:app": "Procfile",
    "LIFEGUARD_UPDATE_DOCS_SCREENSHOT=1 .venv/bin/python -m pytest "
    "tests/browser/test_truth_browser.py -k health": "tests/browser/test_truth_browser.py",
}
# What each file must hold for the command to count as run there.
ELSEWHERE_PROOF = {
    "tests/test_make_run.py": '"make", "run"',
    ".ci/run": None,  # the command itself
    "bench/run.py": "BENCH_EVENTS",
    "tests/test_procfile.py": "honcho",
    "Procfile": None,
    "tests/browser/test_truth_browser.py": "LIFEGUARD_UPDATE_DOCS_SCREENSHOT",
}

RULES = """\
rules:
  - name: replace-terminated-web
    events: [HostDown]
    where: {farm_id: 1439, role_name: "web*"}
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}"}
"""
EVENT = {
    "name": "HostDown",
    "server_id": "5bbd72c5-908c-4535-a7ec-2fbf56486ff3",
    "farm_id": 1439,
    "farm_role_id": 1978,
    "role_name": "web-nginx",
}


def _strip(line: str) -> str:
    """One command as typed: no shell comment, no prompt, no trailing blanks."""
    line = line.strip().removeprefix("$ ")
    if "  #" in line:
        line = line.split("  #", 1)[0]
    return line.rstrip()


def documented_commands() -> dict[str, str]:
    """Every command line of the pages -> the first page that names it."""
    found: dict[str, str] = {}
    for page in PAGES:
        body = page.read_text(encoding="utf-8")
        candidates: list[str] = []
        for block in re.findall(r"^```[a-z]*\n(.*?)^```", body, re.S | re.M):
            candidates += block.splitlines()
        prose = re.sub(r"^```.*?^```", "", body, flags=re.S | re.M)
        candidates += re.findall(r"`([^`\n]+)`", prose)
        for raw in candidates:
            line = _strip(raw)
            if ENV_PREFIX.sub("", line).startswith(SHELL_COMMANDS):
                found.setdefault(line, page.name)
    return found


@functools.cache
def _console() -> click.Group:
    """The `flask` command group of an application (its commands do not depend on config)."""
    return create_app(Config.from_env({"RULES_FILE": str(ROOT / "rules.example.yml")})).cli


def click_path(line: str) -> tuple[list[str], click.Command, list[str]]:
    """Resolve `flask --app wsgi a b ...` to its command path, command and arguments."""
    words = shlex.split(line.removeprefix(FLASK))
    group: click.Command = _console()
    path: list[str] = []
    while words and isinstance(group, click.Group):
        sub = group.get_command(click.Context(group), words[0])
        if sub is None:
            break
        path.append(words.pop(0))
        group = sub
    return path, group, words


def is_reference(command: click.Command, args: list[str]) -> bool:
    """A group, `...`, or a command named without its required arguments: prose, not a run."""
    if isinstance(command, click.Group) or "..." in args:
        return True
    # Parse without prompting; a required argument left empty means the line names the
    # command in prose ("run `rules check` on it"), not a line to type as it stands.
    ctx = command.make_context("flask", list(args), resilient_parsing=True)
    return any(
        isinstance(param, click.Argument)
        and param.required
        and ctx.params.get(param.name) in (None, ())
        for param in command.params
    )


# -- the pages' commands ----------------------------------------------------------------


def test_the_pages_name_commands() -> None:
    commands = documented_commands()
    assert "make run" in commands and "make test" in commands
    assert f"{FLASK} db upgrade" in commands
    assert len([c for c in commands if c.startswith(FLASK)]) >= 20


def test_every_documented_console_command_exists() -> None:
    for line in documented_commands():
        if not line.startswith(FLASK):
            continue
        path, command, args = click_path(line)
        assert path, f"{line!r}: no such command"
        unknown = [a for a in args if a not in ("...", "…")]
        assert not unknown or not isinstance(command, click.Group), f"{line!r}: no such command"


def test_commands_run_elsewhere_are_really_run_there() -> None:
    for line in documented_commands():
        if line.startswith(FLASK) or ENV_PREFIX.sub("", line).startswith(FLASK):
            continue
        assert line in ELSEWHERE, f"{line!r} is documented but nothing runs it"
    for line, where in ELSEWHERE.items():
        proof = ELSEWHERE_PROOF[where] or line
        assert proof in (ROOT / where).read_text(encoding="utf-8"), (line, where)


# -- running them -----------------------------------------------------------------------


class Console:
    """A person's shell in an empty directory, configured only through the environment."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.ran: list[str] = []

    def run(self, line: str, stdin: str = "", expect: int = 0) -> str:
        proc = subprocess.run(  # noqa: S602 -- the documented line, as a person types it
            line, shell=True, cwd=self.home, env=self.env, input=stdin,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        output = proc.stdout + proc.stderr
        assert proc.returncode == expect, f"{line}\n exit {proc.returncode}\n{output}"
        assert "Traceback" not in output, f"{line}\n{output}"
        self.ran.append(line)
        return output


def _fill(line: str, object_id: int, rules: Path) -> str:
    """Replace what a reader fills in: names, files, ids, reasons, a whole event."""
    event = shlex.quote(json.dumps(EVENT))
    line = line.replace('\'{"name": "HostDown", ...}\'', event)
    line = re.sub(r"\[--cancel\]", "", line)
    # Whatever reason a page gives (…, "...", "demo"), the same command is typed once.
    line = re.sub(r"--reason (…|\"[^\"]*\"|'[^']*'|\S+)", '--reason "docs tour"', line)
    words = []
    for word in shlex.split(line):
        word = {
            "NAME": "alice",
            "ROLE": "operator",
            "FILE": rules.name,
            "<file>": rules.name,
            "ID": str(object_id),
            "N": "5",
            "REVISION": "0003",
            "<Action>": "FarmGetDetails",
            "Name=value": "FarmID=1439",
        }.get(word, word)
        words.append(word)
    return shlex.join(words)


# The order a person would follow; a command not listed here runs after these.
ORDER = [
    "db current",
    "db upgrade",
    "config check",
    "demo init",
    "demo seed-events",
    "users add",
    "users list",
    "users token",
    "users remove",
    "kill-switch on",
    "kill-switch status",
    "kill-switch off",
]


LAST = ["db downgrade"]  # back to an older revision: after everything that needs the head


def _rank(line: str) -> int:
    path = " ".join(click_path(line)[0])
    if path in LAST:
        return len(ORDER) + 1 + LAST.index(path)
    return ORDER.index(path) if path in ORDER else len(ORDER)


def test_every_documented_console_command_runs_as_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    rules = home / "rules.yml"
    rules.write_text(RULES)
    sim_port = free_port()
    database = home / "lifeguard.db"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LIFEGUARD_", "SCALR_", "TEST_", "PYTEST", "SMTP_"))
        and key not in {"DATABASE_URL", "RULES_FILE", "USERS_FILE", "API_TOKEN", "INGEST_TOKEN"}
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
        DATABASE_URL=f"sqlite:///{database}",
        LIFEGUARD_INSTANCE_PATH=str(home / "instance"),
        RULES_FILE=str(rules),
        USERS_FILE=str(home / "users.yml"),
        INGEST_TOKEN="docs-ingest-token",
        API_TOKEN="docs-api-token",
        SCALR_API_URL=f"http://127.0.0.1:{sim_port}/api/api.php",
        SCALR_KEY_ID="docs-key",
        SCALR_SECRET_KEY="docs-secret",
        SCALR_ENV_ID="3",
        SPOOL_DIR=str(home / "spool"),
    )
    shell = Console(home, env)
    lines = sorted((line for line in documented_commands() if line.startswith(FLASK)), key=_rank)
    # A line is to be typed when, its placeholders filled, the command has all it needs.
    runnable = [line for line in lines if not is_reference(*click_path(_fill(line, 1, rules))[1:])]

    # The simulator is started by its documented command, with the key this shell uses.
    sim_log = (home / "sim.log").open("w")
    sim = subprocess.Popen(  # noqa: S602 -- the documented command
        f"{FLASK} scalr-sim --port {sim_port} --key-id docs-key --secret-key docs-secret",
        shell=True, cwd=home, env=env, stdout=sim_log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        # The objects a command names by ID: a hold to clear, jobs awaiting a decision.
        made: dict[str, int] = {}
        typed: set[str] = set()
        for line in runnable:
            if _fill(line, 1, rules) in typed:
                continue  # two pages give the same command: typed once
            typed.add(_fill(line, 1, rules))
            if line == f"{FLASK} worker":
                _run_worker_until_heartbeat(shell, database)
                continue
            if line == f"{FLASK} scalr-sim":
                continue  # running since the start, on its port
            path = " ".join(click_path(line)[0])
            if path in OBJECTS and path not in made:
                made[path] = OBJECTS[path](database)
            stdin = "pw-Docs-123\npw-Docs-123\n" if "users add" in line else ""
            if "scalr call" in line:
                _wait_for_port(sim_port, sim)
            output = shell.run(_fill(line, made.get(path, 1), rules), stdin=stdin)
            _check_output(line, output)
        assert f"{FLASK} worker" in shell.ran
        print("ran:", *shell.ran, sep="\n  ")
        assert _calls(sim_port), "the documented `scalr call ServerLaunch` reached no simulator"
    finally:
        os.killpg(sim.pid, signal.SIGTERM)
        sim.wait(20)
        sim_log.close()
    every_path = {
        " ".join(path)
        for path, command, _ in map(click_path, lines)
        if not isinstance(command, click.Group)
    }
    ran_paths = {" ".join(click_path(line)[0]) for line in runnable} | {"worker", "scalr-sim"}
    assert every_path <= ran_paths, f"documented but never run: {every_path - ran_paths}"


def _check_output(line: str, output: str) -> None:
    """What a person would look for in each command's answer."""
    if line.endswith("db current"):
        assert "database:" in output
    elif "rules check" in line:
        assert "replace-terminated-web" in output or "OK" in output.upper(), output
    elif "rules explain" in line:
        assert "replace-terminated-web" in output, output
    elif "kill-switch status" in line:
        assert "kill switch ENGAGED by console:" in output, output
    elif "users list" in line:
        assert "alice" in output, output
    elif "scalr call ServerLaunch" in line:
        assert "ServerID" in output, output
    elif "scalr call" in line:
        assert "1439" in output, output
    elif "events prune" in line:
        assert re.search(r"(would delete|deleted) \d+ events received before ", output), output


def _place_hold(database: Path) -> int:
    """A hold as an unverified launch leaves it, for `holds clear ID` to clear."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO holds (rule, throttle_key, kind, reason, created_at)"
                    " VALUES ('replace-terminated-web', '1978', 'unverified',"
                    " 'ServerLaunch not confirmed', CURRENT_TIMESTAMP)"
                )
            )
            return int(conn.execute(text("SELECT max(id) FROM holds")).scalar_one())
    finally:
        engine.dispose()


def _awaiting_job(database: Path) -> int:
    """An action job waiting for a person's decision, as `approve: {within: 30m}` leaves it."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            event = gen_event(session, farm_id=1439, farm_role_id=1978)
            expires = (utcnow() + timedelta(minutes=30)).isoformat()
            job = gen_job(
                session,
                event.id,
                status="awaiting_approval",
                run_at=utcnow(),
                spec={
                    "approve_within": 1800,
                    "approval": {"requested_at": "x", "expires_at": expires},
                },
            )
            return job.id
    finally:
        engine.dispose()


OBJECTS = {
    "holds clear": _place_hold,
    "actions approve": _awaiting_job,
    "actions deny": _awaiting_job,
}


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the simulator exited"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail("the simulator never listened")


def _calls(port: int) -> list[dict[str, object]]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/calls", timeout=5) as answer:
        data = json.load(answer)
    return [c for c in data.get("calls", data) if "ServerLaunch" in json.dumps(c)]


def _run_worker_until_heartbeat(shell: Console, database: Path) -> None:
    """`flask --app wsgi worker` starts, beats, and stops cleanly on SIGTERM."""
    log = (shell.home / "worker.log").open("w")
    worker = subprocess.Popen(  # noqa: S602 -- the documented command
        f"exec {FLASK} worker", shell=True, cwd=shell.home, env=shell.env,
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    engine = create_engine(f"sqlite:///{database}")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert worker.poll() is None, (shell.home / "worker.log").read_text()
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM worker_heartbeats")).scalar_one():
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the worker never wrote a heartbeat")
    finally:
        engine.dispose()
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(30)
        log.close()
    assert code == 0, (shell.home / "worker.log").read_text()
    shell.ran.append(f"{FLASK} worker")
