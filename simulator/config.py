"""Seed a simulator state from a dict or YAML file; the demo farm is the default."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from simulator.model import DNSRecord, DNSZone, FarmRole, Script, Timings
from simulator.notify import NotifyConfig
from simulator.state import SimState


def demo_config(key_id: str | None = None, secret_key: str | None = None) -> dict[str, Any]:
    """Return the demo installation: environment 3, farm 1439 "prod" with web and db roles."""
    return {
        "environments": [{"id": 3, "name": "production", "requests_per_hour": None}],
        "api_keys": [
            {
                "key_id": key_id or secrets.token_hex(8),
                "secret_key": secret_key or secrets.token_urlsafe(30),
                "env_ids": [3],
            }
        ],
        "farms": [
            {
                "id": 1439,
                "name": "prod",
                "env_id": 3,
                "roles": [
                    {"id": 1978, "role_id": 501, "name": "web", "min": 2, "max": 4, "servers": 2},
                    {"id": 1979, "role_id": 502, "name": "db", "min": 1, "max": 1, "servers": 1},
                ],
            },
            {
                "id": 1440,
                "name": "staging",
                "env_id": 3,
                "status": 0,
                "roles": [{"id": 1990, "role_id": 501, "name": "web", "min": 1, "max": 2}],
            },
        ],
        "scripts": [
            {
                "id": 1,
                "name": "restart-nginx",
                "description": "Restart nginx",
                "revisions": {1: "#!/bin/sh\nservice nginx restart\n"},
            },
        ],
        "dns_zones": [
            {
                "name": "example.com",
                "farm_id": 1439,
                "records": [
                    {
                        "type": "NS",
                        "ttl": 86400,
                        "name": "example.com.",
                        "value": "ns1.scalr.net.",
                        "system": True,
                    },
                    {"type": "A", "ttl": 300, "name": "www", "value": "54.211.0.11"},
                ],
            }
        ],
    }


def with_story(config: dict[str, Any], start: float = 20.0) -> dict[str, Any]:
    """Add the demo's story to `config`: a role only Lifeguard replaces, and a scripted opening.

    At `start` seconds a web server terminates (Scalr's scaling replaces it at
    once, so Lifeguard's guard skips its launch); 20 s later the one "queue"
    server terminates, and with scaling off there only Lifeguard replaces it.
    """
    farm = next(f for f in config["farms"] if f["id"] == 1439)
    farm["roles"].append(
        {"id": 1980, "role_id": 503, "name": "queue", "min": 1, "max": 2, "servers": 1,
         "scaling": False}
    )  # fmt: skip
    config["scenario"] = [
        {"at": start, "do": "terminate", "farm_role": 1978},
        {"at": start + 20, "do": "terminate", "farm_role": 1980},
    ]
    return config


def build_state(config: Mapping[str, Any], **state_options: Any) -> SimState:
    """Create a SimState and seed it from a config mapping (see demo_config for the shape)."""
    timings = Timings(**config.get("timings", {}))
    notify = NotifyConfig(**config.get("notify", {}))
    state = SimState(timings=timings, notify=notify, **state_options)
    for env in config.get("environments", []):
        state.add_environment(int(env["id"]), str(env["name"]), env.get("requests_per_hour"))
    for key in config.get("api_keys", []):
        state.add_api_key(str(key["key_id"]), str(key["secret_key"]), list(key["env_ids"]))
    for farm in config.get("farms", []):
        state.add_farm(
            int(farm["id"]), str(farm["name"]), int(farm["env_id"]), int(farm.get("status", 1))
        )
        for role in farm.get("roles", []):
            state.add_farm_role(
                FarmRole(
                    id=int(role["id"]),
                    farm_id=int(farm["id"]),
                    role_name=str(role["name"]),
                    role_id=int(role.get("role_id", role["id"])),
                    platform=str(role.get("platform", "ec2")),
                    cloud_location=str(role.get("cloud_location", "us-east-1")),
                    min_instances=int(role.get("min", 1)),
                    max_instances=int(role.get("max", 2)),
                    scaling_enabled=bool(role.get("scaling", True)),
                )
            )
            for _ in range(int(role.get("servers", 0))):
                state.add_server(int(role["id"]))
    for script in config.get("scripts", []):
        revisions = {int(k): str(v) for k, v in script.get("revisions", {}).items()}
        state.add_script(
            Script(int(script["id"]), str(script["name"]), script.get("description", ""), revisions)
        )
    for zone in config.get("dns_zones", []):
        records = [
            DNSRecord(
                id=state.next_id("record"),
                type=str(r["type"]),
                ttl=int(r.get("ttl", 300)),
                name=str(r["name"]),
                value=str(r["value"]),
                is_system=bool(r.get("system", False)),
            )
            for r in zone.get("records", [])
        ]
        state.add_dns_zone(DNSZone(str(zone["name"]), int(zone.get("farm_id", 0)), 0, records))
    state.set_scenario(list(config.get("scenario", [])))
    return state


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a simulator config from YAML."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path}: the simulator config must be a mapping")
    return document
