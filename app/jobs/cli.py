"""`flask holds list` and `flask holds clear ID [--cancel]`: the console's way to clear a hold."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.jobs.control import ControlError
from app.jobs.holds import CANCEL, RELEASE, clear_hold, list_holds
from app.services import get_services

holds_cli = AppGroup("holds", help="Holds on rules whose remediation was left unverified.")


@holds_cli.command("list")
@click.option("--all", "everything", is_flag=True, help="Include cleared holds.")
def list_command(everything: bool) -> None:
    """Print the holds in force (and cleared ones with --all)."""
    with get_services().session_factory() as session:
        holds = list_holds(session, include_cleared=everything)
        for hold in holds:
            state = f"cleared by {hold.cleared_by}" if hold.cleared_at else "in force"
            scope = (
                f"storm farm_role={hold.farm_role_id}"
                if hold.farm_role_id is not None
                else f"{hold.rule} key={hold.throttle_key!r}"
            )
            click.echo(f"#{hold.id} {scope} {state}: {hold.reason}")
        if not holds:
            click.echo("no holds")


@holds_cli.command("clear")
@click.argument("hold_id", type=int)
@click.option("--cancel", is_flag=True, help="Cancel the held jobs instead of releasing them.")
@click.option("--reason", default="", help="Why it is safe now (kept in the audit trail).")
def clear_command(hold_id: int, cancel: bool, reason: str) -> None:
    """Clear a hold; its held jobs run now (or are cancelled with --cancel); audited."""
    from app.audit import audit
    from app.controls_cli import console_actor

    actor = console_actor()
    choice = CANCEL if cancel else RELEASE
    with get_services().session_factory() as session:
        try:
            hold, jobs = clear_hold(session, hold_id, actor.label, choice)
        except ControlError as exc:
            raise click.ClickException(exc.message) from None
        audit(session, actor, "hold.clear", f"hold:{hold_id}", reason=reason or None,
              detail={"held_jobs": choice})  # fmt: skip
        session.commit()
        done = "cancelled" if cancel else "released"
        click.echo(f"hold #{hold.id} cleared; {len(jobs)} held jobs {done}")
