"""Flask commands that are not part of a feature package."""

import click
from flask import Flask
from flask.cli import with_appcontext

from app.accounts.cli import users
from app.notifications.cli import outbox
from app.scheduler import scheduler_command


@click.command("demo")
@with_appcontext
def demo_command():
    """Load the demo data once (users for every role, orders at several stages)."""
    from app.demo import load

    click.echo(load())


def register_commands(app: Flask) -> None:
    app.cli.add_command(scheduler_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(users)
    app.cli.add_command(outbox)
