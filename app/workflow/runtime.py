"""The verbs that move an instance. Each is one unit of work, as docs/architecture.md describes:
lock the row, check what the caller saw, restore, check the task, run, serialize once, re-project,
audit, commit once. A script error leaves the instance in `error`, saved, for an admin to retry.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

from flask import current_app
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from sqlalchemy import insert, select, update

from app import forms
from app.clock import now
from app.extensions import db
from app.workflow import definitions, engine, projection
from app.workflow.errors import Conflict, Forbidden, InvalidData, NotFound, NotWaiting
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance, Wakeup
from app.workflow.sandbox import SandboxScriptEngine

ACTIVE = ("running", "waiting")
ENDED = ("completed", "cancelled")
# Recorded and owed a start: its engine has not run yet. The scheduler starts it (a wake-up due at
# once), or any verb that reaches it first (a message, a cancellation) does, in that verb's unit of work.
QUEUED = "queued"
QUEUED_DUE_AHEAD = timedelta(microseconds=1)

_in_unit: ContextVar[bool] = ContextVar("orderly_unit_of_work", default=False)
# Instances locked by the unit of work in progress: an operation that reaches back into one of them
# would save a second copy that the outer step then overwrites.
_locked: ContextVar[frozenset] = ContextVar("orderly_locked_instances", default=frozenset())


@contextmanager
def _unit_of_work() -> Iterator[None]:
    """Commit once at the end; roll everything back on an unexpected error. An operation that starts
    another instance runs inside the caller's unit and commits with it."""
    if _in_unit.get():
        yield
        return
    token, locked = _in_unit.set(True), _locked.set(frozenset())
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _locked.reset(locked)
        _in_unit.reset(token)


def unit_of_work():
    """One transaction around domain writes and any runtime verbs: verbs called inside join it, and
    it commits once at the end or rolls everything back (an order and the process that runs it)."""
    return _unit_of_work()


SCRIPT_ENGINE = "orderly.script_engine"
OPERATIONS_GENERATION = "orderly.operations_generation"


def operations() -> dict[str, Callable]:
    return current_app.extensions["orderly.operations"]


def _script_engine() -> SandboxScriptEngine:
    # One per application: it keeps no state between scripts, and building it (wrapping every
    # operation) cost more than a short step. It is rebuilt once register_operation has changed the
    # operations (their generation), even if that happened while it was being built.
    extensions = current_app.extensions
    generation = extensions.get(OPERATIONS_GENERATION, 0)
    built = extensions.get(SCRIPT_ENGINE)
    if built is None or built[0] != generation:
        built = extensions[SCRIPT_ENGINE] = (
            generation, SandboxScriptEngine(dict(operations()), after_operation=db.session.flush))
    return built[1]


def json_safe(value):
    """Task data as JSON will store it: dates and decimals become text."""
    return json.loads(json.dumps(value, default=str))


def error_detail(error: SpiffWorkflowException) -> dict:
    """What a Spiff error says and where: the element, the line and the message an instance keeps."""
    task = getattr(error, "task", None)
    spec = task.task_spec if task is not None else getattr(error, "task_spec", None)
    # Spiff adds a None note for a NameError it has no suggestion for; str(error) would then raise.
    error.notes = [note for note in getattr(error, "notes", []) or [] if note]
    message = str(error).split("\n")[0]
    cause = error.__cause__ or error.__context__
    if cause is not None and str(cause) not in message:  # "Error evaluating expression '…'" says not why
        message += f" ({cause.__class__.__name__}: {cause})"
    return {
        "message": message,
        "notes": list(error.notes),
        "task_id": str(task.id) if task is not None else None,
        "element_id": getattr(spec, "bpmn_id", None),
        "element_name": getattr(spec, "bpmn_name", None),
        "line": getattr(error, "line_number", None) or None,
        "error_line": getattr(error, "error_line", None) or None,
    }


