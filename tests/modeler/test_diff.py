"""app.modeler.diff: the elements one BPMN document adds, removes and changes against another, and what
changed in each; where a shape is drawn, ids of parts and the layout of the file change nothing."""

import re
from pathlib import Path

import pytest

from app.modeler import diff
from app.workflow.errors import DeploymentRefused

BASE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="shop_definitions" targetNamespace="http://t">
  <bpmn:message id="msg_paid" name="payment_received"/>
  <bpmn:process id="shop" name="Shop" isExecutable="true">
    <bpmn:laneSet id="shop_lanes">
      <bpmn:lane id="lane_desk" name="order_desk">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_credit" name="credit">
        <bpmn:flowNodeRef>gw</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="prepare" name="Prepare"><bpmn:script>marker = 1
if marker:
    marker = 2</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="review" name="Review">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="review_order"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="late" name="Late" attachedToRef="review" cancelActivity="false">
      <bpmn:timerEventDefinition id="late_timer">
        <bpmn:timeDuration>"PT4H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:exclusiveGateway id="gw" name="Approved?" default="f_no"/>
    <bpmn:serviceTask id="notify" name="Notify">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="confirm_order" resultVariable="confirmation">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="order_number" type="str" value="order_number"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:receiveTask id="wait_paid" name="Await payment" messageRef="msg_paid"/>
    <bpmn:dataObject id="notes_data"/>
    <bpmn:dataObjectReference id="notes" name="Notes" dataObjectRef="notes_data"/>
    <bpmn:endEvent id="end"/>
    <bpmn:endEvent id="late_end"/>
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="prepare"/>
    <bpmn:sequenceFlow id="f_prepare" sourceRef="prepare" targetRef="review"/>
    <bpmn:sequenceFlow id="f_review" sourceRef="review" targetRef="gw"/>
    <bpmn:sequenceFlow id="f_yes" name="approve" sourceRef="gw" targetRef="notify">
      <bpmn:conditionExpression>approved</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" name="reject" sourceRef="gw" targetRef="end"/>
    <bpmn:sequenceFlow id="f_notify" sourceRef="notify" targetRef="wait_paid"/>
    <bpmn:sequenceFlow id="f_paid" sourceRef="wait_paid" targetRef="end"/>
    <bpmn:sequenceFlow id="f_late" sourceRef="late" targetRef="late_end"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="shop_diagram">
    <bpmndi:BPMNPlane id="shop_plane" bpmnElement="shop">
      <bpmndi:BPMNShape id="review_di" bpmnElement="review">
        <dc:Bounds x="300" y="80" width="100" height="80"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f_review_di" bpmnElement="f_review">
        <di:waypoint x="400" y="120"/><di:waypoint x="450" y="120"/>
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def edit(*replacements: tuple[str, str]) -> str:
    text = BASE
    for old, new in replacements:
        assert text.count(old) == 1, f"not exactly once: {old}"
        text = text.replace(old, new)
    return text


def changes(other: str) -> dict[str, tuple[str, ...]]:
    found = diff.compare(BASE, other)
    assert found.added == [] and found.removed == []
    return {change.id: change.what for change in found.changed}


def test_the_same_document_has_no_differences():
    assert diff.compare(BASE, BASE).empty


@pytest.mark.parametrize("other", [
    pytest.param(edit(('x="300" y="80"', 'x="520" y="240"'), ('<di:waypoint x="400" y="120"/>',
                                                              '<di:waypoint x="420" y="140"/>')), id="shape-moved"),
    pytest.param(edit(('</bpmndi:BPMNPlane>', '<bpmndi:BPMNShape id="gw_di" bpmnElement="gw">'
                                              '<dc:Bounds x="1" y="1" width="50" height="50"/></bpmndi:BPMNShape>'
                                              '</bpmndi:BPMNPlane>')), id="shape-drawn"),
    pytest.param(edit(('id="late_timer"', 'id="TimerEventDefinition_0x1y2z"')), id="part-renumbered"),
    pytest.param(edit(("<bpmn:conditionExpression>", '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">')),
                 id="expression-typed"),
    pytest.param(edit(('<bpmn:userTask id="review" name="Review">',
                       '<bpmn:userTask id="review" name="Review"><bpmn:incoming>f_prepare</bpmn:incoming>'
                       '<bpmn:outgoing>f_review</bpmn:outgoing>')), id="incoming-outgoing-written-out"),
    pytest.param(edit(("<bpmn:flowNodeRef>start</bpmn:flowNodeRef>\n        <bpmn:flowNodeRef>review</",
                       "<bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>start</")),
                 id="lane-refs-reordered"),
    pytest.param(re.sub(r"\n +(?=<)", "\n", BASE).replace("\n", "\r\n"), id="file-reformatted"),
    pytest.param(edit(('<bpmn:process id="shop"', '<!-- a note -->\n  <bpmn:process id="shop"')), id="comment"),
])
def test_what_does_not_change_the_model(other):
    assert diff.compare(BASE, other).empty


