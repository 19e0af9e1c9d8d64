"""A failing script stops its instance in `error`, saved and audited; nothing the failed task did
survives it, everything before it does; an admin's retry with fixed data carries on."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.orders.models import Order
from app.workflow import Conflict, register_operation, runtime
from app.workflow.models import HumanTask, Wakeup
from app.workflow.timers import fire_due
from tests.engine import bpmn_factory as bf
from tests.support import simple_order

# Line 1 writes an order through an operation, line 2 fails while `parts` is 0.
SPLIT_SCRIPT = "made = open_account(customer='Inside Ltd')\nshare = total / parts\nsplit_done = True"


def _open_account(customer: str) -> dict:
    return {"number": simple_order(customer).number}


def _customers() -> list[str]:
    db.session.expire_all()
    return sorted(db.session.scalars(select(Order.customer_name)))


def _open_tasks(instance_id: int) -> list[HumanTask]:
    return list(db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
    ))


@pytest.fixture
def failing(ctx):
    """start → fork: (a) user task `side_task`; (b) service `open_before` → script `split` → join → end.
    The service task and the script run in the one unit of work of runtime.start."""
    register_operation(ctx, "open_account", _open_account)
    nodes = [
        bf.start(), bf.parallel("fork"), bf.user("side_task"),
        bf.service("open_before", "open_account", customer="'Before Ltd'"),
        bf.script("split", SPLIT_SCRIPT, name="Split the total"), bf.parallel("join"), bf.end(),
    ]
    flows = [bf.flow(*pair) for pair in [("start", "fork"), ("fork", "side_task"), ("fork", "open_before"),
                                         ("open_before", "split"), ("split", "join"), ("side_task", "join"),
                                         ("join", "end")]]
    bf.deploy(bf.document(bf.process("sb_failing", nodes, flows)))
    return runtime.start("sb_failing", "SB-ERR", {"total": 100, "parts": 0})


def test_script_error_is_recorded_with_task_line_and_message(failing):
    instance = bf.reload(failing)
    assert instance.status == "error"
    error = instance.error
    assert error["element_id"] == "split" and error["element_name"] == "Split the total"
    assert error["line"] == 2 and error["error_line"] == "share = total / parts"
    assert "ZeroDivisionError" in error["message"] and "division by zero" in error["message"]
    [event] = bf.events(instance.id, "error")
    assert (event.element_id, event.actor) == ("split", "engine")
    assert event.detail == error
    # The parallel branch got as far as it could: its user task is in the inbox.
    assert [t.element_id for t in _open_tasks(instance.id)] == ["side_task"]


def test_failed_task_leaves_no_write_and_earlier_tasks_keep_theirs(failing):
    # open_before completed in its own savepoint: its order stays. The script's order, written on
    # line 1 before line 2 failed, went with the script's savepoint.
    assert _customers() == ["Before Ltd"]


def test_instance_in_error_refuses_work_until_retried_then_finishes(failing):
    instance_id = failing.id
    [side] = _open_tasks(instance_id)
    version = bf.reload(failing).lock_version
    with pytest.raises(Conflict, match="stopped by an error"):
        runtime.complete_task(instance_id, side.spiff_task_id, {})
    assert bf.reload(failing).lock_version == version  # the refusal changed nothing

    instance = runtime.retry(instance_id, actor="admin", data={"parts": 4})
    instance = bf.reload(instance)
    assert instance.status == "running" and instance.error is None
    [retried] = bf.events(instance_id, "retried")
    assert retried.actor == "admin"
    assert retried.detail == {"data": {"parts": 4}, "tasks": ["split"]}
    # The script ran again from line 1: one order from it, not two; the service task did not run again.
    assert _customers() == ["Before Ltd", "Inside Ltd"]
    with pytest.raises(Conflict, match="not in error"):
        runtime.retry(instance_id, data={"parts": 5})

    runtime.complete_task(instance_id, side.spiff_task_id, {})
    data = bf.final_data(instance)
    assert bf.reload(instance).status == "completed"
    assert (data["share"], data["split_done"]) == (25, True)
    assert [e.kind for e in bf.events(instance_id)] == [
        "started", "error", "retried", "task_completed", "completed"
    ]


def test_retry_of_an_instance_not_in_error_is_a_conflict(ctx):
    bf.deploy(bf.linear("sb_fine", bf.user("wait_here")))
    instance = runtime.start("sb_fine", "SB-OK")
    with pytest.raises(Conflict, match="not in error"):
        runtime.retry(instance.id, data={"x": 1})
    assert bf.reload(instance).status == "running"
    assert bf.events(instance.id, "retried") == []


def test_gateway_condition_error_then_retry_takes_the_fixed_branch(ctx):
    bf.deploy(bf.decision("sb_gateway_error", "amount > limit"))
    instance = runtime.start("sb_gateway_error", "SB-GW", {"amount": 500})
    instance = bf.reload(instance)
    assert instance.status == "error"
    assert instance.error["element_id"] == "decide"
    assert "name 'limit' is not defined" in instance.error["message"]
    runtime.retry(instance.id, data={"limit": 100})
    assert bf.reload(instance).status == "completed"
    assert bf.final_data(instance)["branch"] == "yes"


def test_name_error_without_a_suggestion_is_recorded(ctx):
    """Python reports some NameErrors (here an UnboundLocalError) in words the engine cannot parse
    for a "did you mean"; recording the error must not fail on that."""
    script = "def count_up():\n    seen = seen + 1\n    return seen\nseen = count_up()"
    bf.deploy(bf.linear("sb_unbound", bf.script("count", script)))
    instance = bf.reload(runtime.start("sb_unbound", "SB-UB"))
    assert instance.status == "error"
    assert instance.error["element_id"] == "count" and instance.error["line"] == 2
    assert "UnboundLocalError" in instance.error["message"]


def _timer_after_service(where: str) -> str:
    before = bf.service("open_before", "open_account", customer="'Before Ltd'")
    after = bf.script("after", "waited = True")
    if where == "intermediate":
        return bf.linear("sb_timer_error", before, bf.timer("wait", "wait_for"), after)
    # An interrupting deadline on a user task: when it fires, the task is withdrawn and `after` runs.
    return bf.linear("sb_timer_error", before, bf.user("work"), extra=(
        bf.boundary_timer("wait", "work", "wait_for", interrupting=True), after, bf.end("timed_out")),
        extra_flows=(bf.flow("wait", "after"), bf.flow("after", "timed_out")))


@pytest.mark.parametrize("where", ["intermediate", "boundary"])
def test_timer_error_keeps_the_completed_task_before_it_and_retry_arms_the_timer(ctx, where):
    """A timer reads its duration from task data when it is reached, which is while the task before
    it completes. That task is done and keeps its write; the timer's retry arms it with the fix."""
    clock.freeze(datetime(2030, 5, 1, 8, 0, tzinfo=UTC))
    register_operation(ctx, "open_account", _open_account)
    bf.deploy(_timer_after_service(where))
    instance = runtime.start("sb_timer_error", "SB-TE", {"wait_for": "an hour"})
    instance = bf.reload(instance)
    assert instance.status == "error"
    assert instance.error["element_id"] == "wait"
    assert "'an hour'" in instance.error["message"]
    assert _customers() == ["Before Ltd"]
    assert db.session.get(Wakeup, instance.id) is None

    runtime.retry(instance.id, data={"wait_for": "PT1H"})
    instance = bf.reload(instance)
    assert instance.status == ("waiting" if where == "intermediate" else "running")
    assert db.session.get(Wakeup, instance.id).due_at == clock.now() + timedelta(hours=1)
    assert bf.events(instance.id, "retried")[0].detail["tasks"] == ["wait"]
    clock.advance(timedelta(hours=1, seconds=1))
    assert fire_due() == 1
    assert bf.reload(instance).status == "completed"
    assert bf.final_data(instance)["waited"] is True
    assert _customers() == ["Before Ltd"]  # open_before never ran again