class _Step:
    """One instance, locked and restored, on its way through one unit of work."""

    def __init__(self, instance: ProcessInstance, workflow):
        self.instance = instance
        self.workflow = workflow
        self.events: list[InstanceEvent] = []
        self.completed_by: dict[str, str] = {}
        self.ended_as: str | None = None
        self.open_rows: list[HumanTask] | None = None  # loaded once per unit when a verb needs them
        self.woken = False  # a scheduler's claim on the wakeup row is released by this save
        self.engine_tasks_run = 0
        self.timers_fired = 0
        self.timer_actor = "engine"
        self.started_queued = False

    @classmethod
    def lock(cls, instance_id: int, expected_version: int | None = None, *, start_queued: bool = True) -> "_Step":
        if instance_id in _locked.get():
            raise Conflict(f"instance {instance_id} is already being changed by this step; "
                           "an operation may not act on its own process")
        _locked.set(_locked.get() | {instance_id})
        if db.session.get_bind().dialect.name == "sqlite":
            # SQLite has no row locks: a write as the first statement takes the database's write lock.
            db.session.execute(
                update(ProcessInstance)
                .where(ProcessInstance.id == instance_id)
                .values(lock_version=ProcessInstance.lock_version)
                .execution_options(synchronize_session=False)
            )
        instance = db.session.scalar(
            select(ProcessInstance)
            .where(ProcessInstance.id == instance_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if instance is None:
            raise NotFound(f"instance {instance_id} does not exist")
        if expected_version is not None and instance.lock_version != expected_version:
            raise Conflict(
                f"{instance.business_key} was changed by someone else since you opened it "
                f"(version {expected_version}, now {instance.lock_version}); reload and try again"
            )
        step = cls(instance, definitions.restore(instance, _script_engine()))
        if instance.status == QUEUED and start_queued:
            step.start_queued()
        return step

    def start_queued(self) -> None:
        """Run a queued instance's engine up to its first wait and save that at once, so the verb
        that reached it acts on a started instance. The start belongs to the verb's unit of work: should
        the verb be refused, both are rolled back and the instance is queued as before."""
        self.instance.status = "running"
        self.started_queued = True
        self.open_rows = []  # it never ran, so no person has work yet: nothing to read
        self.run()
        self.save()

    def require_active(self) -> None:
        status = self.instance.status
        if status == "error":
            raise Conflict(f"{self.instance.business_key} is stopped by an error; an admin must retry it first")
        if status in ENDED:
            raise Conflict(f"{self.instance.business_key} is already {status}")

    def event(self, kind: str, task=None, actor: str = "", detail: dict | None = None) -> None:
        self.events.append(
            InstanceEvent(
                kind=kind,
                element_id=task.task_spec.bpmn_id if task is not None else None,
                spiff_task_id=str(task.id) if task is not None else None,
                actor=actor,
                detail=json_safe(detail or {}),
                at=now(),
            )
        )

    def run(self, action: Callable[[], object] | None = None) -> None:
        """Run the action, then every engine task it makes ready, each in its own savepoint: a task
        that fails leaves no domain change behind, and the tasks before it stay done."""
        savepoint = running = None

        def will_run(_task=None):
            nonlocal savepoint, running
            savepoint, running = db.session.begin_nested(), _task

        def did_run(_task=None):
            nonlocal savepoint
            savepoint.commit()
            savepoint = None
            if _task is not None:
                self.engine_tasks_run += 1
                if isinstance(getattr(_task.task_spec, "event_definition", None), TimerEventDefinition):
                    # Timers fire in any step (an overdue one when a user completes a task), not only on wake.
                    self.timers_fired += 1
                    self.event("timer_fired", _task, self.timer_actor,
                               {"due": _task._get_internal_data("event_value")})

        try:
            if action is not None:
                will_run()
                action()
                did_run()
            # A timer that expires in the engine's last refresh leaves a task ready: go round again.
            for _round in range(1000):
                self.workflow.do_engine_steps(will_run, did_run)
                if not any(not t.task_spec.manual for t in self.workflow.get_tasks(state=TaskState.READY)):
                    break
            else:
                raise WorkflowException("the engine did not settle after 1000 rounds of ready tasks")
        except SpiffWorkflowException as error:
            if savepoint is not None:
                # Raised while a completed task readied the next one (a timer reading task data): the
                # error is the next task's, and the completed task keeps its changes.
                if running is not None and running.state == TaskState.COMPLETED:
                    savepoint.commit()
                else:
                    savepoint.rollback()
            self._fail(error)

    def _fail(self, error: SpiffWorkflowException) -> None:
        detail = error_detail(error)
        self.instance.status = "error"
        self.instance.error = detail
        self.event("error", getattr(error, "task", None), "engine", detail)

    def save(self) -> None:
        instance, workflow = self.instance, self.workflow
        instance.state = engine.dump(workflow)
        instance.serializer_version = engine.serializer_version()
        instance.lock_version += 1
        instance.updated_at = now()
        if self.ended_as is not None:
            instance.status = self.ended_as
            instance.ended_at = now()
        elif instance.status != "error":
            if workflow.is_completed():
                instance.status = "completed"
                instance.ended_at = now()
                self.event("completed")
            elif projection.ready_human_tasks(workflow):
                instance.status = "running"
            else:
                instance.status = "waiting"
        projection.refresh(instance, workflow, self.completed_by, self.open_rows, release_claim=self.woken)
        for event in self.events:
            event.instance_id = instance.id
            db.session.add(event)
        self.events = []  # a step saved twice (a queued start, then the verb) records each event once
        self.open_rows = None  # re-read after this save changed them


def _new_workflow(definition, data: dict | None):
    spec, subprocess_specs = definitions.specs_for(definition)
    return engine.new_workflow(spec, subprocess_specs, data, _script_engine())


def start(process_key: str, business_key: str, data: dict | None = None, *, actor: str = "system",
          fresh_key: bool = False) -> ProcessInstance:
    """Start the newest deployed version of a process with initial task data and run it up to its first
    wait. `fresh_key`: the business key was made in this unit of work (a new order's number), so no
    instance can hold it yet: not looked up."""
    with _unit_of_work():
        running = None if fresh_key else db.session.scalar(select(ProcessInstance.id).where(
            ProcessInstance.process_key == process_key, ProcessInstance.business_key == business_key,
            ProcessInstance.status.in_((*ACTIVE, QUEUED, "error"))).limit(1))
        if running is not None:
            raise Conflict(f"{business_key} already has a {process_key} process running (instance {running})")
        definition = definitions.latest(process_key)
        workflow = _new_workflow(definition, data)
        instance = ProcessInstance(
            definition_id=definition.id, process_key=process_key, business_key=business_key, status="running",
            lock_version=0, state=b"", serializer_version=engine.serializer_version(), started_by=actor,
            started_at=now())
        db.session.add(instance)
        db.session.flush()
        _locked.set(_locked.get() | {instance.id})
        step = _Step(instance, workflow)
        step.open_rows = []  # a new instance: no inbox rows to read
        step.event("started", actor=actor, detail={"version": definition.version, "data": data or {}})
        step.run()
        step.save()
    return instance


# Built once: on the API's busiest path, building these statements cost more CPU than running them.
_INSERT_INSTANCE = insert(ProcessInstance.__table__).returning(ProcessInstance.__table__.c.id)
_INSERT_WAKEUP = insert(Wakeup.__table__)
_INSERT_EVENT = insert(InstanceEvent.__table__)


def enqueue(process_key: str, business_key: str, data: dict | None = None, *, actor: str = "system") -> int:
    """Record an instance of the newest deployed version, owed its first run; its id. The scheduler
    starts it at its next poll (a wake-up due at once), or any verb that reaches it first does: the
    caller's unit of work stays short, and the instance runs the version that was newest now. For a
    business key made in this unit of work (a new order's number): no running instance is looked for.
    Plain INSERTs, as nothing in this unit reads the rows back; its state holds only the data, and the
    workflow is built when the instance is first loaded (engine.dump_unbuilt)."""
    with _unit_of_work():
        definition = definitions.latest(process_key)
        spec, _called = definitions.specs_for(definition)
        moment = now()
        due = moment - QUEUED_DUE_AHEAD  # the claim takes only wake-ups strictly before its now
        instance_id = db.session.scalar(_INSERT_INSTANCE, {
            "definition_id": definition.id, "process_key": process_key, "business_key": business_key,
            "status": QUEUED, "lock_version": 0, "state": engine.dump_unbuilt(spec.name, data),
            "serializer_version": engine.serializer_version(), "started_by": actor, "started_at": moment,
            "updated_at": moment, "next_timer_at": due})
        db.session.execute(_INSERT_WAKEUP, {"instance_id": instance_id, "due_at": due})
        db.session.execute(_INSERT_EVENT, {
            "instance_id": instance_id, "kind": "started", "actor": actor, "at": moment,
            "detail": json_safe({"version": definition.version, "data": data or {}, "queued": True})})
    return instance_id


def _actor_of(user, actor: str) -> str:
    return user.username if user is not None else actor


def may_work(user, row: HumanTask | None, task_spec) -> None:
    """Raise Forbidden unless the user may do this task: their role owns its lane, and nobody
    else holds it."""
    if user is None:
        return
    if task_spec.lane not in user.roles and "admin" not in user.roles:
        raise Forbidden(f"'{task_spec.bpmn_name or task_spec.bpmn_id}' belongs to the {task_spec.lane} team")
    if row is not None and row.assignee_id is not None and row.assignee_id != user.id:
        raise Forbidden("this task is claimed by someone else")


def _check_four_eyes(task, who: str) -> None:
    """A user task with the property differentFrom=<variable> may not be done by the person named
    in that task-data variable (a credit override by whoever entered the order)."""
    variable = (task.task_spec.extensions or {}).get("properties", {}).get("differentFrom")
    if variable and not task.data.get(variable):
        raise Forbidden(f"'{task.task_spec.bpmn_name}' needs to know who '{variable}' is, and the process does not")
    if variable and task.data.get(variable) == who:
        raise Forbidden(f"'{task.task_spec.bpmn_name}' needs a different person from the one in '{variable}' ({who})")


def complete_task(instance_id: int, task_id: str, data: dict | None = None, *, user=None,
                  actor: str = "system", expected_version: int | None = None) -> ProcessInstance:
    """Complete a READY human task with the form's declared, validated fields."""
    with _unit_of_work():
        step = _Step.lock(instance_id, expected_version)
        step.require_active()
        if step.instance.held_by:
            raise Conflict(f"{step.instance.business_key} is on hold while {step.instance.held_by} is open; "
                           "its tasks wait until that is resolved")
        task = engine.find_task(step.workflow, task_id)
        if task is None or not task.task_spec.manual:
            raise NotFound(f"{step.instance.business_key} has no human task {task_id}")
        if task.state != TaskState.READY:
            raise Conflict(f"'{task.task_spec.bpmn_name}' is no longer open (it is {TaskState.get_name(task.state)})")
        step.open_rows = projection.open_rows(instance_id)
        row = next((r for r in step.open_rows if r.spiff_task_id == str(task.id)), None)
        may_work(user, row, task.task_spec)
        _check_four_eyes(task, _actor_of(user, actor))
        try:
            cleaned = forms.clean(projection.form_key_of(task.task_spec), data or {},
                                  business_key=step.instance.business_key)
        except forms.FormError as error:
            raise InvalidData(str(error), error.errors) from None
        who = _actor_of(user, actor)
        # recordActorAs=<variable>: the diagram learns who did the task (for a later four-eyes check).
        record_as = (task.task_spec.extensions or {}).get("properties", {}).get("recordActorAs")
        if record_as:
            cleaned[record_as] = who

        def complete():
            task.data.update(cleaned)
            task.run()

        step.completed_by[str(task.id)] = who
        step.event("task_completed", task, who, {"data": cleaned})
        step.run(complete)
        step.save()
    return step.instance


def _active_instances(business_key: str) -> list[ProcessInstance]:
    return list(
        db.session.scalars(
            select(ProcessInstance)
            .where(ProcessInstance.business_key == business_key,
                   ProcessInstance.status.in_((*ACTIVE, QUEUED, "error")))
            .order_by(ProcessInstance.id)
        )
    )


def send_message(business_key: str, message: str, payload: dict | None = None, *,
                 actor: str = "system") -> ProcessInstance:
    """Deliver a named message to the instance of this business key that waits for it. A message
    nobody waits for is recorded on the key's instances and refused with NotWaiting."""
    candidates = _active_instances(business_key)
    payload = json_safe(payload or {})
    if not candidates:
        ended = db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == business_key)
                                   .order_by(ProcessInstance.id.desc())).first()
        if ended is None:
            raise NotFound(f"no open process for {business_key}")
        # The process is over: the message is refused like any other nobody waits for, and recorded.
        with _unit_of_work():
            db.session.add(InstanceEvent(instance_id=ended.id, kind="message_refused", actor=actor, at=now(),
                                         detail={"message": message, "payload": payload, "status": ended.status}))
        raise NotWaiting(f"{business_key} has no open process (it is {ended.status}); '{message}' was recorded, "
                         "not delivered")
    delivered = None
    with _unit_of_work():
        for candidate in candidates:
            step = _Step.lock(candidate.id)
            if step.instance.status not in ACTIVE:
                continue
            event = BpmnEvent(MessageEventDefinition(message), payload=payload)
            if not engine.catches(step.workflow, event):
                continue
            step.event("message_received", actor=actor, detail={"message": message, "payload": payload})
            step.run(lambda s=step, e=event: engine.deliver(s.workflow, e))
            step.save()
            delivered = step.instance
            break
        if delivered is None:
            for candidate in candidates:
                db.session.add(
                    InstanceEvent(
                        instance_id=candidate.id, kind="message_refused", actor=actor, at=now(),
                        detail={"message": message, "payload": payload, "status": candidate.status},
                    )
                )
    if delivered is None:
        raise NotWaiting(f"{business_key} is not waiting for '{message}'; the message was recorded, not delivered")
    return delivered


