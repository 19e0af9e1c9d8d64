"""Long loops: the library's task iterator stops at depth 1000, so a loop silently stalls after a few
hundred rounds; OrderlyWorkflow (engine.MAX_TREE_DEPTH) lets it run, and survives a save and restore."""

import time

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskIterator
from sqlalchemy import select

from app.extensions import db
from app.workflow import definitions, engine, runtime
from app.workflow.models import HumanTask
from app.workflow.sandbox import SandboxScriptEngine
from tests.engine import bpmn_factory as bf

# Two tasks per round: 600 rounds put the tree 1,200 deep, past the library's 1,000.
ROUNDS = 600


def test_long_gateway_loop_runs_to_the_end_in_one_start(ctx):
    bf.deploy(bf.loop("sb_loop"))
    began = time.perf_counter()
    instance = runtime.start("sb_loop", "SB-LOOP", {"rounds": ROUNDS})
    elapsed = time.perf_counter() - began
    assert bf.reload(instance).status == "completed", instance.error
    data = bf.final_data(instance)  # restored from the row: the deep tree round-trips
    assert data["i"] == ROUNDS
    assert data["trail"] == list(range(100, ROUNDS + 1, 100))
    assert elapsed < 15, f"{ROUNDS} rounds took {elapsed:.1f} s"


def _deep_instance(business_key: str):
    instance = bf.reload(runtime.start("sb_loop_then_work", business_key, {"rounds": ROUNDS}))
    # Not "completed": the library's own depth-1000 completion check would say so with the task open.
    assert instance.status == "running"
    [task] = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).all()
    assert (task.element_id, task.state) == ("after_loop", "open")
    return instance, task


def test_deep_instance_is_saved_restored_and_continued_or_cancelled(ctx):
    """The loop ends at a user task 1,200 tasks deep. Every later step restores the instance from
    the database: only a restored OrderlyWorkflow, iterating past depth 1000, finds that task."""
    bf.deploy(bf.loop("sb_loop_then_work", then=(bf.user("after_loop"), bf.script("wrap_up", "wrapped = i"))))
    finished, task = _deep_instance("SB-DEEP-1")
    assert type(definitions.restore(finished, runtime._script_engine())) is engine.OrderlyWorkflow
    runtime.complete_task(finished.id, task.spiff_task_id, {})
    assert bf.reload(finished).status == "completed"
    assert bf.final_data(finished)["wrapped"] == ROUNDS

    withdrawn, task = _deep_instance("SB-DEEP-2")
    runtime.cancel(withdrawn.id, reason="customer withdrew")
    assert bf.reload(withdrawn).status == "cancelled"
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).state == "cancelled"  # the deep task was reached and withdrawn


def test_the_library_alone_stalls_on_the_same_loop(monkeypatch):
    """What the tests above guard against: with the library's depth of 1000 the loop quietly stops
    part-way, and the workflow even reports itself completed."""
    for iterator in (TaskIterator, BpmnTaskIterator):  # undo engine.py's deeper default for this test
        library_defaults = tuple(1000 if d == engine.MAX_TREE_DEPTH else d for d in iterator.__init__.__defaults__)
        monkeypatch.setattr(iterator.__init__, "__defaults__", library_defaults)
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(bf.loop("sb_loop").encode()), filename="sb_loop.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("sb_loop"), {}, script_engine=SandboxScriptEngine({}))
    workflow.task_tree.data["rounds"] = ROUNDS
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert "i" not in workflow.data  # the end was never reached
    deepest = max(t.data.get("i", 0) for t in workflow.get_tasks(spec_name="step", max_depth=10**6))
    assert deepest < ROUNDS
