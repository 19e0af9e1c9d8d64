"""An instance outlives the OS process that moved it: across a restart, and across a kill -9 mid-step."""

import json
import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import select

from app.extensions import db
from app.orders.models import Order
from app.workflow import definitions, register_operation, runtime
from app.workflow.deployment import deploy
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance, Wakeup
from tests.support import HAPPY_PATH, ROOT, bpmn
from tests.workers import harness
from tests.workers.crash_in_step import confirm_order


def open_tasks(instance_id: int) -> list[str]:
    return list(db.session.scalars(
        select(HumanTask.element_id).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
    ))


def event_kinds(instance_id: int) -> list[str]:
    return list(db.session.scalars(
        select(InstanceEvent.kind).where(InstanceEvent.instance_id == instance_id).order_by(InstanceEvent.id)
    ))


def test_order_started_in_one_process_finishes_in_another(backend, ctx, database_url):
    first = harness.run("order_steps.py", "start", database_url=database_url)

    # What the first process left behind once it had exited.
    instance = db.session.get(ProcessInstance, first["instance_id"])
    assert (instance.status, instance.lock_version, instance.started_by) == ("running", 1, first["actor"])
    assert open_tasks(instance.id) == ["review_order"]
    assert db.session.get(Wakeup, instance.id) is not None  # the review's SLA timer
    order = db.session.scalar(select(Order).where(Order.number == first["order_number"]))
    assert order.status == "in_review"
    db.session.rollback()

    second = harness.run("order_steps.py", "finish", str(instance.id), database_url=database_url)
    assert len({first["pid"], second["pid"], os.getpid()}) == 3

    db.session.expire_all()
    instance = db.session.get(ProcessInstance, instance.id)
    assert (instance.status, instance.lock_version) == ("completed", 9)
    assert instance.ended_at is not None
    assert db.session.get(Order, order.id).status == "completed"
    assert db.session.get(Wakeup, instance.id) is None
    tasks = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).all()
    assert sorted((t.element_id, t.state, t.completed_by) for t in tasks) == sorted(
        (element_id, "completed", second["actor"]) for element_id in [*(e for e, _ in HAPPY_PATH), "follow_up"]
    )
    assert event_kinds(instance.id) == [
        "started", *["task_completed"] * len(HAPPY_PATH), "message_received", "message_received",
        "task_completed", "completed",
    ]
    # The workflow carries the data of both processes: what the first started it with, what the second entered.
    data = definitions.restore(instance, None).data
    assert data["order_number"] == first["order_number"]
    assert (data["approved"], data["packages"], data["tracking_number"]) == (True, 2, "JD0042")
    assert data["receipt"] == {"signed_by": "Dock 4"}


def _snapshot(instance_id: int, order_id: int) -> dict:
    """Everything a step may change, as committed."""
    db.session.expire_all()
    instance = db.session.get(ProcessInstance, instance_id)
    wakeup = db.session.get(Wakeup, instance_id)
    return {
        "order": db.session.get(Order, order_id).status,
        "instance": (instance.status, instance.lock_version, instance.state, instance.updated_at),
        "tasks": sorted(
            (t.spiff_task_id, t.element_id, t.state, t.completed_by, t.completed_at, t.due_at)
            for t in db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id))
        ),
        "wakeup": (wakeup.due_at, wakeup.claimed_by, wakeup.claimed_until) if wakeup else None,
        "events": list(db.session.scalars(select(InstanceEvent.id).where(InstanceEvent.instance_id == instance_id))),
    }


@pytest.mark.parametrize("stop", ["operation", "commit"])
def test_kill_9_in_the_middle_of_a_step_leaves_the_last_committed_state(backend, ctx, make_order, database_url,
                                                                       tmp_path, stop):
    register_operation(ctx, "pause_here", confirm_order)  # deployment refuses unknown operations
    deploy(bpmn("conc_crash.bpmn"), "conc_crash.bpmn")
    order = make_order()
    instance = runtime.start("conc_crash", order.number, {"order_number": order.number})
    review = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).one()
    before = _snapshot(instance.id, order.id)
    assert before["order"] == "in_review"
    assert before["instance"][:2] == ("running", 1)
    assert before["wakeup"] is not None
    db.session.rollback()

    signal_read, signal_write = os.pipe()
    with open(tmp_path / "worker.stderr", "wb") as stderr:
        worker = subprocess.Popen(
            [sys.executable, str(harness.WORKERS / "crash_in_step.py"),
             str(instance.id), review.spiff_task_id, str(signal_write), stop],
            cwd=ROOT, env=harness.env(database_url), pass_fds=(signal_write,),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
        )
    os.close(signal_write)
    try:
        seen = json.loads(harness.read_line(signal_read, worker, "the worker's signal"))
    finally:
        os.close(signal_read)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=harness.TIMEOUT)
    assert worker.returncode == -signal.SIGKILL, (tmp_path / "worker.stderr").read_text()

    # The worker had really written, uncommitted, when it died.
    assert seen["order_status"] == "confirmed"
    if stop == "commit":
        assert seen | {"order_status": None} == {
            "order_status": None, "lock_version": 2, "status": "running",
            "open_tasks": ["pick_and_pack"], "wakeups": 0, "events": 2,
        }
    else:
        assert (seen["lock_version"], seen["open_tasks"], seen["wakeups"]) == (1, ["review_order"], 1)

    # None of it survived: the instance, its projection and its audit are as last committed.
    assert _snapshot(instance.id, order.id) == before

    # The step can be done again, and the process goes on from there.
    instance = runtime.complete_task(instance.id, review.spiff_task_id, {"approved": True}, actor="desk",
                                     expected_version=1)
    assert (instance.status, instance.lock_version) == ("running", 2)
    assert db.session.get(Order, order.id).status == "confirmed"
    assert open_tasks(instance.id) == ["pick_and_pack"]
    assert db.session.get(Wakeup, instance.id) is None
    pack = db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.element_id == "pick_and_pack")).one()
    runtime.complete_task(instance.id, pack.spiff_task_id, {"packages": 1}, actor="picker")
    assert db.session.get(ProcessInstance, instance.id).status == "completed"
    assert event_kinds(instance.id) == ["started", "task_completed", "task_completed", "completed"]
