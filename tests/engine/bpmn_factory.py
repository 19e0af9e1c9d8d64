"""Small BPMN documents for the engine tests, built from templates.

Nodes carry no <bpmn:incoming>/<bpmn:outgoing>: the parser follows sequenceFlow sourceRef/targetRef,
so a test only lists nodes and flows. Code and expressions are XML-escaped here, never by the caller.
"""

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import pytest
from sqlalchemy import select

from app.extensions import db
from app.workflow import DeploymentRefused, definitions, deployment, runtime
from app.workflow.models import InstanceEvent, ProcessInstance

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
    ' id="{id}_definitions" targetNamespace="http://orderly.example/tests">\n'
)


@dataclass(frozen=True)
class Node:
    id: str
    xml: str
    lane: str | None = None  # only user tasks sit in lanes; the checker looks at nothing else


def _name(name: str) -> str:
    return f" name={quoteattr(name)}" if name else ""


def start(node_id: str = "start") -> Node:
    return Node(node_id, f'<bpmn:startEvent id="{node_id}"/>')


def end(node_id: str = "end") -> Node:
    return Node(node_id, f'<bpmn:endEvent id="{node_id}"/>')


def script(node_id: str, code: str, name: str = "") -> Node:
    return Node(node_id, f'<bpmn:scriptTask id="{node_id}"{_name(name)}><bpmn:script>{escape(code)}</bpmn:script>'
                         "</bpmn:scriptTask>")


def service(node_id: str, operation: str, result: str = "result", **params: str) -> Node:
    """A service task calling a registered operation; each parameter value is an expression."""
    parameters = "".join(
        f'<spiffworkflow:parameter id="{key}" type="any" value={quoteattr(value)}/>' for key, value in params.items()
    )
    return Node(node_id, (
        f'<bpmn:serviceTask id="{node_id}"><bpmn:extensionElements>'
        f'<spiffworkflow:serviceTaskOperator id="{operation}" resultVariable="{result}">'
        f"<spiffworkflow:parameters>{parameters}</spiffworkflow:parameters>"
        "</spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>"
    ))


def user(node_id: str, lane: str | None = "order_desk", form_key: str | None = None, name: str = "") -> Node:
    extensions = ""
    if form_key:
        extensions = (
            "<bpmn:extensionElements><spiffworkflow:properties>"
            f'<spiffworkflow:property name="formKey" value="{form_key}"/>'
            "</spiffworkflow:properties></bpmn:extensionElements>"
        )
    return Node(node_id, f'<bpmn:userTask id="{node_id}"{_name(name or node_id)}>{extensions}</bpmn:userTask>', lane)


def call(node_id: str, called: str) -> Node:
    return Node(node_id, f'<bpmn:callActivity id="{node_id}" calledElement="{called}"/>')


def gateway(node_id: str, default: str | None = None) -> Node:
    default_attr = f' default="{default}"' if default else ""
    return Node(node_id, f'<bpmn:exclusiveGateway id="{node_id}"{default_attr}/>')


def parallel(node_id: str) -> Node:
    return Node(node_id, f'<bpmn:parallelGateway id="{node_id}"/>')


def _timer(kind: str, expression: str) -> str:
    return f"<bpmn:timerEventDefinition><bpmn:{kind}>{escape(expression)}</bpmn:{kind}></bpmn:timerEventDefinition>"


def boundary_timer(node_id: str, attached_to: str, expression: str, *, kind: str = "timeDuration",
                   interrupting: bool = False) -> Node:
    return Node(node_id, (
        f'<bpmn:boundaryEvent id="{node_id}" attachedToRef="{attached_to}"'
        f' cancelActivity="{"true" if interrupting else "false"}">{_timer(kind, expression)}</bpmn:boundaryEvent>'
    ))


def timer(node_id: str, expression: str, kind: str = "timeDuration") -> Node:
    """An intermediate timer catch event."""
    return Node(node_id, f'<bpmn:intermediateCatchEvent id="{node_id}">{_timer(kind, expression)}'
                         "</bpmn:intermediateCatchEvent>")


def flow(source: str, target: str, condition: str | None = None, flow_id: str | None = None) -> str:
    flow_id = flow_id or f"f_{source}_{target}"
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>'
    return (f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f"<bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression></bpmn:sequenceFlow>")


