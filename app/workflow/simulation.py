"""Trying a diagram in memory against a scenario, before anyone deploys it.

The workflow runs in the real sandbox, but operations never run: each is a stand-in that records what
it was called with and answers what the scenario says. Nothing is read from or written to the database.
A scenario gives the initial data, answers to user tasks, results of operations, messages and the timers
to fire; the run goes on while the scenario has something the process takes, and stops where it waits
for more, where an error stops it, or after too many steps. Plain data in, plain data out: this runs in
a child process (app.modeler.simulate), which kills it if it takes too long.
"""

import inspect
from collections import deque
from datetime import timedelta
from types import SimpleNamespace

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as AnyMessage
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition

from app import clock
from app.workflow import definitions, engine, runtime
from app.workflow import inspect as positions
from app.workflow.runtime import json_safe
from app.workflow.sandbox import SandboxScriptEngine
from app.workflow.snapshot import current_data

MAX_STEPS = 1000
# What a timer waits for when its expression asked a stand-in operation that the scenario gave no
# result: a moment that never comes (the scenario fires timers by name, not by time).
_NEVER = {"date": "2999-12-31T23:59:59+00:00", "duration": "P100Y", "cycle": "R1/P100Y"}


class TooManySteps(Exception):
    pass


def describe(operations) -> dict[str, list[tuple[str, str, bool]]]:
    """Operation name → its parameters as (name, kind, required): what a child process needs to
    stand in for the operations without importing them."""
    return {name: [(p.name, p.kind.name, p.default is p.empty) for p in inspect.signature(fn).parameters.values()]
            for name, fn in operations.items()}


def _signature(parameters: list[tuple[str, str, bool]]) -> inspect.Signature:
    def parameter(name: str, kind: str, required: bool) -> inspect.Parameter:
        kind = getattr(inspect.Parameter, kind)
        optional = not required and kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        return inspect.Parameter(name, kind, default=None if optional else inspect.Parameter.empty)

    return inspect.Signature([parameter(*described) for described in parameters])


class RecordingScriptEngine(SandboxScriptEngine):
    """The sandbox with stand-ins for the operations: a call is checked against the operation's
    signature, recorded with the element that made it, and answered with the scenario's result for
    that element (None without one)."""

    def __init__(self, signatures: dict[str, list], results: dict):
        self.results = results
        self.calls: list[dict] = []
        self._task = None
        super().__init__({name: self._stand_in(name, _signature(params)) for name, params in signatures.items()})

    def _stand_in(self, name: str, signature: inspect.Signature):
        def call(*args, **kwargs):
            params = signature.bind(*args, **kwargs).arguments  # a wrong call fails as the real one would
            element = getattr(self._task.task_spec, "bpmn_id", None) if self._task is not None else None
            result = self.results.get(element)
            self.calls.append({"task_id": self._task.id if self._task is not None else None, "element_id": element,
                               "operation": name, "params": json_safe(params), "result": result,
                               "service": False})
            return result

        call.__name__ = name
        return call

    def _on(self, task, work):
        outer, self._task = self._task, task
        try:
            return work()
        finally:
            self._task = outer

    def evaluate(self, task, expression, external_context=None):
        before = len(self.calls)
        try:
            return self._on(task, lambda: super(RecordingScriptEngine, self).evaluate(task, expression,
                                                                                    external_context))
        except WorkflowTaskException:
            never = self._never(task, expression, self.calls[before:])
            if never is None:
                raise
            return never

    @staticmethod
    def _never(task, expression, calls):
        """A timer whose expression asked a stand-in that had no result waits for ever."""
        if not calls or any(call["result"] is not None for call in calls):
            return None
        definition = getattr(task.task_spec, "event_definition", None)
        for timer in getattr(definition, "event_definitions", [definition]):
            if isinstance(timer, TimerEventDefinition) and timer.expression == expression:
                if isinstance(timer, CycleTimerEventDefinition):
                    return _NEVER["cycle"]
                return _NEVER["duration" if isinstance(timer, DurationTimerEventDefinition) else "date"]
        return None

    def execute(self, task, script, external_context=None):
        return self._on(task, lambda: super(RecordingScriptEngine, self).execute(task, script, external_context))

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        before = len(self.calls)
        answer = self._on(task, lambda: super(RecordingScriptEngine, self).call_service(
            task, operation_name=operation_name, operation_params=operation_params, **kwargs))
        if len(self.calls) > before:
            self.calls[-1]["service"] = True
        return answer


def _element_type(spec) -> str:
    name = type(spec).__name__
    return name[:1].lower() + name[1:]


def _is_timer(task) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)


