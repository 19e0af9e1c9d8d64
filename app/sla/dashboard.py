"""What the manager's dashboard reads: the work whose SLA is breached or at risk (from open escalations and
from the open tasks' own due times), acknowledging it, and the workload per team and per person.

One row of the dashboard is one piece of work (a task of an instance, or a promise without a task): its
open task if there is one, the escalations raised on it that nobody has acknowledged yet, and the last one
that was acknowledged. The lists are a few bounded queries; counting is done by the database."""

import contextlib
import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, exists, func, or_, select

from app.accounts.models import User, UserRole
from app.accounts.roles import LANE_ROLES
from app.clock import now
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.orders.models import Order
from app.sla import escalations
from app.sla.models import LEVELS, Escalation
from app.workflow.inbox import OPEN, OPEN_STATES
from app.workflow.models import HumanTask

BREACH_LEVELS = ("breached", "breached_long")
RANK = {level: rank for rank, level in enumerate(LEVELS)}  # at_risk < breached < breached_long
LIST_LIMIT = 200  # rows read per list; the inbox's "Everyone" queue filtered by due state has them all


# --- the rows --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What a business key names: an order, or an exception case on an order."""

    kind: str  # order, exception, other
    number: str
    order_number: str = ""


@dataclass
class Item:
    """One piece of work on the dashboard."""

    work: tuple  # (instance id, element id), or ("escalation", id) for an escalation without an instance
    business_key: str
    what: str
    task: HumanTask | None = None  # its task: the open one, or (for a row just acted on) the one acted on
    assignee: str | None = None  # the task's assignee's name, else who had it when the escalation was raised
    open: list[Escalation] = field(default_factory=list)  # not acknowledged yet, highest level first
    acknowledged: Escalation | None = None  # the last one acknowledged
    acknowledged_name: str = ""
    subject: Subject | None = None
    at: datetime = field(default_factory=now)

    @property
    def open_task(self) -> HumanTask | None:
        return self.task if self.task is not None and self.task.state in OPEN_STATES else None

    @property
    def escalation(self) -> Escalation | None:
        """What the Acknowledge button acknowledges (with the lower levels raised before it)."""
        return self.open[0] if self.open else None

    @property
    def role(self) -> str:
        if self.task is not None:
            return self.task.role or ""
        latest = self.escalation or self.acknowledged
        return latest.role if latest else ""

    @property
    def due_at(self) -> datetime | None:
        """The open task's due time (a manager may have extended it since), else the escalation's."""
        if self.open_task is not None:
            return self.open_task.due_at
        latest = self.escalation or self.acknowledged
        return latest.due_at if latest else None

    @property
    def level(self) -> str:
        """The highest of the open escalations' levels and what the open task's due times say now."""
        levels = [e.level for e in self.open]
        task = self.open_task
        if task is not None and task.due_at is not None and task.due_at <= self.at:
            levels.append("breached")
        elif task is not None and task.at_risk_at is not None and task.at_risk_at <= self.at:
            levels.append("at_risk")
        if not levels and self.acknowledged is not None:
            levels.append(self.acknowledged.level)
        return max(levels, key=RANK.__getitem__) if levels else "at_risk"

    @property
    def breached(self) -> bool:
        return self.level in BREACH_LEVELS

    @property
    def dom_id(self) -> str:
        if self.task is not None:
            return f"work-task-{self.task.id}"
        latest = self.escalation or self.acknowledged
        return f"work-escalation-{latest.id}" if latest else "work"

    def signature(self) -> tuple:
        """What the row shows that can change, for telling whether a list changed."""
        task = self.open_task
        return (self.dom_id, self.level, tuple(e.id for e in self.open),
                self.acknowledged.id if self.acknowledged else None, task.assignee_id if task else None,
                self.due_at.isoformat() if self.due_at else None)


def _work_of_escalation(escalation: Escalation) -> tuple:
    if escalation.instance_id is None:
        return ("escalation", escalation.id)
    return (escalation.instance_id, escalation.element_id)