def start_queued(business_key: str) -> list[ProcessInstance]:
    """Start the key's queued instances now, in the caller's unit of work: whoever is about to read or
    change what such an instance's first run sets (an order's status) must see it run first. Returns
    the key's active instances, as they are now."""
    instances = _active_instances(business_key)
    with _unit_of_work():
        for instance in instances:
            if instance.status == QUEUED:
                _Step.lock(instance.id)
                _locked.set(_locked.get() - {instance.id})  # that step is saved: the caller may act on it next
    return instances


def waits_for(business_key: str, message: str) -> bool:
    """Whether an active instance of this key would take the message now. Read-only, except that a
    queued instance is started first (in the caller's unit of work): it is owed that start, and only
    a started instance can tell what it waits for."""
    event = BpmnEvent(MessageEventDefinition(message), payload={})
    for instance in start_queued(business_key):
        if instance.status in ACTIVE and engine.catches(definitions.restore(instance, _script_engine()), event):
            return True
    return False


def hold(business_key: str, held_by: str, *, actor: str = "system") -> list[ProcessInstance]:
    """Hold the key's active instances for `held_by` (an exception number): their human tasks
    cannot be completed and their timers wait. Messages still arrive."""
    return _set_hold(business_key, held_by, actor)


def release(business_key: str, held_by: str, *, actor: str = "system", message: str | None = None,
            payload: dict | None = None) -> bool:
    """Lift the hold `held_by` placed (timers that fell due meanwhile fire now) and, in the same
    step, deliver `message` to the instance that waits for it. Returns whether it was delivered."""
    delivered = False
    with _unit_of_work():
        for candidate in _active_instances(business_key):
            step = _Step.lock(candidate.id)
            if step.instance.status not in ACTIVE:
                continue
            released = step.instance.held_by == held_by
            event = BpmnEvent(MessageEventDefinition(message), payload=json_safe(payload or {})) if message else None
            waiting = event is not None and not delivered and engine.catches(step.workflow, event)
            if not released and not waiting:
                continue
            if released:
                step.instance.held_by = None
                step.event("released", actor=actor, detail={"by": held_by})
            step.timer_actor = "scheduler"
            step.run(step.workflow.refresh_timers)
            if waiting and step.instance.status in ACTIVE:
                step.event("message_received", actor=actor, detail={"message": message, "payload": event.payload})
                step.run(lambda s=step, e=event: engine.deliver(s.workflow, e))
                delivered = True
            step.save()
    return delivered


