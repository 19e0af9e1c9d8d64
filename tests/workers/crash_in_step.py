"""Completes a human task of tests/bpmn/conc_crash.bpmn and stops half-way, for the test to kill -9.

    crash_in_step.py INSTANCE_ID TASK_ID SIGNAL_FD (operation|commit)

operation: stop inside the `pause_here` operation, right after its domain write was flushed.
commit:    let the step run and flush everything (instance, projection, audit), stop just before COMMIT.

On stopping it writes one JSON line to SIGNAL_FD, what its own open transaction sees, and waits to die.
"""

import json
import os
import sys
import threading

from sqlalchemy import event, func, select

from app import create_app
from app.extensions import db
from app.orders import service as orders
from app.orders.models import Order
from app.workflow import register_operation, runtime
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance, Wakeup

LONGEST_WAIT = 120  # seconds; only if the test never kills us


def confirm_order(order_number: str) -> dict:
    """The domain write of the step (the test's app registers it as pause_here to redo the step)."""
    order = orders.set_status(orders.get_by_number(order_number), "confirmed")
    return {"order_number": order.number, "status": order.status}


def seen_in_transaction(instance_id: int) -> dict:
    """Read through the worker's session: its uncommitted writes included."""
    db.session.flush()
    instance = db.session.execute(
        select(ProcessInstance.lock_version, ProcessInstance.status, ProcessInstance.business_key)
        .where(ProcessInstance.id == instance_id)
    ).one()
    return {
        "order_status": db.session.scalar(select(Order.status).where(Order.number == instance.business_key)),
        "lock_version": instance.lock_version,
        "status": instance.status,
        "open_tasks": sorted(db.session.scalars(
            select(HumanTask.element_id).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
        )),
        "wakeups": db.session.scalar(select(func.count()).select_from(Wakeup).where(Wakeup.instance_id == instance_id)),
        "events": db.session.scalar(
            select(func.count()).select_from(InstanceEvent).where(InstanceEvent.instance_id == instance_id)
        ),
    }


def main(instance_id: str, task_id: str, signal_fd: str, mode: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"], "SCHEDULER_ENABLED": False})

    def stop_here() -> None:
        os.write(int(signal_fd), json.dumps(seen_in_transaction(int(instance_id))).encode() + b"\n")
        threading.Event().wait(LONGEST_WAIT)
        os._exit(4)  # never killed: leave without committing anything

    def pause_here(order_number: str) -> dict:
        result = confirm_order(order_number)
        if mode == "operation":
            stop_here()
        return result

    def before_commit(session) -> None:
        if not session.in_nested_transaction():  # a task's savepoint commits too; wait for the real one
            stop_here()

    register_operation(app, "pause_here", pause_here)
    if mode == "commit":
        event.listen(db.session, "before_commit", before_commit)
    with app.app_context():
        runtime.complete_task(int(instance_id), task_id, {"approved": True}, actor="worker", expected_version=1)
    raise SystemExit("the step committed: the worker was never stopped")


if __name__ == "__main__":
    main(*sys.argv[1:])