def _work_of_task(task: HumanTask) -> tuple:
    return (task.instance_id, task.element_id)


def _assemble(open_rows, task_rows, acknowledged_rows, at: datetime) -> list[Item]:
    """Group escalations (each with its open task, if any), open tasks and acknowledged escalations into
    one item per piece of work, in the order the work first appears."""
    items: dict[tuple, Item] = {}

    def item_for(work: tuple, business_key: str, what: str) -> Item:
        if work not in items:
            items[work] = Item(work=work, business_key=business_key, what=what, at=at)
        return items[work]

    for escalation, task, name in open_rows:
        item = item_for(_work_of_escalation(escalation), escalation.business_key, escalation.what)
        item.open.append(escalation)
        if task is not None and item.task is None:
            item.task, item.assignee = task, name
        elif item.task is None and item.assignee is None:
            item.assignee = escalation.assignee or None
    for task, name in task_rows:
        item = item_for(_work_of_task(task), task.business_key, task.title)
        if item.task is None:
            item.task, item.assignee = task, name
    for escalation, name in acknowledged_rows:  # oldest first: the last one acknowledged stays
        item = items.get(_work_of_escalation(escalation))
        if item is not None:
            item.acknowledged, item.acknowledged_name = escalation, name or escalation.acknowledged_by
    for item in items.values():
        item.open.sort(key=lambda e: (RANK.get(e.level, 0), e.raised_at, e.id), reverse=True)
    _attach_subjects(list(items.values()))
    return list(items.values())


def _attach_subjects(items: list[Item]) -> None:
    """Which order or exception each item is about, in two queries for all of them."""
    keys = {item.business_key for item in items}
    if not keys:
        return
    cases = dict(db.session.execute(
        select(ExceptionCase.number, Order.number).join(Order, Order.id == ExceptionCase.order_id)
        .where(ExceptionCase.number.in_(keys))).all())
    orders = set(db.session.scalars(select(Order.number).where(Order.number.in_(keys - set(cases)))))
    for item in items:
        key = item.business_key
        if key in cases:
            item.subject = Subject("exception", key, cases[key])
        elif key in orders:
            item.subject = Subject("order", key, key)
        else:
            item.subject = Subject("other", key)


# --- the queries -------------------------------------------------------------------------------------------


def _with_open_task(statement):
    """Each escalation with the open task of its work and that task's assignee's name (or None)."""
    return (statement.select_from(Escalation)
            .outerjoin(HumanTask, and_(HumanTask.instance_id == Escalation.instance_id,
                                       HumanTask.element_id == Escalation.element_id, OPEN))
            .outerjoin(User, User.id == HumanTask.assignee_id))


def open_escalations(limit: int = LIST_LIMIT) -> list[tuple[Escalation, HumanTask | None, str | None]]:
    """Escalations nobody has acknowledged, newest first, each with its task if that is still open."""
    return list(db.session.execute(_with_open_task(
        select(Escalation, HumanTask, User.name).where(Escalation.acknowledged_at.is_(None)))
        .order_by(Escalation.raised_at.desc(), Escalation.id.desc()).limit(limit)).all())


def _overdue(at: datetime):
    return HumanTask.due_at <= at


def _at_risk(at: datetime):
    """Past its at-risk time and not yet due, as app.workflow.inbox.due_state says."""
    return and_(or_(HumanTask.due_at.is_(None), HumanTask.due_at > at), HumanTask.at_risk_at <= at)


def tasks_needing_attention(at: datetime | None = None, limit: int = LIST_LIMIT) -> list[tuple[HumanTask, str | None]]:
    """Open tasks overdue or at risk now, the longest overdue first, with their assignee's name."""
    at = at or now()
    return list(db.session.execute(
        select(HumanTask, User.name).outerjoin(User, User.id == HumanTask.assignee_id)
        .where(OPEN, or_(_overdue(at), _at_risk(at)))
        .order_by(HumanTask.due_at.asc().nulls_last(), HumanTask.id).limit(limit)).all())


