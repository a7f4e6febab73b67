"""`flask scalr-sim` and `python -m simulator`: run a simulated Scalr on loopback."""

from __future__ import annotations

import time

import click

from simulator.config import build_state, demo_config, load_config, with_story
from simulator.server import SimulatorServer


@click.command("scalr-sim")
@click.option("--port", default=8400, show_default=True, help="Loopback port to listen on.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML seed (default: the demo farm 1439).",
)
@click.option("--key-id", envvar="SCALR_SIM_KEY_ID", help="API key id (default: random).")
@click.option("--secret-key", envvar="SCALR_SIM_SECRET_KEY", help="API secret (default: random).")
@click.option("--notify-url", help="Legacy RESTEventObserver URL for every event.")
@click.option("--webhook-url", help="5.x webhook endpoint URL.")
@click.option("--webhook-key", help="5.x webhook signing key.")
@click.option(
    "--chaos-rate", default=0.0, show_default=True, help="Random terminations/reboots per minute."
)
@click.option(
    "--scaling/--no-scaling",
    default=False,
    show_default=True,
    help="Replace servers below MinInstances, like Scalr's scaling.",
)
@click.option(
    "--story",
    "story_at",
    type=float,
    default=None,
    help="Demo farm only: add the demo's story, its first strike this many seconds after start.",
)
@click.option(
    "--legacy-timestamp/--lenient-timestamp",
    default=True,
    show_default=True,
    help="Scalr 3.0-4.1 TimeStamp decoding, or the 4.4+ fallback.",
)
def scalr_sim_command(
    port: int,
    config_path: str | None,
    key_id: str | None,
    secret_key: str | None,
    notify_url: str | None,
    webhook_url: str | None,
    webhook_key: str | None,
    chaos_rate: float,
    scaling: bool,
    story_at: float | None,
    legacy_timestamp: bool,
) -> None:
    """Run a simulated Scalr Query API on 127.0.0.1 until interrupted."""
    config = load_config(config_path) if config_path else demo_config(key_id, secret_key)
    if story_at is not None and not config_path:
        config = with_story(config, story_at)
    state = build_state(config, scaling=scaling, legacy_timestamp=legacy_timestamp)
    notify = state.notifier.config
    notify.default_url = notify_url or notify.default_url
    notify.webhook_url = webhook_url or notify.webhook_url
    notify.webhook_key = webhook_key or notify.webhook_key
    state.set_chaos(chaos_rate)
    with SimulatorServer(state, port=port) as sim:
        key = next(iter(state.api_keys.values()))
        click.echo(f"Scalr simulator listening on {sim.base_url}")
        click.echo(f"SCALR_API_URL={sim.url}")
        click.echo(f"SCALR_KEY_ID={key.key_id}")
        click.echo(f"SCALR_SECRET_KEY={key.secret_key}")
        click.echo(f"SCALR_ENV_ID={key.env_ids[0] if key.env_ids else ''}")
        click.echo(f"controls: {sim.base_url}/_sim/state, /_sim/calls, /_sim/faults, /_sim/chaos")
        if state.scenario.steps:
            plan = "; ".join(
                f"at {s.at:g}s {s.do} a server of farm role {s.farm_role_id}"
                for s in state.scenario.steps
            )
            click.echo(f"story: {plan}; then chaos at {chaos_rate:g} per minute")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("stopping")