def _set_hold(business_key: str, held_by: str, actor: str) -> list[ProcessInstance]:
    changed = []
    with _unit_of_work():
        for candidate in _active_instances(business_key):
            step = _Step.lock(candidate.id)
            if step.instance.status not in ACTIVE or step.instance.held_by:
                continue
            step.instance.held_by = held_by
            step.event("held", actor=actor, detail={"by": held_by})
            step.save()
            changed.append(step.instance)
    return changed


def move_sla_clocks(instance_id: int, move: Callable[[str, str], str | None], *, kind: str, actor: str,
                    detail: dict | None = None, element_id: str | None = None) -> dict[str, dict[str, str]]:
    """Change the due times of the SLA timers waiting on the instance's open tasks (only those of
    `element_id` if given): `move(spiff task id of the timer, its ISO value)` gives the new ISO value
    or None to leave it. Recorded as one `kind` event; returns {timer id: {element, before, after}}."""
    with _unit_of_work():
        step = _Step.lock(instance_id)
        step.require_active()
        changes = {}
        for task in projection.ready_human_tasks(step.workflow):
            if element_id is not None and task.task_spec.bpmn_id != element_id:
                continue
            for timer in projection.sla_clocks(task):
                before = timer._get_internal_data("event_value")
                after = move(str(timer.id), before) if isinstance(before, str) else None
                if after is None or after == before:
                    continue
                timer._set_internal_data(event_value=after)
                changes[str(timer.id)] = {"element": timer.task_spec.bpmn_id, "before": before, "after": after}
        if changes:
            step.event(kind, actor=actor, detail={**(detail or {}), "timers": changes})
            step.save()
    return changes


