"""Small tables kept in step with an instance's engine state after every unit of work:
the inbox (`human_task`) and the instance's next timer (`wakeup`)."""

from collections.abc import Mapping
from datetime import datetime

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.workflow.engine import find_task
from app.workflow.models import HumanTask, ProcessInstance, Wakeup

OPEN_STATES = ("open", "claimed")


def _timer_due(task) -> datetime | None:
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):  # cycles keep their next firing under 'next'
        value = value.get("next")
    return TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None


NOT_DEADLINES = ("sla_late", "ship_by")
# A paused SLA clock waits at this moment until it is resumed (app.sla.clocks).
PAUSED = "9999-12-31T00:00:00+00:00"


def sla_clocks(task) -> list:
    """The waiting SLA timers (sla_warn / sla_due / sla_late) on the boundary of a ready task."""
    parent = task.parent
    if parent is None:
        return []
    return [sibling for sibling in parent.children
            if sibling is not task and sibling.state == TaskState.WAITING
            and isinstance(definition := getattr(sibling.task_spec, "event_definition", None), TimerEventDefinition)
            and (definition.expression or "").lstrip().startswith("sla_")]


def _attached_deadlines(task) -> tuple[datetime | None, datetime | None]:
    """(due, at risk) from timers on the task's boundary. A timer whose expression starts with
    sla_warn marks the at-risk time; sla_late (the last escalation) and ship_by (the order's promise)
    are no deadline of the task's own; any other attached timer is a deadline (the earliest wins)."""
    due = at_risk = None
    parent = task.parent
    if parent is None:
        return None, None
    for sibling in parent.children:
        definition = getattr(sibling.task_spec, "event_definition", None)
        if sibling is task or not isinstance(definition, TimerEventDefinition):
            continue
        if sibling.state != TaskState.WAITING:
            continue
        if sibling._get_internal_data("event_value") == PAUSED:
            continue  # the clock stands still: the task keeps the times it had
        moment = _timer_due(sibling)
        if moment is None:
            continue
        expression = (definition.expression or "").lstrip()
        if expression.startswith(NOT_DEADLINES):
            continue
        if expression.startswith("sla_warn"):
            at_risk = moment if at_risk is None else min(at_risk, moment)
        else:
            due = moment if due is None else min(due, moment)
    return due, at_risk


def ready_human_tasks(workflow) -> list:
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def form_key_of(task_spec) -> str | None:
    return (task_spec.extensions or {}).get("properties", {}).get("formKey") or None


def open_rows(instance_id: int) -> list[HumanTask]:
    return list(db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state.in_(OPEN_STATES))
    ))


def refresh_tasks(instance: ProcessInstance, workflow, completed_by: Mapping[str, str] | None = None,
                  rows: list[HumanTask] | None = None) -> None:
    """Bring the instance's open inbox rows in line with its READY human tasks; `completed_by` names
    who completed which task (by spiff task id) in this unit of work; `rows` are the open rows if the
    caller loaded them already in this unit."""
    ready = {str(task.id): task for task in ready_human_tasks(workflow)}
    if rows is None:
        rows = open_rows(instance.id)
    known = set()
    for row in rows:
        known.add(row.spiff_task_id)
        if completed_by and row.spiff_task_id in completed_by:
            row.completed_by = completed_by[row.spiff_task_id]
        task = ready.get(row.spiff_task_id)
        if task is None:
            gone = find_task(workflow, row.spiff_task_id)
            if gone is not None and gone.state == TaskState.ERROR:
                continue  # its post-script failed: the row stays open for the retry
            row.state = "completed" if gone is not None and gone.state == TaskState.COMPLETED else "cancelled"
            row.completed_at = row.completed_at or now()
        else:
            # A boundary timer that fired (a non-interrupting deadline or warning) is no longer
            # pending, but the task is still overdue or at risk: keep the time it had.
            due_at, at_risk_at = _attached_deadlines(task)
            row.due_at = due_at or row.due_at
            row.at_risk_at = at_risk_at or row.at_risk_at
    for task_id, task in ready.items():
        if task_id in known:
            continue
        spec = task.task_spec
        due_at, at_risk_at = _attached_deadlines(task)
        db.session.add(
            HumanTask(
                instance_id=instance.id,
                spiff_task_id=task_id,
                element_id=spec.bpmn_id or spec.name,
                business_key=instance.business_key,
                title=spec.bpmn_name or spec.bpmn_id or spec.name,
                form_key=form_key_of(spec),
                role=spec.lane,
                instructions=(spec.extensions or {}).get("instructionsForEndUser") or "",
                due_at=due_at,
                at_risk_at=at_risk_at,
            )
        )


def next_timer(workflow) -> datetime | None:
    moments = []
    for pending in workflow.waiting_events():
        value = pending.value
        if value == PAUSED:
            continue
        if isinstance(value, dict):
            value = value.get("next")
        if isinstance(value, str):
            moments.append(TimerEventDefinition.get_datetime(value))
    return min(moments) if moments else None


def refresh_wakeup(instance: ProcessInstance, workflow, release_claim: bool = False) -> None:
    """Keep the wakeup row at the earliest pending timer. The instance remembers that time, so a step
    that leaves it unchanged costs no query; a scheduler that woke the instance releases its claim."""
    # A held instance's timers wait: no wakeup until it is released.
    due = next_timer(workflow) if instance.status in ("running", "waiting") and not instance.held_by else None
    if due == instance.next_timer_at and not release_claim:
        return
    remembered, instance.next_timer_at = instance.next_timer_at, due
    # The row and the instance's time change together: no time remembered, no row to read.
    row = db.session.get(Wakeup, instance.id) if remembered is not None or release_claim else None
    if due is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(Wakeup(instance_id=instance.id, due_at=due))
    else:
        row.due_at = due
        row.claimed_by = row.claimed_until = None


def refresh(instance: ProcessInstance, workflow, completed_by: Mapping[str, str] | None = None,
            rows: list[HumanTask] | None = None, release_claim: bool = False) -> None:
    refresh_tasks(instance, workflow, completed_by, rows)
    refresh_wakeup(instance, workflow, release_claim)
