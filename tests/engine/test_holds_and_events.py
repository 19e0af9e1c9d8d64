"""Runtime pieces the exception process relies on: holding an instance, releasing it with a message,
event subprocesses that interrupt, the actor recorded for a later four-eyes check, and forms whose
choices and checks depend on the case."""

from datetime import UTC, datetime, timedelta

import pytest
from SpiffWorkflow import TaskState
from sqlalchemy import select

from app import clock, forms
from app.extensions import db
from app.workflow import Conflict, Forbidden, InvalidData, definitions, runtime
from app.workflow.models import HumanTask, Wakeup
from app.workflow.timers import fire_due
from tests.engine import bpmn_factory as bf

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
XMLNS = ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'


def _open(instance) -> list[HumanTask]:
    db.session.expire_all()
    return list(db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                           HumanTask.state.in_(("open", "claimed")))))


def _with_cancel_subprocess(key: str, interrupting: str = "") -> str:
    """work (with a 1-hour reminder) → end, and an event subprocess that a message 'stop' starts."""
    sub = bf.Node("stopped", (
        '<bpmn:subProcess id="stopped" triggeredByEvent="true">'
        f'<bpmn:startEvent id="stop_requested"{interrupting}><bpmn:messageEventDefinition id="stop_def" '
        'messageRef="msg_stop"/></bpmn:startEvent>'
        '<bpmn:scriptTask id="note_stop"><bpmn:script>stopped_here = True</bpmn:script></bpmn:scriptTask>'
        '<bpmn:endEvent id="stop_end"/>'
        '<bpmn:sequenceFlow id="f_s1" sourceRef="stop_requested" targetRef="note_stop"/>'
        '<bpmn:sequenceFlow id="f_s2" sourceRef="note_stop" targetRef="stop_end"/>'
        '</bpmn:subProcess>'))
    xml = bf.linear(key, bf.user("work"), extra=(bf.boundary_timer("remind", "work", '"PT1H"'),
                                                 bf.end("reminded"), sub),
                    extra_flows=(bf.flow("remind", "reminded"),))
    return xml.replace("</bpmn:definitions>", '<bpmn:message id="msg_stop" name="stop"/></bpmn:definitions>')


@pytest.fixture
def frozen(ctx):
    clock.freeze(START)
    yield
    clock.unfreeze()


def test_a_message_event_subprocess_interrupts_everything_else(frozen):
    bf.deploy(_with_cancel_subprocess("ev_sub"))
    instance = runtime.start("ev_sub", "K-1")
    assert runtime.waits_for("K-1", "stop")
    runtime.send_message("K-1", "stop", {})
    done = bf.reload(instance)
    assert done.status == "completed"
    assert _open(instance) == []
    assert db.session.get(Wakeup, instance.id) is None  # the reminder went with the task
    workflow = definitions.restore(done, runtime._script_engine())
    assert [t.state for t in workflow.get_tasks(spec_name="note_stop")] == [TaskState.COMPLETED]
    assert [t.state for t in workflow.get_tasks(spec_name="work")] == [TaskState.CANCELLED]
    assert not runtime.waits_for("K-1", "stop")


def test_a_non_interrupting_event_subprocess_is_refused_at_deployment(ctx):
    error = bf.refused(_with_cancel_subprocess("ev_sub_ni", ' isInterrupting="false"'))
    assert "non-interrupting event subprocess" in bf.problem_for(error, "stop_requested").message


def test_a_held_instance_takes_no_task_and_fires_no_timer_until_released(frozen):
    bf.deploy(bf.linear("held", bf.user("work"), extra=(
        bf.boundary_timer("remind", "work", '"PT1H"'), bf.script("note", "reminded = True"), bf.end("r_end")),
        extra_flows=(bf.flow("remind", "note"), bf.flow("note", "r_end"))))
    instance = runtime.start("held", "H-1")
    task = _open(instance)[0]
    runtime.hold("H-1", "EX-1", actor="tester")
    assert db.session.get(Wakeup, instance.id) is None
    with pytest.raises(Conflict, match="on hold while EX-1"):
        runtime.complete_task(instance.id, task.spiff_task_id, {}, actor="tester")
    clock.advance(timedelta(hours=2))
    assert fire_due() == 0  # due during the hold: waits
    assert [e.kind for e in bf.events(instance.id)][-1] == "held"
    assert runtime.release("H-1", "EX-1", actor="tester") is False
    assert [e.kind for e in bf.events(instance.id, "timer_fired")] == ["timer_fired"]  # fired on release
    runtime.complete_task(instance.id, task.spiff_task_id, {}, actor="tester")
    assert bf.reload(instance).status == "completed"