def _acknowledged_of(instance_ids: set[int]) -> list[tuple[Escalation, str | None]]:
    if not instance_ids:
        return []
    return list(db.session.execute(
        select(Escalation, User.name).outerjoin(User, User.username == Escalation.acknowledged_by)
        .where(Escalation.instance_id.in_(instance_ids), Escalation.acknowledged_at.is_not(None))
        .order_by(Escalation.acknowledged_at, Escalation.id)).all())


@dataclass
class Watch:
    """The two lists of the dashboard. `truncated`: a list reached its limit, more exist."""

    breaches: list[Item]
    at_risk: list[Item]
    truncated: bool
    at: datetime

    def shows(self, item: Item) -> bool:
        """Whether the lists hold this item as it reads now."""
        return item.signature() in {shown.signature() for shown in self.breaches + self.at_risk}

    @property
    def signature(self) -> str:
        """Changes whenever a row would read differently (other than its countdown)."""
        rows = repr([[item.signature() for item in self.breaches], [item.signature() for item in self.at_risk]])
        return hashlib.sha256(rows.encode()).hexdigest()[:16]


def _urgency(item: Item) -> tuple:
    """Unacknowledged escalations first, newest first; then the rest, soonest due (longest overdue) first."""
    if item.escalation is not None:
        return (0, -item.escalation.raised_at.timestamp(), 0.0)
    return (1, 0.0, item.due_at.timestamp() if item.due_at else float("inf"))


def watch(limit: int = LIST_LIMIT) -> Watch:
    """The breaches and the work at risk, now."""
    at = now()
    open_rows = open_escalations(limit)
    task_rows = tasks_needing_attention(at, limit)
    instance_ids = {task.instance_id for task, _ in task_rows}
    items = _assemble(open_rows, task_rows, _acknowledged_of(instance_ids), at)
    items.sort(key=_urgency)
    return Watch(breaches=[i for i in items if i.breached], at_risk=[i for i in items if not i.breached],
                 truncated=len(open_rows) >= limit or len(task_rows) >= limit, at=at)


def _item_of_work(instance_id: int | None, element_id: str, fallback: Escalation | None = None,
                  task: HumanTask | None = None) -> Item:
    """Everything about one piece of work, for its row after an action on it."""
    at = now()
    if instance_id is None:
        open_rows = [(fallback, None, None)] if fallback.acknowledged_at is None else []
        acknowledged = [] if open_rows else [(fallback, _name_of(fallback.acknowledged_by))]
        task_rows = []
    else:
        open_rows = list(db.session.execute(_with_open_task(
            select(Escalation, HumanTask, User.name).where(
                Escalation.instance_id == instance_id, Escalation.element_id == element_id,
                Escalation.acknowledged_at.is_(None)))).all())
        task_rows = list(db.session.execute(
            select(HumanTask, User.name).outerjoin(User, User.id == HumanTask.assignee_id)
            .where(OPEN, HumanTask.instance_id == instance_id, HumanTask.element_id == element_id)).all())
        acknowledged = [(e, n) for e, n in _acknowledged_of({instance_id}) if e.element_id == element_id]
    if task is not None and not task_rows and task.state not in OPEN_STATES:
        task_rows = [(task, _name_of_id(task.assignee_id))]
    items = _assemble(open_rows, task_rows, acknowledged, at)
    if items:
        return items[0]
    # Nothing open any more: the work as the escalation acted on last left it.
    item = Item(work=(instance_id, element_id), business_key=fallback.business_key, what=fallback.what,
                assignee=fallback.assignee or None, at=at)
    if acknowledged:
        escalation, name = acknowledged[-1]
        item.acknowledged, item.acknowledged_name = escalation, name or escalation.acknowledged_by
    _attach_subjects([item])
    return item


def item_for_escalation(escalation_id: int) -> Item | None:
    escalation = db.session.get(Escalation, escalation_id)
    if escalation is None:
        return None
    return _item_of_work(escalation.instance_id, escalation.element_id, fallback=escalation)


def item_for_task(task_id: int) -> Item | None:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        return None
    return _item_of_work(task.instance_id, task.element_id, task=task)


