"""`flask api-clients …`: create an API client (its token is printed once), revoke one, list them."""

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.api import auth
from app.api.models import ApiClient
from app.extensions import db
from app.orders.models import CHANNELS


@click.group("api-clients")
def api_clients():
    """Partner systems that call the API with a bearer token."""


@api_clients.command("create")
@click.argument("name")
@click.option("--channel", type=click.Choice(CHANNELS), default="web", show_default=True,
              help="The order channel the client speaks for; its orders are recorded with it.")
@with_appcontext
def create_command(name: str, channel: str):
    """Create a client and print its token. The token is shown only now; store it safely."""
    try:
        client, token = auth.create_client(name, channel)
    except auth.ClientError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"API client '{client.name}' created for channel {client.channel}.")
    click.echo("Its token (shown once, only its hash is kept):")
    click.echo(token)


@api_clients.command("revoke")
@click.argument("name")
@with_appcontext
def revoke_command(name: str):
    """Revoke a client: its token stops working at once."""
    try:
        client = auth.revoke_client(name)
    except auth.ClientError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"API client '{client.name}' revoked.")


@api_clients.command("list")
@with_appcontext
def list_command():
    """Every client with its channel, state and last use."""
    for client in db.session.scalars(select(ApiClient).order_by(ApiClient.name)):
        used = f"{client.last_used_at:%Y-%m-%d %H:%M}" if client.last_used_at else "never used"
        state = "active" if client.active else "revoked"
        click.echo(f"{client.name:<30} {client.channel:<10} {state:<8} {used}")