def wake(instance_id: int, *, actor: str = "scheduler") -> int:
    """Fire the instance's due timers and run what follows; returns how many fired."""
    with _unit_of_work():
        step = _Step.lock(instance_id)
        if step.started_queued:  # this wake-up was its start, saved already
            return step.timers_fired
        if step.instance.status not in ACTIVE or step.instance.held_by:
            projection.refresh_wakeup(step.instance, step.workflow, release_claim=True)
            return 0
        step.timer_actor = actor
        step.run(step.workflow.refresh_timers)
        if not step.engine_tasks_run and step.instance.status != "error":
            # Not due yet (clocks differ by a moment): nothing ran; release the claim for the next poll.
            projection.refresh_wakeup(step.instance, step.workflow, release_claim=True)
            return 0
        step.woken = True
        step.save()
    return step.timers_fired


def cancel(instance_id: int, *, actor: str = "system", reason: str = "") -> ProcessInstance:
    with _unit_of_work():
        step = _Step.lock(instance_id, start_queued=False)  # a queued instance ends without ever running
        if step.instance.status in ENDED:
            raise Conflict(f"{step.instance.business_key} is already {step.instance.status}")
        step.workflow.cancel()
        step.ended_as = "cancelled"
        step.event("cancelled", actor=actor, detail={"reason": reason})
        step.save()
    return step.instance


