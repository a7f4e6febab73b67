"""Slow senders, floods and bursts against a real gunicorn with the project's gunicorn.conf.py.

- A client that sends its body one byte a second does not delay the other senders
  (p99 under a second).
- A flood of posts failing authentication from one address gets `429` past
  INGEST_RATE_PER_MINUTE, counted once across the two gunicorn workers.
- An authenticated burst far past INGEST_RATE_PER_MINUTE is all acknowledged and stored.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import select

from app.models.event import Event
from tests.conftest import INGEST_TOKEN
from tests.processes import gunicorn
from tests.reliability.figures import report

LIMIT = 30  # INGEST_RATE_PER_MINUTE here: failed posts per address and minute
SLOW_BODY = b"event=HostUp"  # one byte a second: the slow client takes 12 s
FAST_RATE, FAST_SENDS = 40, 400  # the others meanwhile: 10 s at 40 a second
BURST = 20 * LIMIT


def test_slow_client_flood_and_burst(database_url, session_factory, tmp_path):
    log = tmp_path / "gunicorn.log"
    env = {
        "DATABASE_URL": database_url,
        "INGEST_TOKEN": INGEST_TOKEN,
        "LIFEGUARD_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "x",
        "INGEST_RATE_PER_MINUTE": str(LIMIT),
        "WEB_CONCURRENCY": "2",
        "WEB_THREADS": "4",
        "GUNICORN_CMD_ARGS": "--access-logformat '%(p)s %(m)s %(U)s %(s)s'",
    }
    with gunicorn(log, **env) as base:
        port = int(base.rsplit(":", 1)[1])
        # 1. One slow sender while others post as fast as one connection each allows.
        slow_result: list[int] = []
        slow = threading.Thread(target=_slow_post, args=(port, slow_result))
        slow.start()
        time.sleep(0.5)  # its headers are in: a worker thread now waits on its body
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            timed = list(pool.map(lambda n: _timed_post(base, started + n / FAST_RATE),
                                  range(FAST_SENDS)))  # fmt: skip
        overlapped = slow.is_alive()  # every fast send was answered while the slow one waited
        slow.join(timeout=len(SLOW_BODY) + 20)
        latencies = sorted(seconds for seconds, _, _ in timed)
        p99 = latencies[int(len(latencies) * 0.99) - 1]

        # 2. A flood failing authentication, within one clock minute.
        while time.time() % 60 > 50:  # not across a minute boundary: two windows
            time.sleep(1)
        with ThreadPoolExecutor(4) as pool:
            flood = Counter(pool.map(lambda _: _bad_post(base), range(3 * LIMIT)))

        # 3. An authenticated burst twenty times the failure limit, from the same address.
        with ThreadPoolExecutor(8) as pool:
            burst = list(pool.map(lambda _: _post(base), range(BURST)))
    flood_workers = {pid for pid, path, _ in _access(log) if path == "/events"}

    sent = [marker for _, marker, _ in timed] + [marker for marker, _ in burst]
    acked = [m for _, m, status in timed if status == 202] + [m for m, s in burst if s == 202]
    refused = len(sent) - len(acked)
    with session_factory() as session:
        stored = Counter(session.scalars(select(Event.server_id)))
    lost = [m for m in acked if m not in stored]
    report(
        f"slow client and flood: sent {len(sent) + 1}, acknowledged {len(acked) + slow_result.count(202)}, "
        f"refused {refused}, stored {sum(stored.values())}, lost {len(lost)}; "
        f"p99 beside a 1 byte/s sender {p99 * 1000:.0f} ms (max {latencies[-1] * 1000:.0f} ms); "
        f"failed-auth flood of {3 * LIMIT} over {len(flood_workers)} workers: "
        f"{flood[401]} answered 401, {flood[429]} answered 429 (limit {LIMIT}); "
        f"authenticated burst {BURST}: {sum(1 for _, s in burst if s == 202)} acknowledged"
    )
    assert overlapped, "the slow sender finished before the others: nothing was shown"
    assert slow_result == [202], slow_result  # the slow one is kept too, once it is all in
    assert refused == 0 and lost == []
    assert max(stored.values()) == 1  # and nothing twice
    assert p99 < 1.0, latencies[-10:]
    assert len(flood_workers) == 2, log.read_text()[-2000:]
    assert flood == {401: LIMIT, 429: 2 * LIMIT}, flood  # the limit once, not once per worker


def _message(marker: str) -> str:
    return f"Instance {marker} (54.211.17.89) Internal IP: 10.0.0.7 terminated"


def _post(base: str) -> tuple[str, int]:
    marker = str(uuid.uuid4())
    answer = requests.post(  # a new connection each, as Scalr's curl does
        f"{base}/events?token={INGEST_TOKEN}",
        data={"event": "OnHostDown", "message": _message(marker)},
        timeout=15,
    )
    return marker, answer.status_code


def _timed_post(base: str, due: float) -> tuple[float, str, int]:
    time.sleep(max(0.0, due - time.monotonic()))
    started = time.monotonic()
    marker, status = _post(base)
    return time.monotonic() - started, marker, status


def _bad_post(base: str) -> int:
    answer = requests.post(
        f"{base}/events?token=wrong-token",
        data={"event": "OnHostDown", "message": "m"},
        headers={"Connection": "close"},
        timeout=15,
    )
    return answer.status_code


def _slow_post(port: int, result: list[int]) -> None:
    """Post a delivery whose body arrives one byte a second; keep the answer's status."""
    body = SLOW_BODY
    head = (
        f"POST /events?token={INGEST_TOKEN}&farm_id=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        for byte in body:
            time.sleep(1.0)
            sock.sendall(bytes([byte]))
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    result.append(int(match.group(1)) if match else 0)


def _access(log: Path) -> list[tuple[str, str, str]]:
    """Return (worker pid, path, status) of every POST in the access log."""
    return re.findall(r"^<(\d+)> POST (\S+) (\d{3})$", log.read_text(), re.MULTILINE)