class _Run:
    def __init__(self, documents: list[str], key: str, scenario: dict, signatures: dict, actor: str, max_steps: int):
        self.xml, self.key, self.actor, self.max_steps = documents[0], key, actor, max_steps
        spec, subprocess_specs = definitions.build_specs(
            SimpleNamespace(key=key, bpmn_xml=documents[0], called_xml=documents[1:]))
        self.engine = RecordingScriptEngine(signatures, scenario.get("results") or {})
        self.workflow = engine.OrderlyWorkflow(spec, subprocess_specs, script_engine=self.engine)
        self.workflow.task_tree.data.update(json_safe(scenario.get("data") or {}))
        self.answers = {element: deque(answer) if isinstance(answer, list) else answer
                        for element, answer in (scenario.get("answers") or {}).items()}
        self.messages = deque(scenario.get("messages") or [])
        self.timers = deque(scenario.get("timers") or [])
        self.steps: list[dict] = []
        self.delivered: dict = {}  # task id → the message it waits to take

    # --- recording -------------------------------------------------------------------------------

    def _record(self, task, **extra) -> None:
        spec = task.task_spec
        if not getattr(spec, "bpmn_id", None):
            return  # the engine's own split and join tasks
        if len(self.steps) >= self.max_steps:
            raise TooManySteps
        calls = [c for c in self.engine.calls if c["task_id"] == task.id]
        service = next((c for c in calls if c["service"]), None)
        step = {"element_id": spec.bpmn_id, "name": spec.bpmn_name or "", "type": _element_type(spec),
                "lane": spec.lane, "calls": [_public(c) for c in calls if not c["service"]],
                "service": _public(service) if service else None, **extra}
        if task.id in self.delivered:
            step["message"] = self.delivered.pop(task.id)
        self.steps.append(step)
        self.engine.calls = [c for c in self.engine.calls if c["task_id"] != task.id]

    def _settle(self) -> None:
        for _round in range(self.max_steps):
            self.workflow.do_engine_steps(None, lambda task: self._record(task))
            if not any(not t.task_spec.manual for t in self.workflow.get_tasks(state=TaskState.READY)):
                return
        raise TooManySteps

    # --- what the scenario gives, in this order: a message, a timer, an answer ----------------------

    def _deliver(self) -> bool:
        if not self.messages:
            return False
        message = self.messages[0]
        event = BpmnEvent(MessageEventDefinition(message["name"]), payload=json_safe(message.get("payload") or {}))
        if not engine.catches(self.workflow, event):
            return False
        self.messages.popleft()
        for task in self.workflow.get_tasks(state=TaskState.WAITING, catches_event=event):
            self.delivered[task.id] = {"name": message["name"], "payload": event.payload}
        engine.deliver(self.workflow, event)
        return True

    def _fire(self) -> bool:
        if not self.timers:
            return False
        waiting = [t for t in self.workflow.get_tasks(state=TaskState.WAITING)
                   if getattr(t.task_spec, "bpmn_id", None) == self.timers[0] and _is_timer(t)]
        if not waiting:
            return False
        self.timers.popleft()
        due = (clock.now() - timedelta(seconds=1)).isoformat()
        for task in waiting:
            value = task._get_internal_data("event_value")
            if isinstance(value, dict):  # a cycle: its next moment
                value = {**value, "next": due}
            task._set_internal_data(event_value=value if isinstance(value, dict) else due)
        self.workflow.refresh_timers()
        return True

    def _next_answer(self, element: str):
        answer = self.answers.get(element)
        if isinstance(answer, deque):
            return answer.popleft() if answer else None
        return answer

    def _answer(self) -> bool:
        for task in self.workflow.get_tasks(state=TaskState.READY, manual=True):
            answer = self._next_answer(task.task_spec.bpmn_id)
            if answer is None:
                continue
            data = json_safe(answer)
            record_as = (task.task_spec.extensions or {}).get("properties", {}).get("recordActorAs")
            if record_as:
                data[record_as] = self.actor
            task.data.update(data)
            task.run()
            self._record(task, answer=data, data_after=json_safe(task.data))
            return True
        return False

    # --- the run ---------------------------------------------------------------------------------

    def go(self) -> dict:
        status, error = "waiting", None
        try:
            self._settle()
            while not self.workflow.is_completed() and (self._deliver() or self._fire() or self._answer()):
                self._settle()
            if self.workflow.is_completed():
                status = "completed"
        except TooManySteps:
            status = "too_many_steps"
        except SpiffWorkflowException as failure:
            status, error = "error", runtime.error_detail(failure)
            error.pop("task_id", None)
        return self._result(status, error)

    def _waiting(self) -> list[dict]:
        """Where the process waits for what the scenario does not give: a user task's answer, a message
        at a receive task or catch event, an intermediate timer (events on a task's border are extras)."""
        found = []
        for task in self.workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
            spec = task.task_spec
            definition = getattr(spec, "event_definition", None)
            if spec.manual and task.state == TaskState.READY:
                kind = "answer"
            elif isinstance(spec, BoundaryEvent) or task.state != TaskState.WAITING:
                continue
            elif isinstance(definition, AnyMessage):
                kind = "message"
            elif isinstance(definition, TimerEventDefinition):
                kind = "timer"
            else:
                continue
            found.append({"element_id": spec.bpmn_id, "name": spec.bpmn_name or "", "for": kind,
                          "message": definition.name if kind == "message" else None})
        return found

    def _result(self, status: str, error: dict | None) -> dict:
        drawn = positions.workflow_positions(self.workflow, self.xml, self.key)
        errored = []
        if error is not None and error.get("element_id"):
            errored = [error["element_id"]]
        unused_answers = sorted(element for element, answer in self.answers.items()
                                if isinstance(answer, deque) and answer)
        return {
            "status": status,
            "error": error,
            "steps": self.steps,
            "data": json_safe(current_data(self.workflow)),
            "completed": drawn["completed"],
            "flows": drawn["flows"],
            "current": [element for element in drawn["current"] if element not in errored],
            "errored": errored,
            "waiting": self._waiting() if status == "waiting" else [],
            "unused": {"answers": unused_answers, "messages": [m["name"] for m in self.messages],
                       "timers": list(self.timers)},
        }


def _public(call: dict) -> dict:
    return {"operation": call["operation"], "params": call["params"], "result": call["result"]}


def simulate(documents: list[str], key: str, scenario: dict, signatures: dict, *, actor: str = "tester",
             max_steps: int = MAX_STEPS) -> dict:
    """Run the process `key` of documents[0] (documents[1:] hold the processes it calls) through the
    scenario; the answers must already fit their forms. Returns the path it took and where it stopped."""
    return _Run(documents, key, scenario, signatures, actor, max_steps).go()
