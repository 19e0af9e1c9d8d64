"""Running SLA clocks changed by people: paused while the work waits on the customer (the due
times move out by the length of the pause) and extended by a manager. Both are audited."""

from datetime import datetime, timedelta

from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.sla.models import SlaChange, SlaPause
from app.workflow import runtime
from app.workflow.models import HumanTask
from app.workflow.projection import PAUSED

MAX_EXTENSION = timedelta(days=30)


class ClockError(ValueError):
    pass


def open_pause(instance_id: int) -> SlaPause | None:
    return db.session.scalar(select(SlaPause).where(SlaPause.instance_id == instance_id,
                                                    SlaPause.resumed_at.is_(None)))


def _open_rows(instance_id: int) -> list[HumanTask]:
    return list(db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                           HumanTask.state.in_(("open", "claimed")))))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _open_task(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None or task.state not in ("open", "claimed"):
        raise ClockError("the task is no longer open")
    return task


def pause(task_id: int, by: str, reason: str) -> SlaPause:
    """Stop the clocks of the instance's open tasks while it waits on the customer."""
    task = _open_task(task_id)
    reason = (reason or "").strip()
    if not reason:
        raise ClockError("say what the customer is to answer")
    if open_pause(task.instance_id) is not None:
        raise ClockError(f"the clock of {task.business_key} is already paused")
    kept: dict[str, str] = {}

    def stop(timer_id: str, value: str) -> str | None:
        if value == PAUSED:
            return None  # paused already (by someone at the same moment): theirs stands
        kept[timer_id] = value
        return PAUSED

    record = SlaPause(instance_id=task.instance_id, business_key=task.business_key, reason=reason[:500],
                      paused_by=by, paused_at=now())
    with runtime.unit_of_work():
        runtime.move_sla_clocks(task.instance_id, stop, kind="sla_paused", actor=by, detail={"reason": reason[:500]})
        if not kept:
            raise ClockError("no SLA clock is running on this work")
        # A stopped clock has no deadline: the inbox and the dashboard do not count the work as
        # late meanwhile. Resuming sets the times again, moved out by the pause — also those whose
        # timers fired already (a task overdue before the pause stays overdue after it).
        marks = {}
        for row in _open_rows(task.instance_id):
            marks[str(row.id)] = {"due_at": _iso(row.due_at), "at_risk_at": _iso(row.at_risk_at)}
            row.due_at = row.at_risk_at = None
        record.timers = {"timers": kept, "tasks": marks}
        db.session.add(record)
    return record


def resume(instance_id: int, by: str) -> SlaPause:
    """Start the paused clocks again, each due the length of the pause later than it was."""
    record = open_pause(instance_id)
    if record is None:
        raise ClockError("the clock is not paused")
    resumed_at = now()
    length = resumed_at - record.paused_at

    kept, marks = record.timers.get("timers", {}), record.timers.get("tasks", {})

    def restart(timer_id: str, value: str) -> str | None:
        if value != PAUSED or timer_id not in kept:
            return None
        return (datetime.fromisoformat(kept[timer_id]) + length).isoformat()

    with runtime.unit_of_work():
        runtime.move_sla_clocks(instance_id, restart, kind="sla_resumed", actor=by,
                                detail={"paused_for_seconds": int(length.total_seconds())})
        for row in _open_rows(instance_id):
            mark = marks.get(str(row.id), {})
            if row.due_at is None and mark.get("due_at"):
                row.due_at = datetime.fromisoformat(mark["due_at"]) + length
            if row.at_risk_at is None and mark.get("at_risk_at"):
                row.at_risk_at = datetime.fromisoformat(mark["at_risk_at"]) + length
        record.resumed_by, record.resumed_at = by, resumed_at
    return record


def extend(task_id: int, by: timedelta, manager: str, note: str) -> SlaChange:
    """Give one running task more time: its waiting SLA clocks and its due time move out by `by`."""
    task = _open_task(task_id)
    note = (note or "").strip()
    if not timedelta(minutes=1) <= by <= MAX_EXTENSION:
        raise ClockError("extend by at least a minute and at most 30 days")
    if not note:
        raise ClockError("say why the task gets more time")
    if open_pause(task.instance_id) is not None:
        raise ClockError("the clock is paused; resume it before extending")
    before = task.due_at

    def later(_timer_id: str, value: str) -> str | None:
        if value == PAUSED:
            return None  # paused meanwhile: refused below
        return (datetime.fromisoformat(value) + by).isoformat()

    with runtime.unit_of_work():
        moved = runtime.move_sla_clocks(task.instance_id, later, kind="sla_extended", actor=manager,
                                        detail={"minutes": int(by.total_seconds() // 60), "note": note[:500]},
                                        element_id=task.element_id)
        if open_pause(task.instance_id) is not None or (not moved and before is None):
            raise ClockError("no running SLA clock on this task to extend")
        task = db.session.get(HumanTask, task_id)
        if before is not None and task.due_at == before:  # its due timer fired already: move the mark itself
            task.due_at = before + by
        change = SlaChange(by=manager, subject="task", subject_ref=f"{task.business_key}/{task.element_id}",
                           action="extended", before={"due_at": before.isoformat() if before else None},
                           after={"due_at": task.due_at.isoformat() if task.due_at else None}, note=note[:500])
        db.session.add(change)
    return change
