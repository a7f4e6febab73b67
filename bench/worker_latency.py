"""How soon after Scalr's post does the remediation call reach Scalr?

Posts HostDown notifications to a real Lifeguard web server, lets a real
worker match and run them against the Scalr simulator, and measures from the
202 answer to the moment the simulator received ServerLaunch. Run twice in the
same process: woken by PostgreSQL LISTEN/NOTIFY (or SQLite's short poll), and a
baseline that only polls every WORKER_POLL_SECONDS (0.5 s). Prints p50/p99 and
the ratio. Usage: python -m bench.worker_latency [--events 40] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import text
from werkzeug.serving import make_server

from app import create_app, migrate
from app.config import Config
from app.db import make_engine, normalise_url
from app.services import services_of
from app.worker import loop
from app.worker.loop import Worker
from simulator import SimulatorServer, build_state, demo_config

RULES = """
rules:
  - name: replace
    events: [HostDown]
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "1978", IncreaseMaxInstances: 1}
"""
KEY, SECRET, TOKEN = "benchkey", "bench-secret-0123456789", "bench-token"


class PollOnly(loop.Listener):
    """The baseline: never woken, only the poll interval."""

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run(database_url: str, events: int, wake: bool, workdir: Path) -> list[float]:
    config = demo_config(KEY, SECRET)
    config["timings"] = {"tick_seconds": 0}
    state = build_state(config, autotick=False)
    with SimulatorServer(state) as sim:
        rules = workdir / "rules.yml"
        rules.write_text(RULES)
        cfg = Config.from_env(
            {
                "SCALR_API_URL": sim.url,
                "SCALR_KEY_ID": KEY,
                "SCALR_SECRET_KEY": SECRET,
                "SCALR_ENV_ID": "3",
            }
        ).with_overrides(
            database_url=database_url,
            instance_path=workdir,
            secret_key="x",
            ingest_token=TOKEN,
            rules_file=str(rules),
            inventory_sync_seconds=0,
            worker_poll_seconds=0.5,
            budget_max=10**6,
        )
        app = create_app(cfg)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        original = loop.Listener
        loop.Listener = loop.Listener if wake else PollOnly  # type: ignore[misc]
        worker = Worker(cfg, services_of(app).session_factory, services_of(app).rules)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        time.sleep(0.5)
        latencies = []
        try:
            for i in range(events):
                message = f"Instance {uuid.uuid4()} (54.211.17.89) Internal IP: 10.0.0.{i % 250} terminated"
                answer = requests.post(
                    f"http://127.0.0.1:{server.server_port}/events?token={TOKEN}",
                    data={"event": "OnHostDown", "message": message},
                    timeout=5,
                )
                answered = state.now()
                deadline = time.monotonic() + 10
                while len(state.calls("ServerLaunch")) <= i and time.monotonic() < deadline:
                    time.sleep(0.002)
                calls = state.calls("ServerLaunch")
                assert answer.status_code == 202 and len(calls) > i, "the launch never arrived"
                latencies.append(calls[i].time - answered)
                time.sleep(0.05)
        finally:
            worker.stop()
            thread.join(10)
            loop.Listener = original  # type: ignore[misc]
            server.shutdown()
            server.server_close()
            services_of(app).engine.dispose()
    return latencies


def fresh_database(base_url: str | None, workdir: Path, label: str) -> str:
    if not base_url:
        url = f"sqlite:///{workdir / f'{label}.db'}"
    else:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        engine = make_engine(base_url)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        url = f"{normalise_url(base_url)}?options=-csearch_path%3D{schema}"
    migrate.upgrade(url)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        backend = "postgresql" if args.database_url else "sqlite"
        woken = run(fresh_database(args.database_url, workdir, "wake"), args.events, True, workdir)
        polled = run(
            fresh_database(args.database_url, workdir, "poll"), args.events, False, workdir
        )
    print(f"event -> first Scalr call on {backend}, {args.events} events each")
    for name, values in (
        ("woken (NOTIFY / short poll)", woken),
        ("baseline: 0.5 s poll only", polled),
    ):
        print(
            f"  {name:30s} p50 {percentile(values, 50) * 1000:7.1f} ms   p99 {percentile(values, 99) * 1000:7.1f} ms"
            f"   mean {statistics.mean(values) * 1000:7.1f} ms"
        )
    print(f"  ratio baseline/woken p50: {percentile(polled, 50) / percentile(woken, 50):.1f}x")


if __name__ == "__main__":
    main()
