"""What an instance saves: its tasks and data, with the process definition named, not embedded; states
saved with the definition embedded (before it was named) still load, run and save."""

import gzip
import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.workflow import definitions, engine, runtime
from app.workflow.models import HumanTask, ProcessInstance
from tests.engine import bpmn_factory as bf


def _saved(instance) -> dict:
    return json.loads(gzip.decompress(db.session.get(ProcessInstance, instance.id).state))


def _approve_then_note():
    bf.deploy(bf.linear("st_plain", bf.user("approve", name="Approve"), bf.script("note", "noted = True")))
    return runtime.start("st_plain", "ST-1", {"amount": 3})


def test_a_saved_instance_names_its_definition_instead_of_embedding_it(ctx):
    instance = _approve_then_note()
    saved = _saved(instance)
    assert saved[engine.SPEC_FROM_DEFINITION] == "st_plain"
    assert "spec" not in saved and "subprocess_specs" not in saved
    restored = definitions.restore(db.session.get(ProcessInstance, instance.id), None)
    spec, _called = definitions.specs_for(instance.definition)
    assert restored.spec is spec  # the shared parsed version, not a copy rebuilt from the save
    assert restored.data == {} and restored.task_tree.data == {"amount": 3}


def test_a_state_with_the_definition_embedded_still_loads_runs_and_saves(ctx):
    instance = _approve_then_note()
    workflow = definitions.restore(instance, runtime._script_engine())
    workflow.spec_from_definition = False  # as every instance was saved before: the spec inside
    row = db.session.get(ProcessInstance, instance.id)
    row.state = engine.dump(workflow)
    db.session.commit()
    assert "spec" in _saved(instance)
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id))
    done = runtime.complete_task(instance.id, task.spiff_task_id, {})
    assert done.status == "completed" and bf.final_data(done)["noted"] is True


def test_a_state_naming_another_process_is_refused_when_loaded(ctx):
    instance = _approve_then_note()
    bf.deploy(bf.linear("st_other", bf.script("other", "x = 1")))
    other = definitions.latest("st_other")
    with pytest.raises(ValueError, match="runs 'st_plain', not 'st_other'"):
        engine.load(instance.state, None, lambda: definitions.specs_for(other))
    with pytest.raises(ValueError, match="load it with its specs"):
        engine.load(instance.state, None)


def test_a_queued_instance_saves_only_its_data_and_is_built_when_first_loaded(ctx):
    bf.deploy(bf.linear("st_plain", bf.user("approve", name="Approve"), bf.script("note", "noted = amount * 2")))
    data = {"amount": Decimal("1.25"), "due": date(2026, 12, 1)}
    with runtime.unit_of_work():
        instance_id = runtime.enqueue("st_plain", "ST-Q", data)
    saved = _saved(db.session.get(ProcessInstance, instance_id))
    assert saved[engine.UNBUILT] is True and saved[engine.SPEC_FROM_DEFINITION] == "st_plain"
    assert "tasks" not in saved  # no task tree until it runs
    built = definitions.restore(db.session.get(ProcessInstance, instance_id), None)
    assert built.task_tree.data == data and not built.is_completed()
    assert [t.task_spec.name for t in built.get_tasks()] == \
        [t.task_spec.name for t in runtime._new_workflow(definitions.latest("st_plain"), data).get_tasks()]
    # Its first run builds it and saves the whole tree; then it runs to the end as a started one does.
    [started] = runtime.start_queued("ST-Q")
    assert started.status == "running" and engine.UNBUILT not in _saved(started)
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id))
    done = runtime.complete_task(instance_id, task.spiff_task_id, {})
    assert done.status == "completed" and bf.final_data(done)["noted"] == Decimal("2.50")
