"""Escalations: a target at risk or missed, recorded once per task and level, with whose work it is,
until a manager acknowledges it. A breach also raises the task's priority (1 is the most urgent), and
the people the level reaches are told through the outbox."""

from flask import current_app
from sqlalchemy import select, update

from app.accounts.models import User
from app.clock import now
from app.extensions import db
from app.notifications.staff import notify_escalation
from app.sla.models import LEVELS, Escalation
from app.workflow.models import HumanTask, ProcessInstance

PRIORITY_AT = {"at_risk": 2, "breached": 1, "breached_long": 1}


class EscalationError(ValueError):
    pass


def raise_escalation(business_key: str, element_id: str, level: str, *, order_number: str = "") -> Escalation:
    """Record that the open task `element_id` of this business key reached `level`. The same task
    at the same level twice is one escalation (a timer that fires again after a retry)."""
    if level not in LEVELS:
        raise EscalationError(f"unknown escalation level '{level}' (one of {', '.join(LEVELS)})")
    task = db.session.scalar(
        select(HumanTask).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(ProcessInstance.business_key == business_key, HumanTask.element_id == element_id,
               HumanTask.state.in_(("open", "claimed"))).order_by(HumanTask.id.desc()))
    # One escalation per visit to the task and level: a timer that fires again after a retry finds it;
    # the next visit (the review comes round again) is new work with its own escalations.
    same = [Escalation.business_key == business_key, Escalation.element_id == element_id, Escalation.level == level]
    if task is not None:
        same += [Escalation.instance_id == task.instance_id, Escalation.raised_at >= task.created_at]
    else:
        same.append(Escalation.acknowledged_at.is_(None))
    existing = db.session.scalar(select(Escalation).where(*same).order_by(Escalation.id.desc()))
    if existing is not None:
        return existing
    escalation = Escalation(
        level=level, business_key=business_key, order_number=order_number or business_key, element_id=element_id,
        instance_id=task.instance_id if task else None, what=task.title if task else element_id,
        role=task.role or "" if task else "", assignee=_username(task.assignee_id) if task else "",
        due_at=task.due_at if task else None, raised_at=now())
    db.session.add(escalation)
    if task is not None:
        task.priority = min(task.priority, PRIORITY_AT[level])
    db.session.flush()
    base = current_app.config["PUBLIC_URL"]
    notify_escalation(escalation, f"{base}/tasks/{task.id}" if task else f"{base}/orders/{escalation.order_number}")
    return escalation


def acknowledge(escalation_id: int, by: str) -> Escalation:
    """Acknowledge once: the write only takes a row nobody acknowledged yet, so of two managers at
    the same moment one wins and the other is told who did it (on SQLite and PostgreSQL alike)."""
    taken = db.session.execute(
        update(Escalation).where(Escalation.id == escalation_id, Escalation.acknowledged_at.is_(None))
        .values(acknowledged_by=by, acknowledged_at=now()).execution_options(synchronize_session=False))
    escalation = db.session.get(Escalation, escalation_id, populate_existing=True)
    if escalation is None:
        raise EscalationError(f"no escalation {escalation_id}")
    if taken.rowcount == 0:
        raise EscalationError(f"already acknowledged by {escalation.acknowledged_by}")
    return escalation


def open_escalations() -> list[Escalation]:
    return list(db.session.scalars(select(Escalation).where(Escalation.acknowledged_at.is_(None))
                                   .order_by(Escalation.raised_at.desc())))


def _username(user_id: int | None) -> str:
    if user_id is None:
        return ""
    user = db.session.get(User, user_id)
    return user.username if user else ""
