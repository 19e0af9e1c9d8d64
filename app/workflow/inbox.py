"""The staff inbox over the `human_task` projection: the queues (mine, team, all) with their filters,
counts and pages, and the row-level actions on a task (claim, release, reassign).

The engine decides which tasks exist and when they end (app.workflow.projection); these functions
only move a task between people. Each action checks the rules, changes one row with a conditional
UPDATE (so two people acting at once cannot both win), appends an `instance_event` and flushes;
the caller commits once.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select, update

from app.accounts.models import User, UserRole
from app.accounts.roles import ADMIN, LANE_ROLES, MANAGER
from app.clock import now
from app.extensions import db
from app.workflow.errors import Conflict, Forbidden, NotFound
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance

PAGE_SIZE = 50
QUEUES = ("mine", "team", "all")
DUE_STATES = ("overdue", "at_risk", "on_time", "no_deadline")
OPEN_STATES = ("open", "claimed")
OVERSEERS = (MANAGER, ADMIN)
SEARCH_MAX = 80  # a business key is at most 80 characters

# Said with literal values, the same as the partial indexes' predicate (models.OPEN_TASK): a bound
# parameter would hide from the planner that the query only wants rows those indexes hold.
OPEN: ColumnElement[bool] = HumanTask.state.in_([literal_column("'open'"), literal_column("'claimed'")])


# --- who may do what ----------------------------------------------------------------------------------


def may_use(user) -> bool:
    """The inbox is for people who work tasks in lanes, and for admins."""
    return user.has_role(*LANE_ROLES, ADMIN)


def is_member(user, role: str | None) -> bool:
    """May work the tasks of this role's lane (admins may work every lane, as the runtime allows)."""
    return role is not None and (role in user.roles or ADMIN in user.roles)


def oversees(user) -> bool:
    return user.has_role(*OVERSEERS)


def may_view(user, task: HumanTask) -> bool:
    return is_member(user, task.role) or oversees(user) or task.assignee_id == user.id


def may_work(user, task: HumanTask) -> bool:
    """May fill in and submit the task's form now (what runtime.complete_task will allow)."""
    return (task.state in OPEN_STATES and is_member(user, task.role)
            and task.assignee_id in (None, user.id))


def require_work(user, task: HumanTask) -> None:
    """Forbidden, saying why, unless the user may do this open task."""
    if not is_member(user, task.role):
        raise Forbidden(f"'{task.title}' belongs to the {task.role} team")
    if task.assignee_id not in (None, user.id):
        raise Forbidden(f"'{task.title}' is claimed by someone else")


def may_claim(user, task: HumanTask) -> bool:
    return task.state == "open" and task.assignee_id is None and is_member(user, task.role)


def may_release(user, task: HumanTask) -> bool:
    return task.state == "claimed" and (task.assignee_id == user.id or oversees(user))


def team_roles(user) -> list[str]:
    return sorted(set(user.roles) & set(LANE_ROLES))


def queues_for(user) -> list[str]:
    """The queues this user may open, in tab order."""
    if not may_use(user):
        return []
    queues = ["mine"]
    if team_roles(user):
        queues.append("team")
    if oversees(user):
        queues.append("all")
    return queues


# --- due state ----------------------------------------------------------------------------------------


def due_state(task: HumanTask, at: datetime | None = None) -> str:
    """overdue (past its due time), at_risk (past its at-risk time, not yet due), on_time, no_deadline."""
    at = at or now()
    if task.due_at is not None and task.due_at <= at:
        return "overdue"
    if task.at_risk_at is not None and task.at_risk_at <= at:
        return "at_risk"
    return "on_time" if task.due_at is not None else "no_deadline"