def process(process_id: str, nodes: list[Node], flows: list[str], name: str = "") -> str:
    lanes: dict[str, list[str]] = {}
    for node in nodes:
        if node.lane is not None:
            lanes.setdefault(node.lane, []).append(node.id)
    lane_set = ""
    if lanes:
        lane_set = f'<bpmn:laneSet id="{process_id}_lanes">' + "".join(
            f'<bpmn:lane id="{process_id}_lane_{lane}" name="{lane}">'
            + "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs)
            + "</bpmn:lane>"
            for lane, refs in lanes.items()
        ) + "</bpmn:laneSet>"
    body = "\n".join([lane_set, *(n.xml for n in nodes), *flows])
    return f'<bpmn:process id="{process_id}"{_name(name or process_id)} isExecutable="true">\n{body}\n</bpmn:process>\n'


def document(*processes: str, doc_id: str = "tests") -> str:
    return HEADER.format(id=doc_id) + "".join(processes) + "</bpmn:definitions>\n"


def linear_process(process_id: str, *nodes: Node, extra: tuple[Node, ...] = (), extra_flows: tuple[str, ...] = (),
                   name: str = "") -> str:
    """start → nodes… → end, plus any extra nodes (e.g. boundary events) and flows."""
    chain = [start(), *nodes, end()]
    flows = [flow(a.id, b.id) for a, b in zip(chain, chain[1:], strict=False)]
    return process(process_id, [*chain, *extra], [*flows, *extra_flows], name)


def linear(process_id: str, *nodes: Node, **kwargs) -> str:
    """A whole document holding one linear process."""
    return document(linear_process(process_id, *nodes, **kwargs), doc_id=process_id)


def decision(process_id: str, condition: str, before: tuple[Node, ...] = ()) -> str:
    """start → before… → gateway `decide`: `condition` leads to script `took_yes`, the default flow to
    `took_no`; each sets `branch` and ends."""
    chain = [start(), *before]
    nodes = [*chain, gateway("decide", default="f_no"), script("took_yes", "branch = 'yes'"),
             script("took_no", "branch = 'no'"), end("yes"), end("no")]
    flows = [flow(a.id, b.id) for a, b in zip(chain, chain[1:], strict=False)]
    flows += [
        flow(chain[-1].id, "decide"),
        flow("decide", "took_yes", condition, flow_id="f_yes"),
        flow("decide", "took_no", flow_id="f_no"),
        flow("took_yes", "yes"),
        flow("took_no", "no"),
    ]
    return document(process(process_id, nodes, flows), doc_id=process_id)


def loop(process_id: str, then: tuple[Node, ...] = ()) -> str:
    """start → init → step (i += 1) → more? → step while i < rounds, else → then… → end.
    Every round adds two tasks to the depth of the task tree, so `rounds` > 500 goes past the
    library's depth-1000 iterator limit."""
    chain = [gateway("more", default="f_done"), *then, end()]
    step = script("step", "i += 1\nif i % 100 == 0:\n    trail.append(i)")
    nodes = [start(), script("init", "i = 0\ntrail = []"), step, *chain]
    flows = [
        flow("start", "init"),
        flow("init", "step"),
        flow("step", "more"),
        flow("more", "step", "i < rounds", flow_id="f_again"),
        flow("more", chain[1].id, flow_id="f_done"),
        *(flow(a.id, b.id) for a, b in zip(chain[1:], chain[2:], strict=False)),
    ]
    return document(process(process_id, nodes, flows), doc_id=process_id)


# --- running them -------------------------------------------------------------------------------

def deploy(xml: str | bytes, filename: str = "sb_test.bpmn"):
    return deployment.deploy(xml, filename, by="tests")


def refused(xml: str | bytes, filename: str = "sb_test.bpmn") -> DeploymentRefused:
    with pytest.raises(DeploymentRefused) as caught:
        deployment.deploy(xml, filename, by="tests")
    return caught.value


def problem_for(error: DeploymentRefused, element_id: str):
    """The first problem naming this element; fails, listing every problem, if none does."""
    found = [p for p in error.problems if p.element_id == element_id]
    assert found, f"no problem names {element_id!r}: {[str(p) for p in error.problems]}"
    return found[0]


def reload(instance: ProcessInstance) -> ProcessInstance:
    db.session.expire_all()
    return db.session.get(ProcessInstance, instance.id)


def final_data(instance: ProcessInstance) -> dict:
    """The data of a completed instance, restored from what the database holds."""
    workflow = definitions.restore(reload(instance), runtime._script_engine())
    assert workflow.is_completed()
    return workflow.data


def events(instance_id: int, kind: str | None = None) -> list[InstanceEvent]:
    query = select(InstanceEvent).where(InstanceEvent.instance_id == instance_id)
    if kind is not None:
        query = query.where(InstanceEvent.kind == kind)
    return list(db.session.scalars(query.order_by(InstanceEvent.id)))
