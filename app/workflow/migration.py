"""Moving a running instance onto the newest deployed version of its process, when the engine can.

The engine lines the old version's elements up with the new one's by id (SpiffWorkflow's
`bpmn.util.diff`), puts every task on its new element, and re-predicts the tasks that wait (open
user tasks, waiting events) so the rest of the path follows the new diagram. That is possible only if
every task that stays in the tree has an element in the new version, and every subprocess it runs
still exists there. `assess` says whether, and why not, without saving anything; `migrate` does it as
one unit of work, like the runtime's verbs.
"""

from dataclasses import dataclass, field

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.exceptions import SpiffWorkflowException

from app.extensions import db
from app.workflow import definitions, engine, projection, runtime
from app.workflow.errors import Conflict, NotFound
from app.workflow.models import ProcessDefinition, ProcessInstance
from app.workflow.sandbox import SandboxScriptEngine


@dataclass
class Verdict:
    """Whether the instance can move to `target`; `reasons` say why not (empty when it can)."""

    target: ProcessDefinition | None
    reasons: list[str] = field(default_factory=list)
    newest: bool = False  # it already runs the newest version: nothing to move to

    @property
    def compatible(self) -> bool:
        return self.target is not None and not self.newest and not self.reasons


def _target(instance: ProcessInstance) -> ProcessDefinition | None:
    try:
        return definitions.latest(instance.process_key)
    except NotFound:
        return None


def _refusals(instance: ProcessInstance, target: ProcessDefinition | None) -> Verdict:
    """What refuses a move before the engine is asked: the instance's status and the versions."""
    verdict = Verdict(target)
    if target is None or target.version <= instance.definition.version:
        verdict.newest = True
    elif instance.status not in runtime.ACTIVE:
        verdict.reasons.append(f"it is {instance.status}; only a running or waiting instance can move")
    elif instance.held_by:
        # Its timers wait during the hold; running the engine to move it could fire them.
        verdict.reasons.append(f"it is on hold while {instance.held_by} is open")
    return verdict


def _describe(task) -> str:
    spec = task.task_spec
    name = getattr(spec, "bpmn_name", None)
    element = getattr(spec, "bpmn_id", None) or spec.name
    return f"'{name}' ({element})" if name else element


def _move(workflow, target: ProcessDefinition) -> list[str]:
    """Put the workflow on the target version in place; returns why that failed (the workflow is then
    unusable and must not be saved), or nothing."""
    spec, subprocess_specs = definitions.specs_for(target)
    try:
        # The serializer's registry knows how to turn each element into comparable attributes.
        top, subprocesses = diff_workflow(engine._serializer().registry, workflow, spec, subprocess_specs)
    except KeyError as missing:  # a task whose element the engine cannot line up at all
        return [f"the engine cannot line up the element {missing} with version {target.version}"]
    except Exception as error:  # as below: no error contract, and a page asks this on every view
        return [f"the engine could not compare the versions ({error.__class__.__name__}: {error})"]
    reasons = [f"it runs the process '{sub.spec.name}', which version {target.version} does not hold"
               for sub_id, sub in workflow.subprocesses.items() if subprocesses.get(sub_id) is None]
    if reasons:
        return reasons
    # Re-predicting a waiting timer would start its clock again: it keeps the due time it has.
    due = {task.id: task.internal_data["event_value"] for task in workflow.get_tasks(state=TaskState.WAITING)
           if isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)
           and "event_value" in task.internal_data}
    try:
        migrate_workflow(top, workflow, spec)
        for sub_id, sub in list(workflow.subprocesses.items()):
            if sub_id in workflow.subprocesses:  # not dropped with a branch reset before it
                migrate_workflow(subprocesses[sub_id], sub, subprocess_specs[sub.spec.name])
        workflow.subprocess_specs = subprocess_specs
        workflow.spec_from_definition = True  # the target's shared specs: saved by reference to it
    except SpiffWorkflowException as error:
        return [f"the engine could not move it: {str(error).splitlines()[0]}"]
    except Exception as error:  # the library's migration promises no error type; any failure means "no"
        return [f"the engine could not move it ({error.__class__.__name__}: {error})"]
    tasks = list(workflow.get_tasks(state=TaskState.ANY_MASK))
    for task in tasks:
        if task.id in due and isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition):
            task._set_internal_data(event_value=due[task.id])
    stranded = [task for task in tasks if task.workflow.spec.task_specs.get(task.task_spec.name) is not task.task_spec]
    # Name where each stranded branch begins; the tasks after it are stranded because it is.
    ids = {task.id for task in stranded}
    roots = [task for task in stranded if task.parent is None or task.parent.id not in ids]
    named = {task.task_spec.name: _describe(task) for task in roots if getattr(task.task_spec, "bpmn_id", None)}
    if stranded and not named:
        return [f"the rest of its path cannot be lined up with version {target.version}"]
    return [f"{where} is reached or done in this instance and is not in version {target.version}"
            for where in named.values()]


def assess(instance: ProcessInstance) -> Verdict:
    """Can the instance move to the newest version now? Tried on a restored copy that is thrown away.
    Re-predicting waiting events evaluates their expressions, which may call operations (an SLA due
    time): whatever they write goes with a savepoint rolled back at once."""
    verdict = _refusals(instance, _target(instance))
    if verdict.newest or verdict.reasons:
        return verdict
    copy = definitions.restore(instance, SandboxScriptEngine(runtime.operations()))
    savepoint = db.session.begin_nested()
    try:
        verdict.reasons = _move(copy, verdict.target)
    finally:
        savepoint.rollback()
    return verdict


def _refresh_open_rows(step) -> None:
    """Open inbox rows keep their task ids; their title, team, form and instructions follow the new version."""
    for row in projection.open_rows(step.instance.id):
        task = engine.find_task(step.workflow, row.spiff_task_id)
        if task is None:
            continue
        spec = task.task_spec
        row.element_id = spec.bpmn_id or spec.name
        row.title = spec.bpmn_name or spec.bpmn_id or spec.name
        row.form_key = projection.form_key_of(spec)
        row.role = spec.lane
        row.instructions = (spec.extensions or {}).get("instructionsForEndUser") or ""


def migrate(instance_id: int, *, actor: str, expected_version: int | None = None) -> ProcessInstance:
    """Move the instance to the newest version of its process, or raise Conflict saying why not."""
    with runtime.unit_of_work():
        step = runtime._Step.lock(instance_id, expected_version)
        instance = step.instance
        verdict = _refusals(instance, _target(instance))
        if verdict.newest:
            raise Conflict(f"{instance.business_key} already runs the newest version of {instance.process_key}")
        reasons = verdict.reasons or _move(step.workflow, verdict.target)
        if reasons:
            raise Conflict(f"{instance.business_key} cannot move to version {verdict.target.version}: "
                           + "; ".join(reasons))
        before, after = instance.definition, verdict.target
        instance.definition_id, instance.definition = after.id, after
        step.event("migrated", actor=actor, detail={"from_version": before.version, "to_version": after.version})
        step.run()  # what the new version makes ready now (a join whose branches are all done) runs
        _refresh_open_rows(step)
        step.save()
    return step.instance
