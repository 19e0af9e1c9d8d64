"""SpiffWorkflow glue: our workflow classes, the serializer, and the engine's clock.

Everything here is about the library itself; the rest of app/workflow/ builds on it.
"""

import gzip
import inspect
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskIterator

from app import clock

# The library's task iterator stops silently at depth 1000, so a loop of four tasks stalls after
# ~250 rounds. Reminder and re-review loops can run longer than that; this depth allows ~250,000.
MAX_TREE_DEPTH = 1_000_000


def _deepen_default(iterator_class) -> None:
    init = iterator_class.__init__
    with_defaults = [p for p in inspect.signature(init).parameters.values()
                     if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty]
    init.__defaults__ = tuple(MAX_TREE_DEPTH if p.name == "max_depth" else p.default for p in with_defaults)


# The library also builds iterators itself, with the default depth, where no subclass can reach
# (Workflow.is_completed and cancel, the end join, waiting tasks): past it, a deep instance reports
# itself completed with a task still open, and cancelling it leaves that task open.
for _iterator in (TaskIterator, BpmnTaskIterator):
    _deepen_default(_iterator)


class OrderlySubWorkflow(BpmnSubWorkflow):
    def get_tasks_iterator(self, first_task=None, **kwargs):
        kwargs.setdefault("max_depth", MAX_TREE_DEPTH)
        return super().get_tasks_iterator(first_task, **kwargs)


class OrderlyWorkflow(BpmnWorkflow):
    def get_tasks_iterator(self, first_task=None, **kwargs):
        kwargs.setdefault("max_depth", MAX_TREE_DEPTH)
        return super().get_tasks_iterator(first_task, **kwargs)

    def create_subprocess(self, my_task, spec_name):
        subprocess = OrderlySubWorkflow(
            self.subprocess_specs[spec_name], parent_task_id=my_task.id, top_workflow=self
        )
        self.subprocesses[my_task.id] = subprocess
        return subprocess


# Saved states name their process definition instead of embedding it: the parsed definition is shared
# (definitions.specs_for caches it), so a save neither converts nor stores ~150 KB of spec, and a load
# does not rebuild it. States saved with the spec embedded still load as they are.
SPEC_FROM_DEFINITION = "spec_from_definition"
# A queued instance's state before its first run holds only the data it starts with; it is built when
# first loaded, so that accepting an order does not pay for building and serializing a task tree.
UNBUILT = "unbuilt"


class OrderlyWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow):
        if not getattr(workflow, "spec_from_definition", False):
            return super().to_dict(workflow)
        dct = WorkflowConverter.to_dict(self, workflow)
        dct[SPEC_FROM_DEFINITION] = workflow.spec.name
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        if SPEC_FROM_DEFINITION not in dct:
            return super().from_dict(dct)
        specs = getattr(_local, "specs", None)
        if specs is None:
            raise ValueError("this saved state refers to its process definition; load it with its specs")
        spec, subprocess_specs = specs()
        if spec.name != dct[SPEC_FROM_DEFINITION]:
            raise ValueError(f"the saved state runs '{dct[SPEC_FROM_DEFINITION]}', not '{spec.name}'")
        if dct.get(UNBUILT):
            return new_workflow(spec, subprocess_specs, self.registry.restore(dct["data"]))
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        workflow.spec_from_definition = True
        return workflow


def new_workflow(spec, subprocess_specs, data: dict | None, script_engine=None) -> OrderlyWorkflow:
    """A workflow not yet run, with the data it starts with; saved naming its definition."""
    workflow = OrderlyWorkflow(spec, subprocess_specs, script_engine=script_engine)
    workflow.spec_from_definition = True
    workflow.task_tree.data.update(data or {})
    return workflow


def _serializer_config() -> dict:
    config = dict(SPIFF_CONFIG)
    config.pop(BpmnWorkflow)
    config[OrderlyWorkflow] = OrderlyWorkflowConverter
    config[OrderlySubWorkflow] = config.pop(BpmnSubWorkflow)
    return config


