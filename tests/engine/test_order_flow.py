"""The shipped order process, driven through app.workflow.runtime on each database."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.orders.models import Order
from app.workflow import Conflict, InvalidData, NotWaiting, runtime
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance, Wakeup


def open_tasks(instance_id: int) -> list[HumanTask]:
    return list(db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open").order_by(HumanTask.id)
    ))


def only_open_task(instance_id: int, element_id: str) -> HumanTask:
    tasks = open_tasks(instance_id)
    assert [t.element_id for t in tasks] == [element_id]
    return tasks[0]


@pytest.fixture
def order_instance(deployed, make_order):
    order = make_order()
    instance = runtime.start("order_process", order.number, {"order_number": order.number}, actor="tester")
    return order, instance


def test_start_projects_review_task_with_lane_form_and_deadline(order_instance):
    order, instance = order_instance
    assert instance.status == "running"
    assert instance.lock_version == 1
    assert db.session.get(Order, order.id).status == "in_review"
    task = only_open_task(instance.id, "review_order")
    assert (task.title, task.role, task.form_key) == ("Review order", "order_desk", "review_order")
    assert "credit" in task.instructions
    assert task.due_at is not None
    wakeup = db.session.get(Wakeup, instance.id)
    assert wakeup is not None and wakeup.due_at == task.due_at


def test_happy_path_to_completion(order_instance):
    order, instance = order_instance
    review = only_open_task(instance.id, "review_order")
    runtime.complete_task(instance.id, review.spiff_task_id, {"approved": True}, actor="desk")
    assert db.session.get(Order, order.id).status == "in_fulfilment"
    # The boundary timer went with the review: no wake-up is left.
    assert db.session.get(Wakeup, instance.id) is None
    pick = only_open_task(instance.id, "pick_and_pack")
    runtime.complete_task(instance.id, pick.spiff_task_id, {"packages": 2}, actor="picker")
    ship = only_open_task(instance.id, "ship_goods")
    runtime.complete_task(
        instance.id, ship.spiff_task_id, {"goods_checked": True, "carrier": "DHL", "tracking_number": "JD01"},
        actor="shipper",
    )
    instance = db.session.get(ProcessInstance, instance.id)
    assert instance.status == "waiting"
    assert db.session.get(Order, order.id).status == "shipped"

    runtime.send_message(order.number, "goods_received", {"signed_by": "Dock 4"}, actor="api")
    instance = db.session.get(ProcessInstance, instance.id)
    assert instance.status == "completed" and instance.ended_at is not None
    assert db.session.get(Order, order.id).status == "completed"
    done = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).all()
    assert {(t.element_id, t.state, t.completed_by) for t in done} == {
        ("review_order", "completed", "desk"),
        ("pick_and_pack", "completed", "picker"),
        ("ship_goods", "completed", "shipper"),
    }
    kinds = [e.kind for e in db.session.scalars(
        select(InstanceEvent).where(InstanceEvent.instance_id == instance.id).order_by(InstanceEvent.id)
    )]
    assert kinds == ["started", "task_completed", "task_completed", "task_completed", "message_received", "completed"]


def test_rejected_order_ends_rejected(order_instance):
    order, instance = order_instance
    review = only_open_task(instance.id, "review_order")
    runtime.complete_task(instance.id, review.spiff_task_id, {"approved": False, "review_note": "no credit"})
    assert db.session.get(Order, order.id).status == "rejected"
    assert db.session.get(ProcessInstance, instance.id).status == "completed"


def test_undeclared_or_invalid_fields_change_nothing(order_instance):
    _order, instance = order_instance
    review = only_open_task(instance.id, "review_order")
    with pytest.raises(InvalidData) as undeclared:
        runtime.complete_task(instance.id, review.spiff_task_id, {"approved": True, "is_admin": True})
    assert "'is_admin' is not a field of this form" in undeclared.value.errors
    with pytest.raises(InvalidData):
        runtime.complete_task(instance.id, review.spiff_task_id, {"approved": "yes"})
    db.session.expire_all()
    assert db.session.get(ProcessInstance, instance.id).lock_version == 1
    assert only_open_task(instance.id, "review_order").state == "open"


def test_stale_version_and_second_completion_are_conflicts(order_instance):
    _order, instance = order_instance
    review = only_open_task(instance.id, "review_order")
    runtime.complete_task(instance.id, review.spiff_task_id, {"approved": True}, expected_version=1)
    with pytest.raises(Conflict, match="changed by someone else"):
        runtime.complete_task(instance.id, review.spiff_task_id, {"approved": True}, expected_version=1)
    with pytest.raises(Conflict, match="no longer open"):
        runtime.complete_task(instance.id, review.spiff_task_id, {"approved": True})


def test_message_nobody_waits_for_is_recorded_and_refused(order_instance):
    order, instance = order_instance
    with pytest.raises(NotWaiting):
        runtime.send_message(order.number, "goods_received", {"signed_by": "too early"})
    refused = db.session.scalars(
        select(InstanceEvent).where(InstanceEvent.instance_id == instance.id, InstanceEvent.kind == "message_refused")
    ).all()
    assert len(refused) == 1 and refused[0].detail["message"] == "goods_received"
    assert db.session.get(ProcessInstance, instance.id).lock_version == 1


def test_cancel_withdraws_tasks_and_timers_and_refuses_twice(order_instance):
    _order, instance = order_instance
    runtime.cancel(instance.id, actor="admin", reason="customer withdrew")
    instance = db.session.get(ProcessInstance, instance.id)
    assert instance.status == "cancelled"
    assert db.session.get(Wakeup, instance.id) is None
    assert open_tasks(instance.id) == []
    with pytest.raises(Conflict, match="already cancelled"):
        runtime.cancel(instance.id, actor="admin")
