"""Login slowing and lockout are counted once for every gunicorn worker of the machine."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import requests

from app.dashboard.throttle import LoginThrottle, SharedRecords
from tests.processes import gunicorn

PASSWORD = "correct horse battery staple"
FREE = 5  # LoginThrottle's free failures per key


def test_two_workers_allow_the_free_failures_once(database_url, session_factory, tmp_path):
    log = tmp_path / "gunicorn.log"
    env = {
        "DATABASE_URL": database_url,
        "LIFEGUARD_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "lockout-test-secret",
        "ADMIN_USER": "admin",
        "ADMIN_PASSWORD": PASSWORD,
        "WEB_CONCURRENCY": "2",
        "WEB_THREADS": "4",
        # The worker's pid in every access line: which worker answered which attempt.
        "GUNICORN_CMD_ARGS": "--access-logformat '%(p)s %(m)s %(U)s %(s)s'",
    }
    with gunicorn(log, **env) as base:
        statuses = [_attempt(base, "wrong") for _ in range(4 * FREE)]
        good = _attempt(base, PASSWORD)
    answered_by = Counter(pid for pid, status in _posts(log) if status in ("401", "429"))
    assert len(answered_by) == 2, (answered_by, log.read_text()[-2000:])
    # Once for the machine: the first FREE failures are refused as wrong, every later
    # one as locked out, whichever worker took it (per process, each would allow FREE).
    assert statuses[:FREE] == [401] * FREE, statuses
    assert set(statuses[FREE:]) == {429}, statuses
    assert good == 429  # even the right password waits out the lockout


def _attempt(base: str, password: str) -> int:
    """Log in once on a fresh connection (so either worker may take it); return the status."""
    with requests.Session() as session:
        session.headers["Connection"] = "close"
        form = session.get(f"{base}/login", timeout=10)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        answer = session.post(
            f"{base}/login",
            data={"username": "admin", "password": password, "csrf_token": token.group(1)},
            allow_redirects=False,
            timeout=10,
        )
        return answer.status_code


def _posts(log: Path) -> list[tuple[str, str]]:
    """Return (worker pid, status) of every POST /login in the access log."""
    return re.findall(r"^<(\d+)> POST /login (\d{3})$", log.read_text(), re.MULTILINE)


def test_throttles_over_one_file_share_their_counts(tmp_path):
    now = [1000.0]
    path = tmp_path / "login-failures.bin"
    first, second = (
        LoginThrottle(free=2, base_seconds=1, forget_seconds=100, clock=lambda: now[0], path=path)
        for _ in range(2)
    )
    first.failed("user:admin")
    second.failed("user:admin")
    assert first.retry_after("user:admin") == 1 and second.retry_after("user:admin") == 1
    second.failed("user:admin")
    assert first.retry_after("user:admin") == 2
    first.succeeded("user:admin")
    assert second.retry_after("user:admin") == 0
    second.failed("user:admin")
    assert first.retry_after("user:admin") == 0  # counting starts again after a good login
    now[0] += 200
    second.failed("user:admin")
    second.failed("user:admin")
    assert first.retry_after("user:admin") == 1  # forgotten after forget_seconds, then anew


def test_a_full_shared_table_drops_the_least_recent(tmp_path):
    now = [0.0]
    throttle = LoginThrottle(free=1, clock=lambda: now[0], path=tmp_path / "t.bin")
    for i in range(SharedRecords.SLOTS * 2):
        now[0] = float(i)
        throttle.failed(f"addr:{i}")
    last = f"addr:{SharedRecords.SLOTS * 2 - 1}"
    assert throttle.retry_after(last) > 0  # the newest is always kept
