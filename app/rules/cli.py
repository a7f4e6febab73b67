"""`flask rules check FILE`, `flask rules explain FILE EVENT_JSON`, `flask rules windows FILE`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click
from flask.cli import AppGroup

from app.rules.errors import RulesError, TemplateError
from app.rules.loader import load_rules_file
from app.rules.matching import explain_all, to_jsonable
from app.rules.model import EVENT_FIELDS, Rule, RuleSet
from app.rules.templating import render_action, render_throttle_key

rules_cli = AppGroup("rules", help="Check rules files and explain their decisions.")


def _load(path: str) -> RuleSet:
    """Return the rules in `path`, or print every problem and exit 1."""
    try:
        return load_rules_file(path)
    except RulesError as exc:
        for line in exc.formatted():
            click.echo(line, err=True)
        click.echo(f"{path}: {len(exc.errors)} problem(s); rules refused", err=True)
        raise SystemExit(1) from None


@rules_cli.command("check")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
def check_command(path: str) -> None:
    """Validate a rules file: print every problem as FILE:LINE: path: message."""
    ruleset = _load(path)
    for warning in ruleset.warnings:
        click.echo(f"{warning.format(path).replace(': ', ': warning: ', 1)}", err=True)
    windows = f", {len(ruleset.maintenance)} maintenance windows" if ruleset.maintenance else ""
    click.echo(f"{path}: {len(ruleset)} rules{windows} OK (version {ruleset.version})")


@rules_cli.command("windows")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the windows as JSON.")
def windows_command(path: str, as_json: bool) -> None:
    """List the maintenance windows of a rules file, each open or closed now."""
    ruleset = _load(path)
    now = datetime.now(UTC)
    if as_json:
        click.echo(json.dumps([w.to_dict(now) for w in ruleset.maintenance], indent=2))
        return
    for window in ruleset.maintenance:
        state = "OPEN  " if window.active_at(now) else "closed"
        matchers = json.dumps(window.matchers, ensure_ascii=False)
        click.echo(f"{state} {window.name}: {window.describe()} {matchers}")
    if not ruleset.maintenance:
        click.echo("no maintenance windows")


def _read_event(text: str) -> dict[str, Any]:
    """Return the event in the JSON `text` (`-` reads stdin), with every field present."""
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        with open(text[1:], encoding="utf-8") as handle:
            text = handle.read()
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="EVENT_JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("name"), str):
        raise click.BadParameter("expected a JSON object with a `name`", param_hint="EVENT_JSON")
    event.setdefault("data", {})
    event.setdefault("enriched_fields", [])
    return {**{name: None for name in EVENT_FIELDS}, **event}


@rules_cli.command("explain")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.argument("event_json", metavar="EVENT_JSON")
@click.option("--json", "as_json", is_flag=True, help="Print the evaluations as JSON.")
def explain_command(path: str, event_json: str, as_json: bool) -> None:
    """Say for each rule whether it fires for an event (JSON, `-` for stdin, @file) and why."""
    ruleset = _load(path)
    event = _read_event(event_json)
    evaluations = explain_all(ruleset, event)
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in evaluations], indent=2))
        return
    for evaluation in evaluations:
        if not evaluation.matched:
            click.echo(f"no     {evaluation.rule_name}: {evaluation.reason}")
            continue
        click.echo(f"MATCH  {evaluation.rule_name}")
        rule = ruleset.get(evaluation.rule_name)
        assert rule is not None
        _preview(rule, event)
    matched = sum(e.matched for e in evaluations)
    click.echo(f"{matched} of {len(evaluations)} rules match {event['name']}")


def _preview(rule: Rule, event: dict[str, Any]) -> None:
    """Print what a matching rule would do, rendered against the event."""
    notes = [f"delay {rule.delay}s"] if rule.delay else []
    notes += ["dry run"] if rule.dry_run else []
    if rule.throttle:
        try:
            key = render_throttle_key(rule.throttle, event, rule=rule)
            notes.append(f"throttle {rule.throttle.max}/{rule.throttle.per}s key {key!r}")
        except TemplateError as exc:
            notes.append(f"throttle key fails: {exc}")
    if notes:
        click.echo(f"         ({', '.join(notes)})")
    for index, action in enumerate(rule.actions):
        try:
            rendered = render_action(action, event, rule=rule, public_url="")
            params = json.dumps(to_jsonable(rendered.params), ensure_ascii=False)
            click.echo(f"         [{index}] {rendered.kind} {rendered.action} {params}")
        except TemplateError as exc:
            click.echo(f"         [{index}] {action.kind}: would fail: {exc}")
