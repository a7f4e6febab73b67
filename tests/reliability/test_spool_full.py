"""The spool at its bound answers 503 and loses nothing it acknowledged.

A real gunicorn reaches PostgreSQL through a proxy that the test cuts; with a tiny
SPOOL_MAX_BYTES the spool fills within a few dozen deliveries. Every `202` must be
stored exactly once after the database is back, every `503` must be absent (refused,
never acknowledged), and once the spool is replayed ingest takes deliveries again.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
import requests
from sqlalchemy import select

from app.models.event import Event
from tests.conftest import INGEST_TOKEN
from tests.processes import gunicorn
from tests.reliability.figures import report
from tests.reliability.proxy import CuttableProxy

pytestmark = pytest.mark.postgres

SPOOL_MAX_BYTES = 16 * 1024
SENDS = 120


def _post(base: str) -> tuple[str, int, dict]:
    marker = str(uuid.uuid4())
    answer = requests.post(
        f"{base}/events?token={INGEST_TOKEN}",
        data={"event": "OnHostDown", "message": f"Instance {marker} (1.2.3.4) terminated"},
        timeout=15,
    )
    return marker, answer.status_code, answer.json()


def test_a_full_spool_refuses_and_loses_nothing_it_acknowledged(
    database_url, session_factory, tmp_path
):
    proxy = CuttableProxy("127.0.0.1", 5432).start()
    assert "127.0.0.1:5432" in database_url
    env = {
        "DATABASE_URL": database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"),
        "INGEST_TOKEN": INGEST_TOKEN,
        "LIFEGUARD_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "x",
        "SPOOL_MAX_BYTES": str(SPOOL_MAX_BYTES),
    }
    try:
        with gunicorn(tmp_path / "gunicorn.log", **env) as base:
            before = _post(base)
            assert before[1] == 202 and before[2]["id"], before
            proxy.cut()
            answers = [_post(base) for _ in range(SENDS)]
            proxy.restore()
            acked = [m for m, status, _ in answers if status == 202]
            refused = [(m, body) for m, status, body in answers if status != 202]
            stored: Counter[str] = Counter()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with session_factory() as session:
                    stored = Counter(session.scalars(select(Event.server_id)))
                if all(m in stored for m in acked):
                    break
                time.sleep(0.5)
            after = _post(base)  # the spool replayed, ingest takes deliveries again
    finally:
        proxy.stop()
    lost = [m for m in acked if m not in stored]
    stored_refused = [m for m, _ in refused if m in stored]
    report(
        f"spool full (database cut, SPOOL_MAX_BYTES {SPOOL_MAX_BYTES}): sent {SENDS}, "
        f"acknowledged {len(acked)} (spooled), refused {len(refused)} (503 spool_full), "
        f"stored {sum(stored[m] for m in acked)}, lost {len(lost)}, "
        f"refused yet stored {len(stored_refused)}"
    )
    assert acked and refused, "the spool never filled, or never took anything"
    assert {body.get("error") for _, body in refused} == {"spool_full"}
    assert lost == [] and stored_refused == []
    assert all(stored[m] == 1 for m in acked)
    assert after[1] == 202, after
