"""/metrics: what arrived, what was refused, how long it took, how Scalr answered.

Counted in-process through the test client, then under a real gunicorn with
two workers (prometheus_client's multiprocess mode must add them up), then
on the worker process's own endpoint.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import requests

from app import migrate
from tests.conftest import INGEST_TOKEN
from tests.factories import SID
from tests.processes import free_port, gunicorn
from tests.stack import make_stack
from tests.worker.test_processes import HELLO_RULE, start_worker, store_host_downs, wait_for

__all__ = ["make_stack"]  # a fixture

ROOT = Path(__file__).resolve().parent.parent
MESSAGE = f"Instance {SID} (54.211.17.89) Internal IP: 10.183.42.7 terminated"


def value(text: str, metric: str, **labels: str) -> float:
    """Return the sample `name{labels}` of an exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(metric + "{") and not line.startswith(metric + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_ingest_counts_arrivals_refusals_and_time(client):
    before = client.get("/metrics").get_data(as_text=True)
    for _ in range(3):
        answer = client.post(
            f"/events?token={INGEST_TOKEN}", data={"event": "OnHostDown", "message": MESSAGE}
        )
        assert answer.status_code == 202
    assert client.post("/events?token=wrong", data={"event": "HostDown"}).status_code == 401
    assert client.post(f"/events?token={INGEST_TOKEN}", data={"event": "9x"}).status_code == 400
    assert (
        client.post(f"/events?token={INGEST_TOKEN}", data={"event": "MyOwnThing"}).status_code
        == 202
    )
    after = client.get("/metrics").get_data(as_text=True)

    def delta(metric: str, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    assert delta("lifeguard_events_received_total", name="HostDown", source="observer") == 3
    assert delta("lifeguard_events_received_total", name="other", source="observer") == 1
    assert delta("lifeguard_ingest_refused_total", reason="bad_token") == 1
    assert delta("lifeguard_ingest_refused_total", reason="invalid_event") == 1
    assert delta("lifeguard_ingest_seconds_count", endpoint="ingest.receive_event") == 6
    # The database's gauges are there too, read at scrape time.
    assert "lifeguard_queue_due " in after and "lifeguard_action_jobs" in after
    assert INGEST_TOKEN not in after


def test_gunicorn_workers_add_up(tmp_path, monkeypatch):
    db_url = f"sqlite:///{tmp_path / 'metrics.db'}"
    migrate.upgrade(db_url)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # gunicorn makes its own
    log = tmp_path / "gunicorn.log"
    settings = {"DATABASE_URL": db_url, "INGEST_TOKEN": INGEST_TOKEN, "WEB_CONCURRENCY": "2"}
    with gunicorn(log, LIFEGUARD_INSTANCE_PATH=str(tmp_path), WEB_THREADS="2", **settings) as base:
        for _ in range(20):
            answer = requests.post(  # a new connection each: both workers take some
                f"{base}/events?token={INGEST_TOKEN}",
                data={"event": "OnHostDown", "message": MESSAGE},
                timeout=5,
            )
            assert answer.status_code == 202
        seen = set()
        for _ in range(8):
            text = requests.get(f"{base}/metrics", timeout=5).text
            seen.add(
                value(text, "lifeguard_events_received_total", name="HostDown", source="observer")
            )
    # Whichever worker answered the scrape, it reported the sum over both.
    assert seen == {20.0}, (seen, log.read_text())


def test_the_worker_serves_its_scalr_calls(make_stack, tmp_path):
    stack = make_stack(HELLO_RULE)
    port = free_port()
    proc = start_worker(stack, tmp_path, "counted", WORKER_METRICS_PORT=str(port))
    try:
        store_host_downs(stack, 2)
        wait_for(lambda: len(stack.state.calls("Hello")) == 2, 30, "two Hello calls")

        def counted() -> bool:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except requests.ConnectionError:
                return False
            calls = value(text, "lifeguard_scalr_calls_total", action="Hello", outcome="ok")
            jobs = value(text, "lifeguard_job_outcomes_total", kind="scalr", status="succeeded")
            return calls == 2 and jobs == 2

        wait_for(counted, 15, "the worker's counters")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
