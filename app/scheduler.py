"""APScheduler: fires due timers (and starts queued processes) about twice a second, deletes expired
Idempotency-Key records every hour and, when MAIL_SERVER is set, sends the outbox's due messages every
MAIL_SEND_INTERVAL seconds. Runs inside the web process in the embedded default, or on
its own as `flask scheduler` (any number of them) beside stateless web nodes."""

import contextlib
import logging
from datetime import datetime

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.api import idempotency
from app.extensions import db
from app.notifications import sender
from app.workflow import timers

log = logging.getLogger(__name__)


def _tick(app: Flask) -> None:
    with app.app_context():
        timers.fire_due()


def _purge_idempotency_keys(app: Flask) -> None:
    with app.app_context():
        try:
            purged = idempotency.purge_expired()
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        if purged:
            log.info("deleted %s expired Idempotency-Key records", purged)


def _send_outbox(app: Flask) -> None:
    with app.app_context():
        sender.send_due()


def _add_job(scheduler, app: Flask) -> None:
    scheduler.add_job(
        _tick, "interval", args=[app], id="fire-due-timers",
        seconds=app.config["SCHEDULER_INTERVAL_SECONDS"],
        next_run_time=datetime.now(),  # first run at once: catch up on what fell due while down
        max_instances=1, coalesce=True, misfire_grace_time=None,
    )
    scheduler.add_job(
        _purge_idempotency_keys, "interval", args=[app], id="purge-idempotency-keys", hours=1,
        next_run_time=datetime.now(), max_instances=1, coalesce=True, misfire_grace_time=None,
    )
    if app.config["MAIL_SERVER"]:  # without a server messages stay queued, shown on the outbox page
        scheduler.add_job(
            _send_outbox, "interval", args=[app], id="send-outbox",
            seconds=app.config["MAIL_SEND_INTERVAL"], next_run_time=datetime.now(),
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )


def start_background(app: Flask) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(daemon=True)
    _add_job(scheduler, app)
    scheduler.start()
    app.extensions["orderly.scheduler"] = scheduler
    return scheduler


@click.command("scheduler")
@click.option("--drain", is_flag=True, help="Fire everything due now, then exit.")
@with_appcontext
def scheduler_command(drain: bool):
    """Run the timer scheduler in this process."""
    app = current_app._get_current_object()
    if drain:
        click.echo(f"fired {timers.fire_due()} timers")
        return
    scheduler = BlockingScheduler()
    _add_job(scheduler, app)
    click.echo("scheduler running; Ctrl+C stops it")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
