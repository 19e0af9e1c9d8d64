"""`flask api-clients …`: create an API client (its token is printed once), revoke one, list them, and
drop expired Idempotency-Key records."""

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.api import auth, idempotency, scopes
from app.api.models import EVERY_SCOPE, ApiClient
from app.extensions import db
from app.orders.models import CHANNELS


@click.group("api-clients")
def api_clients():
    """Partner systems that call the API with a bearer token."""


@api_clients.command("create")
@click.argument("name")
@click.option("--channel", type=click.Choice(CHANNELS), default="web", show_default=True,
              help="The order channel the client speaks for; its orders are recorded with it.")
@click.option("--scopes", "scope_text", default=EVERY_SCOPE, show_default=True,
              help=f"What the client may do, space-separated: {', '.join(scopes.SCOPES)}.")
@with_appcontext
def create_command(name: str, channel: str, scope_text: str):
    """Create a client and print its token. The token is shown only now; store it safely."""
    try:
        client, token = auth.create_client(name, channel, scope_text, created_by="cli")
    except auth.ClientError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"API client '{client.name}' created for channel {client.channel} with scopes {client.scopes}.")
    click.echo("Its token (shown once, only its hash is kept):")
    click.echo(token)


@api_clients.command("revoke")
@click.argument("name")
@click.option("--by", default="cli", show_default=True, help="Who revokes it, for the record.")
@with_appcontext
def revoke_command(name: str, by: str):
    """Revoke a client: its token stops working at once."""
    try:
        client = auth.revoke_client(name, by)
    except auth.ClientError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"API client '{client.name}' revoked.")


@api_clients.command("list")
@with_appcontext
def list_command():
    """Every client with its channel, state, last use and scopes."""
    for client in db.session.scalars(select(ApiClient).order_by(ApiClient.name)):
        used = f"{client.last_used_at:%Y-%m-%d %H:%M}" if client.last_used_at else "never used"
        state = "active" if client.active else "revoked"
        if client.revoked_at is not None:  # clients revoked before this was recorded have neither
            state += f" {client.revoked_at:%Y-%m-%d %H:%M} by {client.revoked_by}"
        click.echo(f"{client.name:<30} {client.channel:<10} {used:<16} {client.scopes}  [{state}]")


@api_clients.command("purge-keys")
@with_appcontext
def purge_keys_command():
    """Delete expired Idempotency-Key records (older than API_IDEMPOTENCY_HOURS)."""
    count = idempotency.purge_expired()
    db.session.commit()
    click.echo(f"{count} expired Idempotency-Key record(s) deleted.")
