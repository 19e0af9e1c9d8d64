"""Claiming and firing due wake-ups. Any number of schedulers may run: a claim is taken with
SKIP LOCKED on PostgreSQL (one atomic UPDATE on SQLite), and the instance lock in runtime.wake
makes sure a timer fires once even if two schedulers ever reach the same instance."""

import logging
import os
import socket
import threading
from datetime import timedelta

from blinker import Namespace
from flask import current_app
from sqlalchemy import or_, select, update

from app.clock import now
from app.extensions import db
from app.workflow import runtime
from app.workflow.models import Wakeup

log = logging.getLogger(__name__)
signals = Namespace()
# Sent after a wake-up that fired timers has committed: sender=instance id, fired=count.
timers_fired = signals.signal("orderly.timers-fired")


def scheduler_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _due():
    moment = now()
    # Strictly before now, as the engine fires a timer only once its time has passed.
    return moment, (Wakeup.due_at < moment) & or_(Wakeup.claimed_until.is_(None), Wakeup.claimed_until < moment)


def claim_due(owner: str, limit: int = 100) -> list[int]:
    """Claim up to `limit` due wake-ups for this scheduler and commit the claim."""
    moment, due = _due()
    until = moment + timedelta(seconds=current_app.config["WAKEUP_CLAIM_SECONDS"])
    try:
        if db.session.get_bind().dialect.name == "postgresql":
            ids = list(db.session.scalars(
                select(Wakeup.instance_id).where(due).order_by(Wakeup.due_at).limit(limit)
                .with_for_update(skip_locked=True)
            ))
            if ids:
                db.session.execute(
                    update(Wakeup).where(Wakeup.instance_id.in_(ids))
                    .values(claimed_by=owner, claimed_until=until)
                    .execution_options(synchronize_session=False)
                )
        else:
            # One UPDATE takes SQLite's write lock, so two schedulers never claim the same row.
            chosen = select(Wakeup.instance_id).where(due).order_by(Wakeup.due_at).limit(limit).scalar_subquery()
            db.session.execute(
                update(Wakeup).where(Wakeup.instance_id.in_(chosen))
                .values(claimed_by=owner, claimed_until=until)
                .execution_options(synchronize_session=False)
            )
            ids = list(db.session.scalars(
                select(Wakeup.instance_id).where(Wakeup.claimed_by == owner, Wakeup.claimed_until == until)
            ))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return ids


def fire_due(owner: str | None = None, limit: int = 100) -> int:
    """Fire every wake-up that is due now, batch by batch; returns the number of timers fired.
    An instance whose wake-up fails is logged and left claimed until the claim expires."""
    owner = owner or scheduler_name()
    fired = 0
    while True:
        ids = claim_due(owner, limit)
        for instance_id in ids:
            try:
                count = runtime.wake(instance_id)
            except Exception:
                log.exception("waking instance %s failed", instance_id)
                continue
            if count:
                fired += count
                timers_fired.send(instance_id, fired=count)
        if len(ids) < limit:
            return fired
