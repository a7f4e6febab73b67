"""`flask config check`: the effective configuration, secrets masked, and every problem found.

A problem is an `error` (Lifeguard cannot do what it is configured to do:
the exit status is 1) or a `warning` (it runs, but something a user expects
will not happen, such as ingest refusing every post because no token is set).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import Engine

from app import migrate
from app.config import Config
from app.logging_setup import first_line
from app.rules.model import RuleSet
from app.rules.store import RulesStatus
from app.scalr.environments import load_environments
from app.scalr.errors import ScalrConfigError
from app.services import get_services

config_cli = AppGroup("config", help="Inspect the configuration.")

SECRET_FIELDS = frozenset(
    {"secret_key", "ingest_token", "api_token", "admin_password", "scalr_webhook_key"}
)
MASK = "********"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration."""

    level: str  # "error" or "warning"
    message: str


def effective_settings(config: Config) -> list[tuple[str, str]]:
    """Return (name, shown value) for every setting; a set secret shows as a mask."""
    rows: list[tuple[str, str]] = []
    for item in fields(config):
        if item.name == "environ":
            continue
        value: Any = getattr(config, item.name)
        if item.name in SECRET_FIELDS:
            shown = MASK if value else "(not set)"
        elif item.name == "database_url":
            from sqlalchemy.engine import make_url

            shown = make_url(value).render_as_string(hide_password=True)
        elif isinstance(value, tuple):
            shown = ", ".join(str(v) for v in value) or "(none)"
        else:
            shown = str(value)
        rows.append((item.name, shown))
    return rows


def _action_kinds(ruleset: RuleSet) -> set[str]:
    return {str(getattr(a, "kind", "")) for rule in ruleset.rules for a in rule.actions}


def find_problems(
    config: Config, rules: RulesStatus, ruleset: RuleSet, engine: Engine | None
) -> list[Problem]:
    """Return every problem of `config`, the rules it runs and the database it names."""
    problems: list[Problem] = []

    def error(message: str) -> None:
        problems.append(Problem("error", message))

    def warning(message: str) -> None:
        problems.append(Problem("warning", message))

    scalr_broken = False
    try:
        environments = load_environments(config.environ)
    except ScalrConfigError as exc:
        error(f"Scalr: {exc}")
        environments, scalr_broken = {}, True
    for problem in rules.errors:
        line = f":{problem.line}" if problem.line is not None else ""
        error(f"rules file {rules.path}{line}: {problem.message}")
    if rules.loaded_at is None and not rules.errors:
        error(f"rules file {rules.path}: never loaded")
    kinds = _action_kinds(ruleset)
    if "webhook" in kinds and not config.webhook_allowed_urls:
        error("rules use webhook actions but WEBHOOK_ALLOWED_URLS is empty: every one will fail")
    if "scalr" in kinds and not environments and not scalr_broken:
        error("rules call Scalr but no Scalr environment is configured (SCALR_API_URL)")
    if "email" in kinds and config.smtp_host == "localhost":
        warning("rules send e-mail through SMTP_HOST=localhost: is a mail server listening there?")
    if not config.ingest_token and not config.demo_mode:
        warning("INGEST_TOKEN is not set: POST /events refuses every delivery")
    if not config.api_token:
        warning("API_TOKEN is not set: /api/v1 refuses every request")
    if not (config.admin_user and config.admin_password) and not config.demo_mode:
        warning("ADMIN_USER/ADMIN_PASSWORD are not set: nobody can log in to the dashboard")
    if not config.secret_key:
        warning(
            f"SECRET_KEY is not set: sessions are signed with {config.instance_path}/secret_key"
        )
    if config.dry_run:
        warning("DRY_RUN is on: no job calls anything")
    if engine is not None:
        try:
            schema = migrate.schema_problem(engine)
        except Exception as exc:  # the database itself: unreachable, refused, bad URL
            error(f"database: {type(exc).__name__}: {first_line(exc)}")
        else:
            if schema is not None:
                error(schema)
    return problems


def print_report(settings: Iterable[tuple[str, str]], problems: list[Problem]) -> None:
    """Print the settings table and the problems."""
    rows = list(settings)
    width = max(len(name) for name, _ in rows)
    for name, shown in rows:
        click.echo(f"{name.ljust(width)}  {shown}")
    click.echo("")
    if not problems:
        click.echo("no problems found")
    for problem in problems:
        click.echo(f"{problem.level}: {problem.message}")


@config_cli.command("check")
def check_command() -> None:
    """Print the effective configuration (secrets masked) and every problem; exit 1 on an error."""
    services = get_services()
    store = services.rules
    store.reload_if_changed(force=True)
    problems = find_problems(services.config, store.status(), store.current, services.engine)
    print_report(effective_settings(services.config), problems)
    if any(p.level == "error" for p in problems):
        raise SystemExit(1)