def _build_serializer() -> BpmnWorkflowSerializer:
    registry = BpmnWorkflowSerializer.configure(_serializer_config())
    # datetime round-trips on its own; date and Decimal need converters (see the engine reference).
    registry.register(date, lambda d: {"value": d.isoformat()}, lambda d: date.fromisoformat(d["value"]))
    registry.register(Decimal, lambda d: {"value": str(d)}, lambda d: Decimal(d["value"]))
    return BpmnWorkflowSerializer(registry)


_local = threading.local()


def _serializer() -> BpmnWorkflowSerializer:
    # The serializer's registry keeps a mutable flag while it encodes: one per thread.
    serializer = getattr(_local, "serializer", None)
    if serializer is None:
        serializer = _local.serializer = _build_serializer()
    return serializer


def serializer_version() -> str:
    return _serializer().VERSION


def dump(workflow: OrderlyWorkflow) -> bytes:
    """The workflow as compressed JSON, ready for the database."""
    return gzip.compress(_serializer().serialize_json(workflow).encode(), compresslevel=5)


def dump_unbuilt(spec_name: str, data: dict | None) -> bytes:
    """The saved state of a workflow not yet built: loading it builds it on its process definition
    (`new_workflow`), as if it had been built and saved now."""
    serializer = _serializer()
    # A plain dict goes through serialize_json as it is: the serializer's encoder and version are added.
    state = {"typename": serializer.registry.typenames[OrderlyWorkflow], SPEC_FROM_DEFINITION: spec_name,
             UNBUILT: True, "data": data or {}}
    return gzip.compress(serializer.serialize_json(state).encode(), compresslevel=5)


def load(blob: bytes, script_engine, specs: Callable[[], tuple] | None = None) -> OrderlyWorkflow:
    """`specs` gives the (spec, subprocess_specs) of the instance's definition, for a state that names it."""
    return load_json(gzip.decompress(blob).decode(), script_engine, specs)


def load_json(text: str, script_engine, specs: Callable[[], tuple] | None = None) -> OrderlyWorkflow:
    """As load, from the JSON before compression."""
    _local.specs = specs
    try:
        workflow = _serializer().deserialize_json(text)
    finally:
        _local.specs = None
    workflow.script_engine = script_engine  # the engine is not part of the saved state
    return workflow


class _ClockDatetime(datetime):
    """Spiff reads datetime.now() for timers; route it through the application's clock."""

    @classmethod
    def now(cls, tz=None):
        current = clock.now()
        return current.astimezone(tz) if tz is not None else current.astimezone(UTC)


_timer_module.datetime = _ClockDatetime


def find_task(workflow, task_id: str):
    """The task with this id (a string from a form or URL), or None."""
    try:
        return workflow.get_task_from_id(UUID(str(task_id)))
    except (ValueError, TaskNotFoundException):
        return None


def catches(workflow, event) -> bool:
    """Whether the workflow takes this event now: a task waits for it, or an event subprocess starts
    on it (those have no task until the event arrives, so get_tasks(catches_event=…) misses them)."""
    if workflow.is_completed():
        return False
    # Only a task that waits now: a catch event merely predicted further on (LIKELY, MAYBE) takes nothing.
    if workflow.get_tasks(state=TaskState.WAITING, catches_event=event):
        return True
    for name in workflow.spec.start.trigger_specs:
        spec = workflow.subprocess_specs.get(name)
        if spec is not None and any(start.event_definition == event.event_definition
                                    for start in spec.bpmn_start_events):
            return True
    return False


def deliver(workflow, event) -> None:
    """Send an outside event in. An event subprocess it starts interrupts the rest of the process,
    as BPMN's isInterrupting="true" (the default) says; the library runs it alongside instead, so the
    other open tasks are cancelled here. (Deployment refuses non-interrupting ones.)"""
    before = set(workflow.subprocesses)
    workflow.send_event(event)
    for task_id in set(workflow.subprocesses) - before:
        started = workflow.get_task_from_id(task_id)
        # Event subprocesses are the triggers of the process's start (the parser gives them no own class).
        if started is None or started.task_spec.name not in workflow.spec.start.trigger_specs \
                or started.parent is not workflow.task_tree:
            continue
        for task in workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK):
            if task.workflow is workflow and task is not started and not _under(task, started) \
                    and task.parent is not None:
                task.cancel()


def _under(task, ancestor) -> bool:
    parent = task.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False
