"""`flask users …`: who leads which team, and where staff notices reach people."""

import click
from flask.cli import with_appcontext

from app.accounts import service
from app.extensions import db


@click.group("users")
def users():
    """Staff accounts: team leads and e-mail addresses."""


def _user(username: str):
    user = service.find_by_username(username)
    if user is None:
        raise click.ClickException(f"no user '{username}'")
    return user


@users.command("lead")
@click.argument("username")
@click.argument("role")
@click.option("--off", is_flag=True, help="No longer the team's lead.")
@with_appcontext
def lead_command(username: str, role: str, off: bool):
    """Make USERNAME the lead of the ROLE team: told when its work breaches an SLA target."""
    try:
        service.set_team_lead(_user(username), role, not off)
    except service.AccountError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{username} {'no longer leads' if off else 'leads'} the {role} team.")


@users.command("email")
@click.argument("username")
@click.argument("address")
@with_appcontext
def email_command(username: str, address: str):
    """Set where USERNAME's notices go ("" for nowhere)."""
    try:
        service.set_email(_user(username), address)
    except service.AccountError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"notices for {username} go to {address or 'nowhere'}.")