def test_release_by_another_case_leaves_the_hold(frozen):
    bf.deploy(bf.linear("held2", bf.user("work")))
    instance = runtime.start("held2", "H-2")
    runtime.hold("H-2", "EX-1")
    runtime.release("H-2", "EX-9")
    assert bf.reload(instance).held_by == "EX-1"


def _four_eyes(key: str) -> str:
    record = ('<bpmn:extensionElements><spiffworkflow:properties>'
              '<spiffworkflow:property name="recordActorAs" value="asked_by"/></spiffworkflow:properties>'
              '</bpmn:extensionElements>')
    check = ('<bpmn:extensionElements><spiffworkflow:properties>'
             '<spiffworkflow:property name="differentFrom" value="asked_by"/></spiffworkflow:properties>'
             '</bpmn:extensionElements>')
    return bf.linear(key, bf.Node("ask", f'<bpmn:userTask id="ask" name="Ask">{record}</bpmn:userTask>', "finance"),
                     bf.Node("approve", f'<bpmn:userTask id="approve" name="Approve">{check}</bpmn:userTask>',
                             "finance"))


def test_record_actor_as_feeds_a_later_four_eyes_check(ctx):
    bf.deploy(_four_eyes("eyes"))
    instance = runtime.start("eyes", "E-1")
    runtime.complete_task(instance.id, _open(instance)[0].spiff_task_id, {}, actor="fiona")
    approve = _open(instance)[0]
    with pytest.raises(Forbidden, match="different person"):
        runtime.complete_task(instance.id, approve.spiff_task_id, {}, actor="fiona")
    runtime.complete_task(instance.id, approve.spiff_task_id, {}, actor="fred")
    assert bf.final_data(instance)["asked_by"] == "fiona"


def test_case_dependent_choices_and_checks(ctx, tmp_path, monkeypatch):
    (tmp_path / "pick_one.json").write_text(
        '{"type": "object", "x-orderly-check": "not_seven", "properties": {'
        '"choice": {"type": "string", "x-orderly-choices": "by_key"}, "n": {"type": "integer", "default": 0}},'
        '"required": ["choice"], "additionalProperties": false}')
    monkeypatch.setitem(ctx.config, "FORMS_DIR", str(tmp_path))
    monkeypatch.setitem(forms.CHOICES, "by_key", lambda key: [(f"{key}-a", "A"), (f"{key}-b", "B")])
    monkeypatch.setitem(forms.CHECKS, "not_seven", lambda key, data: {"n": "not 7"} if data["n"] == 7 else {})
    assert forms.clean("pick_one", {"choice": "K1-b"}, business_key="K1") == {"choice": "K1-b", "n": 0}
    with pytest.raises(forms.FormError):
        forms.clean("pick_one", {"choice": "K2-a"}, business_key="K1")
    with pytest.raises(forms.FormError) as refused:
        forms.clean("pick_one", {"choice": "K1-a", "n": 7}, business_key="K1")
    assert refused.value.errors == ["n: not 7"]
    resolved = forms.for_case(forms.load("pick_one"), "K1")
    assert resolved["properties"]["choice"]["oneOf"] == [{"const": "K1-a", "title": "A"},
                                                         {"const": "K1-b", "title": "B"}]


def test_invalid_data_from_a_check_writes_nothing(ctx, tmp_path, monkeypatch):
    (tmp_path / "checked.json").write_text('{"type": "object", "x-orderly-check": "never", "properties": {}}')
    monkeypatch.setitem(ctx.config, "FORMS_DIR", str(tmp_path))
    monkeypatch.setitem(forms.CHECKS, "never", lambda key, data: {"form": f"{key} refused"})
    bf.deploy(bf.linear("checked_p", bf.user("work", form_key="checked")))
    instance = runtime.start("checked_p", "C-1")
    version = bf.reload(instance).lock_version
    with pytest.raises(InvalidData):
        runtime.complete_task(instance.id, _open(instance)[0].spiff_task_id, {}, actor="x")
    assert bf.reload(instance).lock_version == version
