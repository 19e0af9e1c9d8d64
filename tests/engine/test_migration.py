"""Moving a running instance onto the newest version of its process: only when every task that stays
has its element in the new version and every subprocess it runs still exists; one unit of work,
audited; refused with a reason otherwise, changing nothing."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.workflow import Conflict, migration, runtime
from app.workflow.models import HumanTask, Wakeup
from tests.engine import bpmn_factory as bf
from tests.support import HAPPY_PATH, simple_order

START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def _open(instance) -> list[HumanTask]:
    db.session.expire_all()
    return list(db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                           HumanTask.state.in_(("open", "claimed")))))


def _unchanged(instance, version: int, lock_version: int) -> None:
    row = bf.reload(instance)
    assert (row.definition.version, row.lock_version) == (version, lock_version)
    assert bf.events(instance.id, "migrated") == []


@pytest.fixture
def two_steps(ctx):
    """Version 1: first → second; the instance waits at `first`."""
    bf.deploy(bf.linear("mg", bf.script("prep", "prepared = True"), bf.user("first", name="First"),
                        bf.user("second", name="Second")))
    return runtime.start("mg", "MG-1", {"order_number": "MG-1"})


def test_an_instance_moves_to_a_compatible_version_and_follows_it(two_steps):
    [first] = _open(two_steps)
    bf.deploy(bf.linear("mg", bf.script("prep", "prepared = True"), bf.user("first", name="First look"),
                        bf.script("stamp", "stamped = True"), bf.user("second", name="Second")))
    verdict = migration.assess(bf.reload(two_steps))
    assert verdict.compatible and verdict.target.version == 2 and verdict.reasons == []
    assert bf.reload(two_steps).definition.version == 1  # assessing changed nothing

    moved = migration.migrate(two_steps.id, actor="root", expected_version=bf.reload(two_steps).lock_version)
    moved = bf.reload(moved)
    assert moved.definition.version == 2 and moved.status == "running"
    [event] = bf.events(two_steps.id, "migrated")
    assert event.actor == "root"
    assert (event.detail["from_version"], event.detail["to_version"]) == (1, 2)
    # The open task is the same one (its inbox row, its id), titled as the new version says.
    [row] = _open(two_steps)
    assert (row.id, row.spiff_task_id, row.title) == (first.id, first.spiff_task_id, "First look")

    runtime.complete_task(two_steps.id, row.spiff_task_id, {}, actor="dana")
    [second] = _open(two_steps)
    assert second.element_id == "second"
    runtime.complete_task(two_steps.id, second.spiff_task_id, {}, actor="dana")
    data = bf.final_data(two_steps)
    assert data["stamped"] is True and data["prepared"] is True
    assert migration.assess(bf.reload(two_steps)).newest


def test_the_current_task_removed_in_the_new_version_refuses_the_move(two_steps):
    lock_version = bf.reload(two_steps).lock_version
    bf.deploy(bf.linear("mg", bf.script("prep", "prepared = True"), bf.user("second", name="Second")))
    verdict = migration.assess(bf.reload(two_steps))
    assert not verdict.compatible
    assert verdict.reasons == ["'First' (first) is reached or done in this instance and is not in version 2"]
    with pytest.raises(Conflict, match=r"MG-1 cannot move to version 2: 'First' \(first\) is reached"):
        migration.migrate(two_steps.id, actor="root")
    _unchanged(two_steps, 1, lock_version)
    assert [r.element_id for r in _open(two_steps)] == ["first"]


def test_a_done_step_removed_in_the_new_version_refuses_the_move(two_steps):
    bf.deploy(bf.linear("mg", bf.user("first", name="First"), bf.user("second", name="Second")))
    verdict = migration.assess(bf.reload(two_steps))
    assert verdict.reasons == ["prep is reached or done in this instance and is not in version 2"]


def test_a_later_step_removed_in_the_new_version_is_no_obstacle(two_steps):
    """Tasks only predicted further on are predicted again from the new diagram."""
    bf.deploy(bf.linear("mg", bf.script("prep", "prepared = True"), bf.user("first", name="First")))
    assert migration.assess(bf.reload(two_steps)).compatible
    migration.migrate(two_steps.id, actor="root")
    [first] = _open(two_steps)
    runtime.complete_task(two_steps.id, first.spiff_task_id, {}, actor="dana")
    assert bf.reload(two_steps).status == "completed"


def test_the_newest_version_has_nothing_to_move_to(two_steps):
    verdict = migration.assess(bf.reload(two_steps))
    assert verdict.newest and not verdict.compatible
    with pytest.raises(Conflict, match="already runs the newest version of mg"):
        migration.migrate(two_steps.id, actor="root")


def test_a_stale_page_is_a_conflict(two_steps):
    bf.deploy(bf.linear("mg", bf.script("prep", "prepared = True"), bf.user("first"), bf.user("second")))
    lock_version = bf.reload(two_steps).lock_version
    with pytest.raises(Conflict, match="changed by someone else"):
        migration.migrate(two_steps.id, actor="root", expected_version=lock_version - 1)
    _unchanged(two_steps, 1, lock_version)


@pytest.mark.parametrize("status", ["error", "completed", "cancelled"])
def test_only_running_or_waiting_instances_move(two_steps, status):
    bf.reload(two_steps).status = status
    db.session.commit()
    bf.deploy(bf.linear("mg", bf.script("prep", "prepared = True"), bf.user("first"), bf.user("second")))
    verdict = migration.assess(bf.reload(two_steps))
    assert verdict.reasons == [f"it is {status}; only a running or waiting instance can move"]
    with pytest.raises(Conflict, match=f"it is {status}"):
        migration.migrate(two_steps.id, actor="root")


def test_a_held_instance_waits_for_its_release(two_steps):
    runtime.hold("MG-1", "EX-7", actor="desk")
    bf.deploy(bf.linear("mg", bf.script("prep", "prepared = True"), bf.user("first"), bf.user("second")))
    assert migration.assess(bf.reload(two_steps)).reasons == ["it is on hold while EX-7 is open"]


WAIT_INSIDE = bf.timer("inside", '"PT1H"').xml


def test_a_subprocess_missing_from_the_new_version_refuses_the_move(ctx):
    def inner(sub_id: str) -> bf.Node:
        return bf.Node(sub_id, (
            f'<bpmn:subProcess id="{sub_id}"><bpmn:startEvent id="{sub_id}_start"/>'
            f'{WAIT_INSIDE}<bpmn:endEvent id="{sub_id}_end"/>'
            f'<bpmn:sequenceFlow id="{sub_id}_f1" sourceRef="{sub_id}_start" targetRef="inside"/>'
            f'<bpmn:sequenceFlow id="{sub_id}_f2" sourceRef="inside" targetRef="{sub_id}_end"/></bpmn:subProcess>'))

    bf.deploy(bf.linear("mg_sub", inner("inner")))
    instance = runtime.start("mg_sub", "MG-SUB")
    assert bf.reload(instance).status == "waiting"
    bf.deploy(bf.linear("mg_sub", inner("renamed")))
    reasons = migration.assess(bf.reload(instance)).reasons
    assert "it runs the process 'inner', which version 2 does not hold" in reasons


def test_a_waiting_timer_keeps_its_due_time(ctx):
    clock.freeze(START)
    bf.deploy(bf.linear("mg_timer", bf.user("work", name="Work"),
                        extra=(bf.boundary_timer("late", "work", '"PT4H"'), bf.end("late_end")),
                        extra_flows=(bf.flow("late", "late_end"),)))
    instance = runtime.start("mg_timer", "MG-T")
    assert db.session.get(Wakeup, instance.id).due_at == START + timedelta(hours=4)
    clock.advance(timedelta(hours=3))
    bf.deploy(bf.linear("mg_timer", bf.user("work", name="Work it"),
                        extra=(bf.boundary_timer("late", "work", '"PT4H"'), bf.end("late_end")),
                        extra_flows=(bf.flow("late", "late_end"),)))
    migration.migrate(instance.id, actor="root")
    db.session.expire_all()
    assert db.session.get(Wakeup, instance.id).due_at == START + timedelta(hours=4)  # not 3 hours later
    [row] = _open(instance)
    assert row.due_at == START + timedelta(hours=4) and row.title == "Work it"


def test_an_order_at_review_moves_to_a_new_version_and_goes_on(deployed):
    """The shipped order process: SLA timers, a message boundary and an event subprocess around the
    open task; the new version only renames that task."""
    order = simple_order()
    db.session.commit()
    instance = runtime.start("order_process", order.number, {"order_number": order.number})
    [before] = _open(instance)
    xml = deployed["order_process"].bpmn_xml.replace('name="Review order"', 'name="Review the order"')
    bf.deploy(xml, "order_process.bpmn")
    assert migration.assess(bf.reload(instance)).compatible
    migration.migrate(instance.id, actor="root")
    [after] = _open(instance)
    assert (after.id, after.title, after.due_at) == (before.id, "Review the order", before.due_at)
    assert runtime.waits_for(order.number, "order_changed") and runtime.waits_for(order.number, "order_cancelled")
    for element, data in HAPPY_PATH:
        [row] = [r for r in _open(instance) if r.element_id == element]
        runtime.complete_task(instance.id, row.spiff_task_id, data, actor="dana")
    assert runtime.waits_for(order.number, "goods_received")


def test_an_instance_inside_a_subprocess_moves_with_it(ctx):
    clock.freeze(START)

    def version(after: str) -> str:
        inner = bf.Node("inner", (
            '<bpmn:subProcess id="inner"><bpmn:startEvent id="inner_start"/>'
            f'{WAIT_INSIDE}<bpmn:endEvent id="inner_end"/>'
            '<bpmn:sequenceFlow id="inner_f1" sourceRef="inner_start" targetRef="inside"/>'
            '<bpmn:sequenceFlow id="inner_f2" sourceRef="inside" targetRef="inner_end"/></bpmn:subProcess>'))
        return bf.linear("mg_inner", inner, bf.script("after", after))

    bf.deploy(version("marked = 1"))
    instance = runtime.start("mg_inner", "MG-IN")
    bf.deploy(version("marked = 2"))
    assert migration.assess(bf.reload(instance)).compatible
    migration.migrate(instance.id, actor="root")
    assert db.session.get(Wakeup, instance.id).due_at == START + timedelta(hours=1)
    clock.advance(timedelta(hours=2))
    runtime.wake(instance.id)
    assert bf.reload(instance).status == "completed"
    assert bf.final_data(instance)["marked"] == 2
