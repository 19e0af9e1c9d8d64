"""Read-only views of instances for pages: where an instance stands (by BPMN element id, for drawing
it), the open tasks and the audit trail of a business key, and the names of a definition's elements."""

from collections.abc import Iterator
from functools import lru_cache

from lxml import etree
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from sqlalchemy import select

from app.extensions import db
from app.workflow import definitions
from app.workflow.models import HumanTask, InstanceEvent, ProcessDefinition, ProcessInstance
from app.workflow.projection import OPEN_STATES

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# A token stands here: a person's task, a task running or stopped by an error, an event or join waiting.
CURRENT_STATES = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR
XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _top_level_tasks(workflow) -> Iterator:
    """Tasks of the instance's own process (not of processes it called) that belong to a BPMN element."""
    for task in workflow.get_tasks(skip_subprocesses=True):
        if task.workflow is workflow and getattr(task.task_spec, "bpmn_id", None):
            yield task


def _element_parent(task):
    """The nearest ancestor that is a BPMN element (skipping the engine's own split/join tasks)."""
    parent = task.parent
    while parent is not None and not getattr(parent.task_spec, "bpmn_id", None):
        parent = parent.parent
    return parent


def _interrupted(task) -> bool:
    """Reached, then cancelled by an interrupting boundary event (or by cancelling the instance): the
    flow into it was taken, though the task counts as neither done nor current."""
    return task.state == TaskState.CANCELLED and isinstance(task.parent.task_spec, BoundaryEventSplit)


@lru_cache(maxsize=32)
def _flows(bpmn_xml: str, process_key: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """Sequence flow ids by (source, target) in the process; keyed by the XML, which never changes
    for a deployed version."""
    root = etree.fromstring(bpmn_xml.encode(), XML_PARSER)
    flows: dict[tuple[str, str], tuple[str, ...]] = {}
    for process in root.iterfind(f"{{{BPMN_NS}}}process"):
        if process.get("id") != process_key:
            continue
        for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            pair = (flow.get("sourceRef"), flow.get("targetRef"))
            flows[pair] = (*flows.get(pair, ()), flow.get("id"))
    return flows


def positions(instance: ProcessInstance) -> dict[str, list[str]]:
    """BPMN element ids of the instance's process: `completed` (done at least once and not standing
    there now), `current` (where a token stands: an open task, a waiting event, a failed task) and
    `flows` (sequence flows a token has passed, also into a task interrupted later)."""
    return workflow_positions(definitions.restore(instance, None), instance.definition.bpmn_xml, instance.process_key)


def workflow_positions(workflow, bpmn_xml: str, process_key: str) -> dict[str, list[str]]:
    """positions() of a workflow in memory (a draft being tried) drawn on this BPMN."""
    completed: set[str] = set()
    current: set[str] = set()
    passed: set[tuple[str, str]] = set()
    for task in _top_level_tasks(workflow):
        element = task.task_spec.bpmn_id
        if task.state == TaskState.COMPLETED:
            completed.add(element)
        elif task.has_state(CURRENT_STATES):
            current.add(element)
        elif not _interrupted(task):
            continue  # predicted, not reached, or cancelled before it was reached
        parent = _element_parent(task)
        if parent is not None and parent.state == TaskState.COMPLETED:
            passed.add((parent.task_spec.bpmn_id, element))
    flows = _flows(bpmn_xml, process_key)
    return {
        "completed": sorted(completed - current),
        "current": sorted(current),
        "flows": sorted(flow for pair in passed for flow in flows.get(pair, ())),
    }


def instances_of(business_key: str) -> list[ProcessInstance]:
    """Every instance run for a business key (an order number), oldest first."""
    return list(db.session.scalars(
        select(ProcessInstance).where(ProcessInstance.business_key == business_key).order_by(ProcessInstance.id)
    ))


def open_tasks(business_key: str) -> list[HumanTask]:
    return list(db.session.scalars(
        select(HumanTask)
        .where(HumanTask.business_key == business_key, HumanTask.state.in_(OPEN_STATES))
        .order_by(HumanTask.id)
    ))


def timeline(business_key: str) -> list[InstanceEvent]:
    """The audit rows of every instance of the business key, in the order they happened."""
    return list(db.session.scalars(
        select(InstanceEvent)
        .join(ProcessInstance, ProcessInstance.id == InstanceEvent.instance_id)
        .where(ProcessInstance.business_key == business_key)
        .order_by(InstanceEvent.at, InstanceEvent.id)
    ))


@lru_cache(maxsize=32)
def _names(bpmn_xml: str) -> dict[str, str]:
    root = etree.fromstring(bpmn_xml.encode(), XML_PARSER)
    return {
        element.get("id"): element.get("name")
        for process in root.iterfind(f"{{{BPMN_NS}}}process")
        for element in process.iter()
        if isinstance(element.tag, str) and element.get("id") and element.get("name")
    }


def element_names(definition: ProcessDefinition) -> dict[str, str]:
    """Element id → name, for showing 'Review order' rather than 'review_order'."""
    return _names(definition.bpmn_xml)
