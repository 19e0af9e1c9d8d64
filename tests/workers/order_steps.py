"""Moves the shipped order process from a process of its own, for the restart test.

    order_steps.py start         deploy workflows/, enter an order, start its process
    order_steps.py finish ID     do every human task of instance ID as an inbox would, then confirm receipt

Works on the database in DATABASE_URL; prints one JSON line on stdout.
"""

import json
import os
import sys

from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.workflow import runtime
from app.workflow.deployment import deploy_directory
from app.workflow.models import HumanTask, ProcessInstance
from tests.support import HAPPY_PATH, simple_order

ACTOR = f"process-{os.getpid()}"
# The forms of the order process's tasks, in the order they come.
SUBMISSIONS = [*HAPPY_PATH]


def start(app) -> dict:
    deploy_directory(app.config["WORKFLOWS_DIR"], by=ACTOR)
    order = simple_order("ACME Ltd")
    db.session.commit()
    instance = runtime.start("order_process", order.number, {"order_number": order.number}, actor=ACTOR)
    return {"instance_id": instance.id, "order_number": order.number}


def finish(instance_id: int) -> dict:
    for element_id, data in SUBMISSIONS:
        # Only what the database holds: the inbox row and the version the user would have seen.
        instance = db.session.get(ProcessInstance, instance_id)
        task = db.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
        ).one()
        if task.element_id != element_id:
            raise SystemExit(f"expected {element_id} to be open, found {task.element_id}")
        runtime.complete_task(
            instance_id, task.spiff_task_id, data, actor=ACTOR, expected_version=instance.lock_version
        )
    instance = db.session.get(ProcessInstance, instance_id)
    runtime.send_message(instance.business_key, "goods_received", {"signed_by": "Dock 4"}, actor=ACTOR)
    runtime.send_message(instance.business_key, "payment_received", {"amount": "100.00", "method": "card"},
                         actor=ACTOR)
    follow_up = db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
    ).one()
    runtime.complete_task(instance_id, follow_up.spiff_task_id, {"satisfaction": 4}, actor=ACTOR)
    return {"instance_id": instance_id}


def main(command: str, *args: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"], "SCHEDULER_ENABLED": False})
    with app.app_context():
        result = start(app) if command == "start" else finish(int(args[0]))
        db.session.remove()
    print(json.dumps({"pid": os.getpid(), "actor": ACTOR, **result}))


if __name__ == "__main__":
    main(*sys.argv[1:])