def _name_of(username: str) -> str:
    return db.session.scalar(select(User.name).where(User.username == username)) or username


def _name_of_id(user_id: int | None) -> str | None:
    return db.session.scalar(select(User.name).where(User.id == user_id)) if user_id is not None else None


# --- acknowledging -------------------------------------------------------------------------------------------


def acknowledge(escalation_id: int, by: str) -> Escalation:
    """Acknowledge an escalation and the lower levels of the same work raised before it (the at-risk warning
    of a breach): one row, one decision. EscalationError if it is unknown or already acknowledged."""
    # Two managers at once: on PostgreSQL the second waits here and then finds it acknowledged.
    db.session.get(Escalation, escalation_id, with_for_update=True, populate_existing=True)
    escalation = escalations.acknowledge(escalation_id, by)
    if escalation.instance_id is not None:
        earlier = db.session.scalars(select(Escalation).where(
            Escalation.instance_id == escalation.instance_id, Escalation.element_id == escalation.element_id,
            Escalation.acknowledged_at.is_(None), Escalation.raised_at <= escalation.raised_at))
        for other in list(earlier):
            if RANK.get(other.level, 0) < RANK.get(escalation.level, 0):
                # Someone may have acknowledged that lower level just now: it is done either way.
                with contextlib.suppress(escalations.EscalationError):
                    escalations.acknowledge(other.id, by)
    return escalation


# --- workload ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamLoad:
    role: str
    open: int  # every open task of the team's lane, claimed or not
    claimed: int
    overdue: int
    at_risk: int


@dataclass(frozen=True)
class PersonLoad:
    user_id: int
    name: str
    username: str
    active: bool
    teams: tuple[str, ...]
    assigned: int
    overdue: int
    at_risk: int


def _count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def team_workload(at: datetime | None = None) -> list[TeamLoad]:
    """Every lane's open, claimed, overdue and at-risk task counts (lanes without work too), in lane order."""
    at = at or now()
    rows = db.session.execute(
        select(HumanTask.role, func.count(), _count_if(HumanTask.state == "claimed"), _count_if(_overdue(at)),
               _count_if(_at_risk(at)))
        .where(OPEN).group_by(HumanTask.role)).all()
    found = {role or "": TeamLoad(role or "", *map(int, counts)) for role, *counts in rows}
    ordered = [found.pop(role, TeamLoad(role, 0, 0, 0, 0)) for role in LANE_ROLES]
    return ordered + sorted(found.values(), key=lambda load: load.role)


def person_workload(at: datetime | None = None) -> list[PersonLoad]:
    """Everyone who works a lane, and anyone else holding open tasks: how many they hold, how many of those
    are overdue and at risk. The most overdue first, then the busiest."""
    at = at or now()
    works_a_lane = exists().where(UserRole.user_id == User.id, UserRole.role.in_(LANE_ROLES))
    assigned, overdue, at_risk = func.count(HumanTask.id), _count_if(_overdue(at)), _count_if(_at_risk(at))
    rows = db.session.execute(
        select(User.id, User.name, User.username, User.active, assigned, overdue, at_risk)
        .outerjoin(HumanTask, and_(HumanTask.assignee_id == User.id, OPEN))
        .where(or_(and_(User.active.is_(True), works_a_lane), HumanTask.id.is_not(None)))
        .group_by(User.id, User.name, User.username, User.active)
        .order_by(overdue.desc(), assigned.desc(), User.name, User.id)).all()
    teams: dict[int, list[str]] = {}
    if rows:
        for user_id, role in db.session.execute(select(UserRole.user_id, UserRole.role).where(
                UserRole.user_id.in_([row[0] for row in rows]), UserRole.role.in_(LANE_ROLES))):
            teams.setdefault(user_id, []).append(role)
    return [PersonLoad(user_id, name, username, active, tuple(sorted(teams.get(user_id, []))), int(count),
                       int(late), int(risky))
            for user_id, name, username, active, count, late, risky in rows]
