"""`flask kill-switch on|off|status`, `flask actions approve|deny|awaiting` and
`flask users add|list|remove|token`.

Whoever runs the console holds the machine, so the console acts as an admin;
each change is written to the audit trail as `console:<login name>`.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.audit import audit, audit_refusal
from app.db import transaction
from app.jobs.approvals import DECISIONS
from app.jobs.control import ControlError
from app.jobs.kill_switch import (
    engage_kill_switch,
    kill_switch_json,
    kill_switch_state,
    release_kill_switch,
)
from app.models.job import AWAITING_APPROVAL, ActionJob
from app.services import get_services
from app.users import (
    ADMIN,
    ROLES,
    Actor,
    UsersFileError,
    add_token,
    add_user,
    remove_user,
    users_path,
)  # fmt: skip
from app.web import get_config

kill_switch_cli = AppGroup("kill-switch", help="Hold back every action job, or let them go.")
users_cli = AppGroup("users", help="Dashboard and API users of USERS_FILE.")
actions_cli = AppGroup("actions", help="Decide action jobs awaiting approval.")


def console_actor() -> Actor:
    """Return the person at the console."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(name, ADMIN, "console", None)


def _describe(state: dict[str, object]) -> str:
    if state["engaged"]:
        return (
            f"kill switch ENGAGED by {state['engaged_by']} at {state['engaged_at']}: "
            f"{state['reason']}"
        )
    released = f" (released by {state['released_by']} at {state['released_at']})"
    return "kill switch released" + (released if state["released_by"] else "")


@kill_switch_cli.command("on")
@click.option("--reason", required=True, help="Why: shown on every job it holds back.")
def kill_switch_on(reason: str) -> None:
    """Engage the kill switch: every job that comes due is skipped until it is released."""
    _change(engage=True, reason=reason)


@kill_switch_cli.command("off")
def kill_switch_off() -> None:
    """Release the kill switch; jobs it skipped stay skipped until a person retries them."""
    _change(engage=False, reason=None)


@kill_switch_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
def kill_switch_status(as_json: bool) -> None:
    """Say whether the kill switch is engaged, by whom, since when and why."""
    with get_services().session_factory() as session:
        state = kill_switch_json(kill_switch_state(session))
    click.echo(json.dumps(state) if as_json else _describe(state))


def _change(engage: bool, reason: str | None) -> None:
    services = get_services()
    actor = console_actor()
    control = "kill_switch.engage" if engage else "kill_switch.release"
    now = services.clock()
    try:
        with transaction(services.session_factory) as session:
            if engage:
                row = engage_kill_switch(session, actor.label, reason or "", now)
            else:
                row = release_kill_switch(session, actor.label, now)
            audit(session, actor, control, "kill_switch", reason=reason, now=now)
            state = kill_switch_json(row)
    except ControlError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(_describe(state))


@actions_cli.command("awaiting")
def actions_awaiting() -> None:
    """List the jobs awaiting approval, oldest first, with their deadlines."""
    with get_services().session_factory() as session:
        jobs = session.scalars(
            select(ActionJob).where(ActionJob.status == AWAITING_APPROVAL).order_by(ActionJob.id)
        ).all()
        for job in jobs:
            click.echo(f"#{job.id} {job.rule} {job.kind} {job.action}: {job.reason}")
        if not jobs:
            click.echo("no jobs awaiting approval")


@actions_cli.command("approve")
@click.argument("job_id", type=int)
@click.option("--reason", default="", help="Why: kept on the job and in the audit trail.")
def actions_approve(job_id: int, reason: str) -> None:
    """Approve job JOB_ID: it runs now, through every guard (kill switch, silences, ...)."""
    _decide("approve", job_id, reason)


@actions_cli.command("deny")
@click.argument("job_id", type=int)
@click.option("--reason", default="", help="Why: kept on the job and in the audit trail.")
def actions_deny(job_id: int, reason: str) -> None:
    """Deny job JOB_ID: it is cancelled and never runs."""
    _decide("deny", job_id, reason)


def _decide(decision: str, job_id: int, reason: str) -> None:
    services = get_services()
    actor = console_actor()
    control, target = f"job.{decision}", f"job:{job_id}"
    now = services.clock()
    reason = reason.strip()
    session = services.session_factory()
    try:
        audit(session, actor, control, target, reason=reason, now=now)
        job = DECISIONS[decision](session, job_id, actor.label, now, reason)
        session.commit()
        click.echo(f"job {job.id} {job.status}: {job.reason}")
    except ControlError as exc:
        audit_refusal(
            session, services.session_factory, actor, control, target, exc.code, reason=reason
        )
        raise click.ClickException(exc.message) from None
    finally:
        session.close()


def _users_path() -> Path:
    path = users_path(get_config())
    if path is None:
        raise click.ClickException("USERS_FILE is not set: say where the users file is.")
    return path


@users_cli.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.password_option(help="Asked for when not given (never put it in shell history).")
def users_add(name: str, role: str, password: str) -> None:
    """Add user NAME with ROLE to USERS_FILE (or change their role and password)."""
    path = _users_path()
    try:
        add_user(path, name, role, password)
    except UsersFileError as exc:
        raise click.ClickException(str(exc)) from None
    with transaction(get_services().session_factory) as session:
        audit(session, console_actor(), "user.add", f"user:{name}", detail={"role": role})
    click.echo(f"user {name} ({role}) written to {path}")


@users_cli.command("remove")
@click.argument("name")
def users_remove(name: str) -> None:
    """Remove user NAME from USERS_FILE; their sessions and tokens stop working."""
    path = _users_path()
    try:
        removed = remove_user(path, name)
    except UsersFileError as exc:
        raise click.ClickException(str(exc)) from None
    if not removed:
        raise click.ClickException(f"no user {name!r} in {path}")
    with transaction(get_services().session_factory) as session:
        audit(session, console_actor(), "user.remove", f"user:{name}")
    click.echo(f"user {name} removed")


@users_cli.command("token")
@click.argument("name")
def users_token(name: str) -> None:
    """Give user NAME a new API token with their role; it is printed once and kept hashed."""
    path = _users_path()
    try:
        token = add_token(path, name)
    except UsersFileError as exc:
        raise click.ClickException(str(exc)) from None
    with transaction(get_services().session_factory) as session:
        audit(session, console_actor(), "user.token", f"user:{name}")
    click.echo(token)


@users_cli.command("list")
def users_list() -> None:
    """List the users of USERS_FILE with their roles."""
    store = get_services().users
    _users_path()
    if store.problem:
        raise click.ClickException(store.problem)
    for user in store.users().values():
        click.echo(f"{user.name}\t{user.role}\t{len(user.token_hashes)} API tokens")
