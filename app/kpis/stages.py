"""Where the work stands now and how long each stage takes: orders per order status, open tasks per
task type, and the cycle time of each type of task completed in a period."""

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db
from app.kpis.measures import Spread
from app.kpis.period import Period
from app.orders import states
from app.orders.models import Order
from app.workflow.inbox import OPEN
from app.workflow.models import HumanTask


def orders_by_status() -> dict[str, int]:
    """How many orders stand at each order status now, every status listed (in the order of the state
    table, any status outside it after them)."""
    counts = dict(db.session.execute(select(Order.status, func.count(Order.id)).group_by(Order.status)).all())
    listed = {status: counts.pop(status, 0) for status in states.ORDER}
    return listed | dict(sorted(counts.items()))


@dataclass(frozen=True)
class Stage:
    """A stage is a type of human task: its BPMN element id, its name and its lane (team)."""

    element_id: str
    title: str
    role: str


@dataclass(frozen=True)
class OpenStage:
    stage: Stage
    count: int


def open_tasks_by_stage() -> list[OpenStage]:
    """Open or claimed tasks now, per task type, the most crowded first."""
    rows = db.session.execute(
        select(HumanTask.element_id, func.max(HumanTask.title), func.max(HumanTask.role), func.count(HumanTask.id))
        .where(OPEN).group_by(HumanTask.element_id)).all()
    found = [OpenStage(Stage(element_id, title, role or ""), count) for element_id, title, role, count in rows]
    return sorted(found, key=lambda row: (-row.count, row.stage.title, row.stage.element_id))


@dataclass(frozen=True)
class StageTime:
    stage: Stage
    spread: Spread


def cycle_times(period: Period) -> list[StageTime]:
    """Per task type, the time from a task's creation (it became ready in someone's inbox) to its
    completion, over the tasks completed in the period. Tasks withdrawn by the engine (an interrupting
    event, a cancelled order: state `cancelled`) did not complete and are left out. The slowest
    stage (by median) first."""
    rows = db.session.execute(
        select(HumanTask.element_id, HumanTask.title, HumanTask.role, HumanTask.created_at, HumanTask.completed_at)
        .where(HumanTask.state == "completed", HumanTask.completed_at >= period.start,
               HumanTask.completed_at < period.end)).all()
    durations = defaultdict(list)
    stages = {}
    for element_id, title, role, created_at, completed_at in rows:
        stages.setdefault(element_id, Stage(element_id, title, role or ""))
        durations[element_id].append(completed_at - created_at)
    found = [StageTime(stages[key], Spread.of(values)) for key, values in durations.items()]
    return sorted(found, key=lambda row: (-row.spread.median.total_seconds(), row.stage.element_id))
