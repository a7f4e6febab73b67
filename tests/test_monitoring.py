"""The alert rules and the Grafana dashboard in docs/monitoring name only metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "docs" / "monitoring"
METRIC = re.compile(r"\blifeguard_[a-z_]+")
SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def declared_metrics() -> set[str]:
    """Every metric name the code declares (a quoted lifeguard_* string in app/)."""
    names: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        names.update(re.findall(r"[\"'](lifeguard_[a-z_]+)[\"']", path.read_text()))
    return names


def base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_alert_rules_are_well_formed_and_name_real_metrics():
    doc = yaml.safe_load((MONITORING / "lifeguard-alerts.yml").read_text())
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    assert len(rules) >= 8
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    known = declared_metrics()
    for rule in rules:
        assert rule["expr"].strip() and rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"]
        used = {base(m) for m in METRIC.findall(rule["expr"])}
        assert used and used <= known, (rule["alert"], used - known)


def test_grafana_dashboard_parses_and_names_real_metrics():
    dash = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    known = declared_metrics()
    exprs = [t["expr"] for panel in dash["panels"] for t in panel["targets"]]
    assert len(exprs) >= 10
    ids = [panel["id"] for panel in dash["panels"]]
    assert len(ids) == len(set(ids))
    for expr in exprs:
        used = {base(m) for m in METRIC.findall(expr)}
        assert used and used <= known, (expr, used - known)