@pytest.mark.parametrize(("other", "expected"), [
    pytest.param(edit(('name="Review"', 'name="Review the order"')), {"review": ("name",)}, id="name"),
    pytest.param(edit(("approved</bpmn:condition", "approved and total &lt; 1000</bpmn:condition")),
                 {"f_yes": ("condition",)}, id="condition"),
    pytest.param(edit(("    marker = 2", "    marker = 3")), {"prepare": ("script",)}, id="script"),
    pytest.param(edit(("    marker = 2", "marker = 2")), {"prepare": ("script",)}, id="script-indentation"),
    pytest.param(edit(('"PT4H"', '"PT8H"')), {"late": ("timer",)}, id="timer"),
    pytest.param(edit(('cancelActivity="false"', 'cancelActivity="true"')), {"late": ("cancelActivity",)},
                 id="interrupting"),
    pytest.param(edit(('value="order_number"', 'value="order_number.upper()"')),
                 {"notify": ("extensionElements",)}, id="operation-parameter"),
    pytest.param(edit(('value="review_order"', 'value="check_goods"')), {"review": ("extensionElements",)},
                 id="form-key"),
    pytest.param(edit(('name="payment_received"', 'name="payment_failed"')), {"msg_paid": ("name",)},
                 id="message"),
    pytest.param(edit(('default="f_no"', 'default="f_yes"')), {"gw": ("default",)}, id="default-flow"),
    pytest.param(edit(('dataObjectRef="notes_data"', 'dataObjectRef="notes_data" isCollection="true"')),
                 {"notes": ("isCollection",)}, id="data-object"),
    pytest.param(edit(('<bpmn:userTask id="review" name="Review">', '<bpmn:manualTask id="review" name="Review">'),
                      ("</bpmn:userTask>", "</bpmn:manualTask>")), {"review": ("type",)}, id="task-type"),
    pytest.param(edit(('<bpmn:timerEventDefinition id="late_timer">\n        <bpmn:timeDuration>"PT4H"'
                       "</bpmn:timeDuration>\n      </bpmn:timerEventDefinition>",
                       '<bpmn:messageEventDefinition messageRef="msg_paid"/>')), {"late": ("message", "timer")},
                 id="timer-becomes-message"),
    pytest.param(edit(('<bpmn:userTask id="review" name="Review">',
                       '<bpmn:userTask id="review" name="Review">'
                       "<bpmn:documentation>Look closely</bpmn:documentation>")),
                 {"review": ("documentation",)}, id="documentation"),
    # reconnecting a flow changes the flow and both ends it now and then met
    pytest.param(edit(('id="f_no" name="reject" sourceRef="gw" targetRef="end"',
                       'id="f_no" name="reject" sourceRef="gw" targetRef="late_end"')),
                 {"f_no": ("targetRef",), "end": ("incoming",), "late_end": ("incoming",)}, id="reconnected"),
    # moving a task to another lane changes both lanes and the task
    pytest.param(edit(("        <bpmn:flowNodeRef>review</bpmn:flowNodeRef>\n", ""),
                      ("<bpmn:flowNodeRef>gw</bpmn:flowNodeRef>",
                       "<bpmn:flowNodeRef>gw</bpmn:flowNodeRef><bpmn:flowNodeRef>review</bpmn:flowNodeRef>")),
                 {"lane_desk": ("flowNodeRef",), "lane_credit": ("flowNodeRef",), "review": ("lane",)},
                 id="lane-membership"),
    pytest.param(edit(('name="Review">', 'name="Look">'), ('value="review_order"', 'value="check_goods"'),
                      ('<bpmn:userTask id="review"', '<bpmn:manualTask id="review"'),
                      ("</bpmn:userTask>", "</bpmn:manualTask>")),
                 {"review": ("type", "name", "extensionElements")}, id="several-at-once"),
])
def test_what_changes_an_element(other, expected):
    assert changes(other) == expected


