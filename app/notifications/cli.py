"""`flask outbox`: send what is due now (for cron) and record bounces."""

from pathlib import Path

import click
from flask.cli import with_appcontext

from app.extensions import db
from app.notifications import bounces, sender


@click.group("outbox")
def outbox():
    """Customer messages: send them, record bounces."""


@outbox.command("send")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000),
              help="Send at most this many messages.")
@with_appcontext
def send_command(limit: int):
    """Send the messages that are due now through MAIL_SERVER."""
    if not sender.configured():
        raise click.ClickException("MAIL_SERVER is not set: nothing is sent and messages stay queued "
                                   "(the outbox page shows them).")
    click.echo(str(sender.send_due(limit)))


@outbox.command("bounce")
@click.argument("message_id")
@click.argument("reason")
@with_appcontext
def bounce_command(message_id: str, reason: str):
    """Record that a message bounced. MESSAGE_ID is its Message-ID header (or its number on the outbox page)."""
    if not reason.strip():
        raise click.BadParameter("say why it bounced", param_hint="REASON")
    message = bounces.find(message_id)
    if message is None:
        raise click.ClickException(f"no outbox message has the Message-ID {message_id}")
    if bounces.record_bounce(message, reason):
        db.session.commit()
        click.echo(f"message {message.id} to {message.to_address or '-'} bounced: {message.bounce_reason}")
    else:
        click.echo(f"message {message.id} had already bounced: {message.bounce_reason}")


@outbox.command("bounces")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def bounces_command(files: tuple[Path, ...]):
    """Record the bounces that delivery status notifications (RFC 3464, one message per FILE) report.
    Exits 1 when a file cannot be read or names no message of this outbox."""
    problems = 0
    for path in files:
        try:
            report, message, recorded = bounces.record_report(path.read_bytes())
        except (OSError, bounces.NotAReport) as error:
            click.echo(f"{path}: {error}", err=True)
            problems += 1
            continue
        if message is None:
            click.echo(f"{path}: no outbox message has the Message-ID {report.message_id}", err=True)
            problems += 1
        elif not report.failed:
            click.echo(f"{path}: message {message.id} was {report.action or 'reported'}, not refused; nothing recorded")
        elif recorded:
            click.echo(f"{path}: message {message.id} bounced: {report.reason}")
        else:
            click.echo(f"{path}: message {message.id} had already bounced")
    db.session.commit()
    if problems:
        click.get_current_context().exit(1)
