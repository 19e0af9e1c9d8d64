"""SLA compliance and escalations per team (a BPMN lane is a role): did tasks completed in a period
meet their deadline, and how many escalations were raised."""

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.accounts.roles import ALL
from app.extensions import db
from app.kpis.measures import Share
from app.kpis.period import Period
from app.sla.models import LEVELS, Escalation
from app.workflow.models import HumanTask


@dataclass(frozen=True)
class Team:
    role: str  # "" for escalations that name no team (an order-level promise)
    compliance: Share  # completed by their due time, of the completed tasks that had one
    without_deadline: int  # completed tasks with no due time: left out of the share
    escalations: dict[str, int] = field(default_factory=dict)  # level → raised in the period

    @property
    def escalation_count(self) -> int:
        return sum(self.escalations.values())


def teams(period: Period) -> list[Team]:
    """Per team (the task's lane role):

    - SLA compliance: of the tasks completed in the period (`human_task.completed_at`, state
      `completed`) that had a due time, the share completed at or before it (`completed_at <= due_at`).
      The due time is the one the task ended with: a pause waiting on the customer or a manager's
      extension moved it. Tasks with no due time are counted apart, not as met.
    - Escalations raised in the period (`escalation.raised_at`), by level.

    Teams with neither are left out; the others come in the order of the roles."""
    met: defaultdict[str, int] = defaultdict(int)
    timed: defaultdict[str, int] = defaultdict(int)
    untimed: defaultdict[str, int] = defaultdict(int)
    rows = db.session.execute(
        select(HumanTask.role, HumanTask.due_at, HumanTask.completed_at)
        .where(HumanTask.state == "completed", HumanTask.completed_at >= period.start,
               HumanTask.completed_at < period.end)).all()
    for role, due_at, completed_at in rows:
        role = role or ""
        if due_at is None:
            untimed[role] += 1
            continue
        timed[role] += 1
        met[role] += completed_at <= due_at
    raised: defaultdict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(LEVELS, 0))
    for role, level, count in db.session.execute(
            select(Escalation.role, Escalation.level, func.count(Escalation.id))
            .where(Escalation.raised_at >= period.start, Escalation.raised_at < period.end)
            .group_by(Escalation.role, Escalation.level)).all():
        raised[role or ""][level] = raised[role or ""].get(level, 0) + count
    roles = set(timed) | set(untimed) | set(raised)
    order = {role: index for index, role in enumerate(ALL)}
    return [Team(role, Share(met[role], timed[role]), untimed[role], dict(raised[role]))
            for role in sorted(roles, key=lambda role: (order.get(role, len(order)), role))]