def test_an_added_task_and_its_flows():
    other = edit(
        ('<bpmn:sequenceFlow id="f_notify" sourceRef="notify" targetRef="wait_paid"/>',
         '<bpmn:sequenceFlow id="f_notify" sourceRef="notify" targetRef="log"/>'
         '<bpmn:scriptTask id="log" name="Log it"><bpmn:script>logged = True</bpmn:script></bpmn:scriptTask>'
         '<bpmn:sequenceFlow id="f_log" sourceRef="log" targetRef="wait_paid"/>'),
    )
    found = diff.compare(BASE, other)
    assert found.added == [diff.Element("log", "Log it", "scriptTask"), diff.Element("f_log", "", "sequenceFlow")]
    assert found.removed == []
    assert {c.id: c.what for c in found.changed} == {"wait_paid": ("incoming",), "f_notify": ("targetRef",)}

    back = diff.compare(other, BASE)  # the other way round the same elements are removed
    assert [e.id for e in back.removed] == ["log", "f_log"] and back.added == []


def test_removed_boundary_event_and_lane():
    other = edit(
        ('<bpmn:lane id="lane_credit" name="credit">\n        <bpmn:flowNodeRef>gw</bpmn:flowNodeRef>\n'
         "      </bpmn:lane>", ""),
        ('<bpmn:boundaryEvent id="late" name="Late" attachedToRef="review" cancelActivity="false">\n'
         '      <bpmn:timerEventDefinition id="late_timer">\n        <bpmn:timeDuration>"PT4H"</bpmn:timeDuration>\n'
         "      </bpmn:timerEventDefinition>\n    </bpmn:boundaryEvent>", ""),
        ('<bpmn:sequenceFlow id="f_late" sourceRef="late" targetRef="late_end"/>', ""),
    )
    found = diff.compare(BASE, other)
    assert [(e.id, e.kind) for e in found.removed] == [("lane_credit", "lane"), ("late", "boundaryEvent"),
                                                        ("f_late", "sequenceFlow")]
    # the gateway no longer sits in a lane; the end of the removed flow lost its way in
    assert {c.id: c.what for c in found.changed} == {"gw": ("lane",), "late_end": ("incoming",)}


def test_a_process_renamed_and_a_participant():
    assert changes(edit(('name="Shop" isExecutable', 'name="Web shop" isExecutable'))) == {"shop": ("name",)}


def test_the_answer_as_json():
    other = edit(('name="Review"', 'name="Check"'), ('<bpmn:endEvent id="late_end"/>', ""),
                 ('<bpmn:sequenceFlow id="f_late" sourceRef="late" targetRef="late_end"/>', ""),
                 ('<bpmn:dataObject id="notes_data"/>', '<bpmn:dataObject id="notes_data"/><bpmn:textAnnotation '
                                                        'id="note"><bpmn:text>New</bpmn:text></bpmn:textAnnotation>'))
    assert diff.compare(BASE, other).as_dict() == {
        "added": [{"id": "note", "name": "", "kind": "textAnnotation"}],
        "removed": [{"id": "late_end", "name": "", "kind": "endEvent"},
                    {"id": "f_late", "name": "", "kind": "sequenceFlow"}],
        "changed": [{"id": "review", "name": "Check", "kind": "userTask", "what": ["name"]},
                    {"id": "late", "name": "Late", "kind": "boundaryEvent", "what": ["outgoing"]}],
    }


def test_spiffworkflow_ids_are_not_elements():
    """The operator of a service task carries the operation's name as its id: it is the task's setting."""
    found = diff.compare(BASE, edit(('Operator id="confirm_order"', 'Operator id="reject_order"')))
    assert found.added == [] and found.removed == []
    assert [(c.id, c.what) for c in found.changed] == [("notify", ("extensionElements",))]


def test_the_shipped_order_process_moved_and_renamed():
    shipped = (Path(__file__).parents[2] / "workflows" / "order_process.bpmn").read_text(encoding="utf-8")
    shape = '<bpmndi:BPMNShape id="review_order_di" bpmnElement="review_order">\n        <dc:Bounds x="'
    moved = shipped.replace(shape, f"{shape}9")
    assert moved != shipped
    assert diff.compare(shipped, moved).empty
    renamed = moved.replace('name="Review order"', 'name="Review the order"')
    assert [(c.id, c.what) for c in diff.compare(shipped, renamed).changed] == [("review_order", ("name",))]


@pytest.mark.parametrize("broken", [
    "<bpmn:definitions",
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
])
def test_an_unreadable_document_is_refused(broken):
    with pytest.raises(DeploymentRefused):
        diff.compare(BASE, broken)
