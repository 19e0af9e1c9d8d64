"""Edges of the unit of work: an operation reaching back into its own instance, a failed
post-script retried, timers that fire during someone else's step, code that tries to stop the
worker, and deploy-time evaluation that must not run operations."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.workflow import register_operation, runtime
from app.workflow.models import HumanTask, InstanceEvent
from tests.engine import bpmn_factory as bf


def _open(instance_id: int) -> list[HumanTask]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")))


def test_an_operation_acting_on_its_own_instance_is_refused_not_lost(ctx):
    # The operation delivers a message to the very instance whose step is running: saving that
    # second copy would be overwritten by the outer step, so it must fail as the task's error.
    register_operation(ctx, "poke_myself", lambda key: runtime.send_message(key, "poke", {}).id)
    bf.deploy(bf.linear("sb_reentry", bf.service("poke", "poke_myself", key="business_key")))
    instance = runtime.start("sb_reentry", "SB-RE", {"business_key": "SB-RE"})
    assert instance.status == "error"
    assert instance.error["element_id"] == "poke" and "already being changed" in instance.error["message"]


def test_starting_a_second_process_for_the_same_key_is_refused(ctx, deployed, make_order):
    order = make_order()
    runtime.start("order_process", order.number, {"order_number": order.number})
    with pytest.raises(runtime.Conflict, match="already has a order_process process running"):
        runtime.start("order_process", order.number, {"order_number": order.number})


def test_a_user_task_whose_post_script_failed_can_be_retried(ctx):
    document = bf.linear("sb_post", bf.user("approve", name="Approve"), bf.script("after", "done = True"))
    document = document.replace(
        "</bpmn:userTask>",
        "<bpmn:extensionElements><spiffworkflow:postScript>ratio = 1 / divisor</spiffworkflow:postScript>"
        "</bpmn:extensionElements></bpmn:userTask>", 1)
    bf.deploy(document)
    instance = runtime.start("sb_post", "SB-POST", {"divisor": 0})
    task = _open(instance.id)[0]
    instance = runtime.complete_task(instance.id, task.spiff_task_id, {})
    assert instance.status == "error" and instance.error["element_id"] == "approve"
    assert [t.spiff_task_id for t in _open(instance.id)] == [task.spiff_task_id]  # not cancelled
    instance = runtime.retry(instance.id, data={"divisor": 2})
    assert instance.status == "running"
    rows = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).all()
    assert [(r.spiff_task_id, r.state) for r in rows] == [(task.spiff_task_id, "open")]
    instance = runtime.complete_task(instance.id, task.spiff_task_id, {})
    assert instance.status == "completed" and bf.final_data(instance)["ratio"] == 0.5


def test_a_timer_that_fires_during_a_user_step_is_audited(ctx):
    # start → split → (first | wait 1 h → late) → join → end: the timer is due on the other branch.
    nodes = [bf.start(), bf.parallel("split"), bf.user("first"), bf.timer("second_late", '"PT1H"'),
             bf.script("late", "late = True"), bf.parallel("join"), bf.end()]
    flows = [bf.flow("start", "split"), bf.flow("split", "first"), bf.flow("split", "second_late"),
             bf.flow("second_late", "late"), bf.flow("first", "join"), bf.flow("late", "join"), bf.flow("join", "end")]
    bf.deploy(bf.document(bf.process("sb_sla", nodes, flows), doc_id="sb_sla"))
    clock.freeze(clock.now())
    instance = runtime.start("sb_sla", "SB-SLA")
    clock.advance(timedelta(hours=2))  # overdue, and no scheduler ran
    task = _open(instance.id)[0]
    runtime.complete_task(instance.id, task.spiff_task_id, {})
    fired = db.session.scalars(select(InstanceEvent).where(
        InstanceEvent.instance_id == instance.id, InstanceEvent.kind == "timer_fired")).all()
    assert [e.element_id for e in fired] == ["second_late"]


@pytest.mark.parametrize("statement", ["raise SystemExit(0)", "raise KeyboardInterrupt()", "raise GeneratorExit()"])
def test_a_script_cannot_stop_the_worker(ctx, statement):
    bf.deploy(bf.linear("sb_exit", bf.script("stop", f"x = 1\n{statement}")))
    instance = runtime.start("sb_exit", "SB-EXIT")
    assert instance.status == "error" and instance.error["element_id"] == "stop"


def test_deploy_does_not_run_operations_in_timer_expressions(ctx):
    calls = []
    register_operation(ctx, "boom", lambda text: calls.append(text) or "PT1H")
    bf.deploy(bf.linear("sb_deploy_op", bf.timer("wait", 'boom("x")')))
    assert calls == []


def test_strftime_and_today_work_in_scripts(ctx):
    bf.deploy(bf.linear("sb_dates", bf.script("fmt", "stamp = now().strftime('%Y') \nday = str(date.today())")))
    instance = runtime.start("sb_dates", "SB-DATES")
    assert instance.status == "completed", instance.error
    assert bf.final_data(instance)["stamp"] == str(clock.now().year)