def _due_condition(state: str, at: datetime) -> ColumnElement[bool]:
    due, risk = HumanTask.due_at, HumanTask.at_risk_at
    not_due = or_(due.is_(None), due > at)
    not_at_risk = or_(risk.is_(None), risk > at)
    return {
        "overdue": due <= at,
        "at_risk": and_(not_due, risk <= at),
        "on_time": and_(due > at, not_at_risk),
        "no_deadline": and_(due.is_(None), not_at_risk),
    }[state]


# --- queues -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    task_type: str = ""  # an element id
    search: str = ""  # part of a business key (an order number)
    due: str = ""  # one of DUE_STATES

    @classmethod
    def parse(cls, task_type: str | None, search: str | None, due: str | None) -> "Filters":
        """Filters from untrusted input: trimmed and bounded; an unknown due state filters nothing."""
        return cls(
            task_type=(task_type or "").strip()[:120],
            search=(search or "").strip()[:SEARCH_MAX],
            due=due if due in DUE_STATES else "",
        )

    @property
    def active(self) -> bool:
        return bool(self.task_type or self.search or self.due)


@dataclass
class Row:
    task: HumanTask
    assignee: str | None  # the assignee's display name
    due_state: str


@dataclass
class Page:
    rows: list[Row]
    total: int
    number: int
    size: int = PAGE_SIZE
    pages: int = field(init=False)

    def __post_init__(self):
        self.pages = max(1, -(-self.total // self.size))


def _scope(user, queue: str) -> list[ColumnElement[bool]]:
    """The conditions of a queue; Forbidden if the user may not open it."""
    if queue not in QUEUES:
        raise NotFound(f"there is no '{queue}' queue")
    if queue not in queues_for(user):
        raise Forbidden(f"the '{queue}' queue is not yours to open")
    if queue == "mine":
        return [OPEN, HumanTask.assignee_id == user.id]
    if queue == "team":
        roles = team_roles(user)
        # One role is an equality, so the planner reads ix_human_task_queue in the queue's order.
        return [OPEN, HumanTask.role == roles[0] if len(roles) == 1 else HumanTask.role.in_(roles)]
    return [OPEN]


def _filtered(conditions: list, filters: Filters, at: datetime) -> list:
    conditions = list(conditions)
    if filters.task_type:
        conditions.append(HumanTask.element_id == filters.task_type)
    if filters.search:
        conditions.append(HumanTask.business_key.icontains(filters.search, autoescape=True))
    if filters.due:
        conditions.append(_due_condition(filters.due, at))
    return conditions


QUEUE_ORDER = (HumanTask.due_at.asc().nulls_last(), HumanTask.created_at, HumanTask.id)


def _count(conditions: list) -> int:
    return db.session.scalar(select(func.count()).select_from(HumanTask).where(*conditions))


def page_query(conditions: list, offset: int) -> Select:
    """One page of rows with the assignee's name. The page's ids come first, from the queue's index
    alone (a filter's columns are in it); only those rows are then read from the table."""
    ids = (select(HumanTask.id).where(*conditions).order_by(*QUEUE_ORDER)
           .limit(PAGE_SIZE).offset(offset).subquery())
    return (select(HumanTask, User.name)
            .join(ids, ids.c.id == HumanTask.id)
            .outerjoin(User, User.id == HumanTask.assignee_id)
            .order_by(*QUEUE_ORDER))


def _page_rows(conditions: list, offset: int) -> list:
    return db.session.execute(page_query(conditions, offset)).all()


def list_tasks(user, queue: str, filters: Filters = Filters(), page: int = 1, *, total: int | None = None) -> Page:
    """One page of a queue, soonest due first, tasks without a deadline last, then oldest first.
    A page past the end gives the last page. `total` spares the count when the caller knows it."""
    at = now()
    conditions = _filtered(_scope(user, queue), filters, at)
    rows = None
    if total is None and page <= 1:
        # The first page before the count: a first page that is not full is the whole queue, so a
        # search that finds a few tasks reads the queue once, not twice.
        rows = _page_rows(conditions, 0)
        if len(rows) < PAGE_SIZE:
            total = len(rows)
    result = Page(rows=[], total=_count(conditions) if total is None else total, number=1)
    result.number = min(max(page, 1), result.pages)
    if rows is None:
        rows = _page_rows(conditions, (result.number - 1) * PAGE_SIZE)
    result.rows = [Row(task, name, due_state(task, at)) for task, name in rows]
    return result


def counts(user) -> dict[str, int]:
    """How many open tasks each of the user's queues holds, unfiltered."""
    return {queue: _count(_scope(user, queue)) for queue in queues_for(user)}


def task_types(user, queue: str) -> list[tuple[str, str]]:
    """(element id, title) of the kinds of task in a queue, by title, for the filter."""
    found = db.session.execute(
        select(HumanTask.element_id, func.min(HumanTask.title))
        .where(*_scope(user, queue))
        .group_by(HumanTask.element_id)
    ).all()
    return sorted(((element_id, title) for element_id, title in found), key=lambda pair: (pair[1].lower(), pair[0]))


@dataclass
class Inbox:
    """What the inbox page shows: the queue open, every queue's count, the filter's options, a page."""

    queue: str
    counts: dict[str, int]
    filters: Filters
    types: list[tuple[str, str]]
    page: Page


def open_queue(user, queue: str | None, filters: Filters = Filters(), page: int = 1) -> Inbox:
    """A queue of the user's, by default their own tasks if they hold any, else their team's (or
    everyone's, for an admin). Forbidden for someone without an inbox or a queue not theirs."""
    available = queues_for(user)
    if not available:
        raise Forbidden("the inbox is for people who work tasks")
    numbers = counts(user)
    if queue is None:
        queue = "mine" if numbers["mine"] or len(available) == 1 else available[1]
    _scope(user, queue)  # NotFound or Forbidden before anything else is read
    listed = list_tasks(user, queue, filters, page, total=None if filters.active else numbers[queue])
    return Inbox(queue=queue, counts=numbers, filters=filters, types=task_types(user, queue), page=listed)


# --- one task -----------------------------------------------------------------------------------------


def get(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"there is no task {task_id}")
    return task


def task_for(user, task_id: int) -> HumanTask:
    """The task if the user may see it: NotFound, or Forbidden for another team's task."""
    task = get(task_id)
    if not may_view(user, task):
        raise Forbidden(f"'{task.title}' belongs to the {task.role} team")
    return task


@dataclass
class InstanceSummary:
    process_key: str
    status: str
    lock_version: int


def instance_summary(task: HumanTask) -> InstanceSummary:
    """What the task page shows of its instance, without loading the serialized workflow."""
    row = db.session.execute(
        select(ProcessInstance.process_key, ProcessInstance.status, ProcessInstance.lock_version)
        .where(ProcessInstance.id == task.instance_id)
    ).one()
    return InstanceSummary(*row)


def timeline(task: HumanTask, limit: int = 12) -> list[InstanceEvent]:
    """The instance's latest events, oldest first."""
    events = db.session.scalars(
        select(InstanceEvent)
        .where(InstanceEvent.instance_id == task.instance_id)
        .order_by(InstanceEvent.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(events))


def submitted_data(task: HumanTask) -> dict:
    """What was submitted when the task was completed (from the audit)."""
    event = db.session.scalar(
        select(InstanceEvent)
        .where(InstanceEvent.instance_id == task.instance_id, InstanceEvent.kind == "task_completed",
               InstanceEvent.spiff_task_id == task.spiff_task_id)
        .order_by(InstanceEvent.id.desc())
        .limit(1)
    )
    return dict((event.detail or {}).get("data") or {}) if event is not None else {}


def assignee_name(task: HumanTask) -> str | None:
    if task.assignee_id is None:
        return None
    return db.session.scalar(select(User.name).where(User.id == task.assignee_id))


def eligible_assignees(task: HumanTask) -> list[User]:
    """Active people holding the task's role, by name: whom a manager may give it to."""
    return list(db.session.scalars(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == task.role, User.active.is_(True))
        .order_by(User.name, User.id)
    ))


# --- actions ------------------------------------------------------------------------------------------


def not_open(task: HumanTask) -> Conflict:
    """The conflict of acting on a task that is no longer open (or no longer free)."""
    if task.state == "completed":
        return Conflict(f"'{task.title}' for {task.business_key} was already completed by {task.completed_by}")
    if task.state == "cancelled":
        return Conflict(f"'{task.title}' for {task.business_key} was withdrawn")
    return Conflict(f"'{task.title}' for {task.business_key} was claimed by someone else first")


def _move(task: HumanTask, *, state: str, assignee_id: int | None, was: int | None, states=("open",)) -> None:
    """Change the row only if nobody changed it since it was read: one conditional UPDATE."""
    seen = HumanTask.assignee_id.is_(None) if was is None else HumanTask.assignee_id == was
    result = db.session.execute(
        update(HumanTask)
        .where(HumanTask.id == task.id, HumanTask.state.in_(states), seen)
        .values(state=state, assignee_id=assignee_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.expire(task)
        raise not_open(task) if task.state not in OPEN_STATES else Conflict(
            f"'{task.title}' for {task.business_key} was changed by someone else; reload and try again")
    db.session.expire(task, ["state", "assignee_id"])


def _audit(task: HumanTask, kind: str, actor, detail: dict) -> None:
    db.session.add(InstanceEvent(
        instance_id=task.instance_id, kind=kind, element_id=task.element_id, spiff_task_id=task.spiff_task_id,
        actor=actor.username, detail={"task_id": task.id, "title": task.title, **detail}, at=now(),
    ))
    db.session.flush()


def claim(task_id: int, user) -> HumanTask:
    """Take an open, unassigned task of one's own team."""
    task = get(task_id)
    if not is_member(user, task.role):
        raise Forbidden(f"'{task.title}' belongs to the {task.role} team")
    if task.state != "open" or task.assignee_id is not None:
        raise not_open(task)
    _move(task, state="claimed", assignee_id=user.id, was=None)
    _audit(task, "task_claimed", user, {})
    return task


def release(task_id: int, user) -> HumanTask:
    """Give a claimed task back to its team: its assignee, or a manager."""
    task = get(task_id)
    if task.assignee_id != user.id and not oversees(user):
        raise Forbidden(f"'{task.title}' is not yours to release")
    if task.state != "claimed":
        raise not_open(task) if task.state not in OPEN_STATES else Conflict(
            f"'{task.title}' for {task.business_key} is not claimed by anyone")
    previous = task.assignee_id
    _move(task, state="open", assignee_id=None, was=previous, states=("claimed",))
    _audit(task, "task_released", user, {"from": _username(previous)})
    return task


def reassign(task_id: int, assignee_id: int, user) -> HumanTask:
    """A manager gives an open or claimed task to someone who holds its role."""
    if not oversees(user):
        raise Forbidden("only a manager may reassign tasks")
    task = get(task_id)
    if task.state not in OPEN_STATES:
        raise not_open(task)
    target = db.session.get(User, assignee_id)
    if target is None or not target.active:
        raise NotFound(f"there is no active user {assignee_id}")
    if task.role not in target.roles:
        raise Forbidden(f"{target.name} is not in the {task.role} team")
    if task.assignee_id == target.id:
        raise Conflict(f"'{task.title}' for {task.business_key} is already with {target.name}")
    previous = task.assignee_id
    _move(task, state="claimed", assignee_id=target.id, was=previous, states=OPEN_STATES)
    _audit(task, "task_reassigned", user, {"from": _username(previous), "to": target.username})
    return task


def _username(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return db.session.scalar(select(User.username).where(User.id == user_id))
