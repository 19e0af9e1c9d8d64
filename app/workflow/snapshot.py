"""A read-only look inside one instance, for the people who watch and repair it: the data it carries
now, the elements an error stopped and the messages it would take. The workflow is restored from
what the database holds and never saved."""

from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as AnyMessage
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition

from app.workflow import definitions, engine, runtime
from app.workflow.inspect import BPMN_NS, CURRENT_STATES, XML_PARSER
from app.workflow.models import ProcessInstance
from app.workflow.sandbox import SandboxScriptEngine


@dataclass
class Snapshot:
    data: dict = field(default_factory=dict)  # what the instance carries now, by variable name
    errored: list[str] = field(default_factory=list)  # BPMN ids of the elements stopped by an error
    messages: list[str] = field(default_factory=list)  # message names it would take now


def restore(instance: ProcessInstance):
    """The instance's workflow with a sandbox engine, as runtime restores it; the caller never saves it."""
    return definitions.restore(instance, SandboxScriptEngine(runtime.operations()))


def take(instance: ProcessInstance, workflow=None) -> Snapshot:
    workflow = workflow if workflow is not None else restore(instance)
    return Snapshot(
        data=current_data(workflow),
        errored=errored_elements(instance, workflow),
        messages=waiting_messages(workflow) if instance.status in runtime.ACTIVE else [],
    )


def current_data(workflow) -> dict:
    """The data where the instance stands (its open, waiting or failed tasks, newest last, merged);
    once nothing stands anywhere, the data of the last task done."""
    standing = sorted(workflow.get_tasks(state=CURRENT_STATES), key=lambda t: t.last_state_change)
    if standing:
        data: dict = {}
        for task in standing:
            # A join that waits for other branches has not taken its data yet: the task before it holds it.
            if task.parent is not None:
                data.update(task.parent.data)
            data.update(task.data)
        return data
    if workflow.is_completed() and workflow.data:
        return dict(workflow.data)
    done = [t for t in workflow.get_tasks(state=TaskState.ANY_MASK) if t.state == TaskState.COMPLETED]
    return dict(max(done, key=lambda t: t.last_state_change).data) if done else {}


@lru_cache(maxsize=32)
def _element_ids(bpmn_xml: str, process_key: str) -> frozenset[str]:
    """Every element id drawn in the process's own diagram (embedded subprocesses included)."""
    root = etree.fromstring(bpmn_xml.encode(), XML_PARSER)
    return frozenset(
        element.get("id")
        for process in root.iterfind(f"{{{BPMN_NS}}}process") if process.get("id") == process_key
        for element in process.iter() if isinstance(element.tag, str) and element.get("id")
    )


def _drawn(task, drawn: frozenset[str]) -> str | None:
    """The task's element, or, for a task inside a called process, the call activity that runs it."""
    while task is not None:
        element = getattr(task.task_spec, "bpmn_id", None)
        if element in drawn:
            return element
        owner = task.workflow
        parent_id = getattr(owner, "parent_task_id", None)
        task = owner.top_workflow.get_task_from_id(parent_id) if parent_id is not None else None
    return None


def errored_elements(instance: ProcessInstance, workflow) -> list[str]:
    """The elements an error stopped: tasks in ERROR, and the one the error names (a timer that failed
    while it was being reached is left WAITING or FUTURE, not in ERROR)."""
    if instance.status != "error":
        return []
    failed = list(workflow.get_tasks(state=TaskState.ERROR))
    named = engine.find_task(workflow, (instance.error or {}).get("task_id"))
    if named is not None:
        failed.append(named)
    drawn = _element_ids(instance.definition.bpmn_xml, instance.process_key)
    elements = {_drawn(task, drawn) for task in failed}
    element_id = (instance.error or {}).get("element_id")
    if not elements - {None} and element_id in drawn:
        elements.add(element_id)
    return sorted(elements - {None})


def waiting_messages(workflow) -> list[str]:
    """Names of the messages the workflow would take now: message catch events, receive tasks and
    boundary message events that wait, and the message starts of its event subprocesses."""
    names = {
        task.task_spec.event_definition.name
        for task in workflow.get_tasks(state=TaskState.WAITING)
        if isinstance(getattr(task.task_spec, "event_definition", None), AnyMessage)
    }
    for trigger in workflow.spec.start.trigger_specs:
        spec = workflow.subprocess_specs.get(trigger)
        if spec is not None:
            names.update(start.event_definition.name for start in spec.bpmn_start_events
                         if isinstance(start.event_definition, AnyMessage))
    # Only what the runtime would deliver: the same test it makes before sending.
    return sorted(name for name in names
                  if engine.catches(workflow, BpmnEvent(MessageEventDefinition(name), payload={})))