def retry(instance_id: int, *, actor: str = "system", data: dict | None = None) -> ProcessInstance:
    """Run the failed task again, after an admin fixed what it reads; `data` is merged into its data."""
    with _unit_of_work():
        step = _Step.lock(instance_id)
        if step.instance.status != "error":
            raise Conflict(f"{step.instance.business_key} is not in error")
        failed = step.workflow.get_tasks(state=TaskState.ERROR)
        # A task whose update failed (a timer reading task data) is not in ERROR but FUTURE or WAITING,
        # under its completed parent; siblings the parent had not updated yet are still FUTURE.
        unsettled = TaskState.FUTURE | TaskState.PREDICTED_MASK
        stuck = [t for t in [engine.find_task(step.workflow, (step.instance.error or {}).get("task_id"))]
                 if t is not None and t.parent is not None and t.has_state(unsettled | TaskState.WAITING)]
        fixes = json_safe(data or {})

        def again():
            for task in failed:
                task.data.update(fixes)
                task._set_state(TaskState.READY)
            for task in stuck:
                task.parent.data.update(fixes)  # a task takes its parent's data when it updates
                for sibling in task.parent.children:
                    if sibling is task or sibling.has_state(unsettled):
                        sibling.task_spec._update(sibling)

        step.instance.status = "running"
        step.instance.error = None
        step.event("retried", actor=actor,
                   detail={"data": fixes, "tasks": [t.task_spec.bpmn_id for t in failed + stuck]})
        step.run(again)
        step.save()
    return step.instance
