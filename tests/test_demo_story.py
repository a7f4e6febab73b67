"""`Procfile.demo` started the way `make run` starts it, and the story it must tell.

A copy of the project, `flask demo init` and `db upgrade`, then honcho with
every process of the demo: web, worker, the Scalr simulator with its story,
and the mail sink. Only the waits are shortened, by configuration: the story
starts at 2 s (DEMO_STORY_AT) and the copy's rules wait seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request

from tests.test_procfile import BIN, copy_project, free_port, http, read_procfile, wait_for

STORY_SECONDS = 300  # the README promises every path within five minutes


def api(base: str, token: str, path: str) -> list[dict]:
    status, body = http("GET", f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    return json.loads(body)["items"] if status == 200 else []


def dashboard_page(base: str, values: dict[str, str], path: str) -> str:
    """Log in as the demo's admin and return one dashboard page's HTML."""
    import html
    import http.cookiejar
    import re
    import urllib.parse

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/login", timeout=10) as r:
        form = r.read().decode()
    token = html.unescape(re.search(r'name="csrf_token" value="([^"]+)"', form).group(1))
    body = urllib.parse.urlencode(
        {"username": values["ADMIN_USER"], "password": values["ADMIN_PASSWORD"],
         "csrf_token": token}
    ).encode()  # fmt: skip
    with opener.open(f"{base}/login", data=body, timeout=10):
        pass
    with opener.open(f"{base}{path}", timeout=10) as r:
        return r.read().decode()


def test_demo_shows_every_path_and_stops_on_ctrl_c(tmp_path):
    project = copy_project(tmp_path / "lifeguard")
    rules = project / "rules.example.yml"
    rules.write_text(
        rules.read_text().replace("delay: 2m", "delay: 6s").replace("delay: 1m", "delay: 3s")
    )
    port, sim_port, smtp_port = free_port(), free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LIFEGUARD_", "SCALR_", "TEST_", "PYTEST", "SMTP_"))
        and key not in {"DATABASE_URL", "RULES_FILE", "BIND", "PORT"}
    }
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", LIFEGUARD_DEMO="1")
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    init = subprocess.run(
        [*flask, "demo", "init", "--port", str(port), "--sim-port", str(sim_port)],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    assert "log in as admin / " in init.stdout
    assert "rules.yml" not in init.stderr, init.stderr  # no warning about a missing rules file
    demo_env = project / "instance" / "demo.env"
    values = dict(line.split("=", 1) for line in demo_env.read_text().splitlines() if "=" in line)
    demo_env.write_text(demo_env.read_text().replace("SMTP_PORT=8025", f"SMTP_PORT={smtp_port}"))
    upgrade = subprocess.run(
        [*flask, "db", "upgrade"], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert set(read_procfile(project / "Procfile.demo")) == {"web", "worker", "sim", "mail"}

    log = tmp_path / "honcho.log"
    with log.open("w") as out:
        honcho = subprocess.Popen(
            [str(BIN / "honcho"), "start", "-f", "Procfile.demo", "-e", "instance/demo.env"],
            cwd=project, env={**env, "DEMO_STORY_AT": "2"}, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        base, token = f"http://127.0.0.1:{port}", values["API_TOKEN"]
        started = time.monotonic()
        wait_for(lambda: http("GET", f"{base}/readyz")[0] == 200, 60, "/readyz", honcho, log)

        def launched_and_up() -> bool:
            # A launch with `expect:` turns from succeeded to verified when its HostUp arrives.
            jobs = api(base, token, "/api/v1/actions?status=succeeded") + api(
                base, token, "/api/v1/actions?status=verified"
            )
            ids = {
                (j["result"] or {}).get("ServerID") for j in jobs if j["action"] == "ServerLaunch"
            }
            ups = {e["server_id"] for e in api(base, token, "/api/v1/events?name=hostup")}
            return bool(ids - {None} & ups)

        def skipped_naming_the_replacement() -> bool:
            return any(
                j["action"] == "ServerLaunch"
                and "Scalr replaced it first: the newest is " in (j["reason"] or "")
                for j in api(base, token, "/api/v1/actions?status=skipped")
            )

        def verified() -> list[dict]:
            return [
                j
                for j in api(base, token, "/api/v1/actions?status=verified")
                if j["action"] == "ServerLaunch"
            ]

        def mailed() -> bool:
            return "Subject: [Lifeguard]" in log.read_text()

        left = lambda: STORY_SECONDS - (time.monotonic() - started)  # noqa: E731
        wait_for(launched_and_up, left(), "a replacement Lifeguard launched coming up", honcho, log)
        wait_for(
            skipped_naming_the_replacement,
            left(),
            "a guard's skip naming the replacement",
            honcho,
            log,
        )
        wait_for(mailed, left(), "a notification in the mail sink", honcho, log)
        # The loop is closed: the queue's replacement ends verified by its own HostUp, and the
        # dashboard's actions page shows it so.
        wait_for(lambda: bool(verified()), left(), "a verified remediation", honcho, log)
        [launch] = verified()
        new_server = launch["result"]["ServerID"]
        assert launch["reason"].startswith("confirmed by HostUp event #")
        assert f"of server {new_server}" in launch["reason"]
        page = dashboard_page(base, values, f"/actions/{launch['id']}")
        assert "verified" in page and "confirmed by HostUp" in page
        # The newest server the skip names is one Scalr's scaling launched.
        with urllib.request.urlopen(f"http://127.0.0.1:{sim_port}/_sim/state", timeout=10) as r:
            assert json.load(r)["servers"]
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGINT)  # Ctrl-C, the way the README says to stop it
            try:
                honcho.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
                raise
    assert honcho.returncode is not None
    # Every process of the group ended: nothing is left listening.
    time.sleep(1)
    for p in (port, sim_port, smtp_port):
        assert http("GET", f"http://127.0.0.1:{p}/")[0] == 0, f"port {p} still answers"
    output = log.read_text()
    for name in ("web", "worker", "sim", "mail"):
        assert f"{name}.1 stopped" in output, output[-3000:]
    assert "story: at 2s terminate" in output
