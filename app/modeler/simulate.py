"""Testing a draft before deploying it: a scenario (initial data, answers per user task, results of
operations, messages, timers to fire) is checked against the diagram, then the draft runs in memory in a
child process (app.workflow.simulation) that is killed after DRAFT_TEST_SECONDS. Operations never run, and
the database is never touched: the child gets XML, the scenario and the operations' signatures only.

At each pause the run takes, in this order: the next message if the process waits for it, the next timer
if it waits, else an answer for a user task that is ready. It stops where the scenario gives nothing more.
"""

import json
import multiprocessing
from dataclasses import dataclass, field

from flask import current_app
from jsonschema import Draft202012Validator
from lxml import etree

from app import clock, forms
from app.modeler import checks
from app.workflow import definitions, simulation

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
MAX_SCENARIO_CHARS = 200_000
STARTUP_SECONDS = 60  # a fresh interpreter imports the engine before the clock of the run starts

_ANSWER = {"type": "object"}
SCENARIO_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "data": {"type": "object"},
        "answers": {"type": "object", "additionalProperties": {
            "anyOf": [_ANSWER, {"type": "array", "items": _ANSWER}]}},
        "results": {"type": "object"},
        "messages": {"type": "array", "items": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "minLength": 1}, "payload": {"type": "object"}}}},
        "timers": {"type": "array", "items": {"type": "string", "minLength": 1}},
    },
}


class ScenarioError(ValueError):
    """A scenario that cannot run: not JSON, not the scenario's shape, or not fitting the diagram."""

    def __init__(self, message: str, errors: list[str] | None = None):
        super().__init__(message)
        self.errors = errors or []


@dataclass
class Outline:
    """What a scenario can speak of, by element id, in the order of the documents."""

    user_tasks: dict[str, dict] = field(default_factory=dict)  # id → name, form_key
    service_tasks: dict[str, dict] = field(default_factory=dict)  # id → name, operation
    messages: dict[str, list[dict]] = field(default_factory=dict)  # message name → elements catching it (id, type)
    timers: dict[str, str] = field(default_factory=dict)  # id → name
    elements: set[str] = field(default_factory=set)


def _bpmn(tag: str) -> str:
    return f"{{{definitions.BPMN_NS}}}{tag}"


def _form_key(element) -> str | None:
    for prop in element.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") == "formKey":
            return prop.get("value") or None
    return None


def outline(documents: list[str]) -> Outline:
    found = Outline()
    for text in documents:
        root = checks.parse(text.encode("utf-8"))
        names = {m.get("id"): m.get("name") or m.get("id") for m in root.iter(_bpmn("message"))}
        for process in root.iter(_bpmn("process")):
            for element in process.iter():
                element_id = element.get("id") if isinstance(element.tag, str) else None
                if not element_id:
                    continue
                found.elements.add(element_id)
                tag, name = etree.QName(element).localname, element.get("name") or ""
                if tag in ("userTask", "manualTask"):
                    found.user_tasks[element_id] = {"name": name, "form_key": _form_key(element)}
                elif tag == "serviceTask":
                    operator = element.find(f".//{{{SPIFF_NS}}}serviceTaskOperator")
                    found.service_tasks[element_id] = {"name": name,
                                                       "operation": operator.get("id") if operator is not None else ""}
                if tag not in ("receiveTask", "intermediateCatchEvent", "boundaryEvent", "startEvent"):
                    continue
                message = element if tag == "receiveTask" else element.find(_bpmn("messageEventDefinition"))
                if message is not None and message.get("messageRef"):
                    message_name = names.get(message.get("messageRef"), message.get("messageRef"))
                    found.messages.setdefault(message_name, []).append({"element_id": element_id, "type": tag})
                if tag != "startEvent" and element.find(_bpmn("timerEventDefinition")) is not None:
                    found.timers[element_id] = name
    return found


# --- reading and checking a scenario ------------------------------------------------------------------

def read(text: str) -> dict:
    """The scenario in the text, in the scenario's shape, or ScenarioError."""
    if len(text) > MAX_SCENARIO_CHARS:
        raise ScenarioError(f"the scenario has {len(text):,} characters; the limit is {MAX_SCENARIO_CHARS:,}")
    try:
        scenario = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise ScenarioError(f"the scenario is not valid JSON: {error.msg} (line {error.lineno}, "
                            f"column {error.colno})") from None
    except RecursionError:
        raise ScenarioError("the scenario is nested too deeply") from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise ScenarioError(f"the scenario is not valid JSON: {error}") from None
    errors = sorted(Draft202012Validator(SCENARIO_SCHEMA).iter_errors(scenario), key=lambda e: list(e.path))
    if errors:
        raise ScenarioError("the scenario does not have the expected shape",
                            [f"{_where(e.path)}: {e.message}" for e in errors])
    return scenario


def _where(path) -> str:
    return "/".join(map(str, path)) or "scenario"


def _clean_answer(form_key: str | None, answer: dict) -> tuple[dict, list[str]]:
    """The answer as the task's form takes it (declared fields, the schema, defaults added). Choices and
    checks that depend on a real case are not applied: a test has no case."""
    if form_key is None:
        return {}, [f"'{name}' is not a field: this task has no form" for name in answer]
    schema = forms.load(form_key)
    declared = schema.get("properties", {})
    problems = [f"'{name}' is not a field of form '{form_key}'" for name in sorted(set(answer) - set(declared))]
    if not problems:  # as the task form says it: undeclared fields first, alone
        problems = [f"{'/'.join(map(str, e.path)) or 'form'}: {e.message}"
                    for e in sorted(Draft202012Validator(schema).iter_errors(answer), key=lambda e: list(e.path))]
    defaults = {name: spec["default"] for name, spec in declared.items() if "default" in spec and name not in answer}
    return {**defaults, **answer}, problems


def fit(scenario: dict, diagram: Outline) -> dict:
    """The scenario with its answers cleaned by their forms, or ScenarioError naming every part that
    does not fit the diagram."""
    errors: list[str] = []
    answers = {}
    for element, given in (scenario.get("answers") or {}).items():
        task = diagram.user_tasks.get(element)
        if task is None:
            errors.append(f"answers/{element}: the diagram has no user task '{element}'")
            continue
        cleaned = []
        for index, answer in enumerate(given if isinstance(given, list) else [given]):
            value, problems = _clean_answer(task["form_key"], answer)
            where = f"answers/{element}" + (f"/{index}" if isinstance(given, list) else "")
            errors += [f"{where}: {problem}" for problem in problems]
            cleaned.append(value)
        answers[element] = cleaned if isinstance(given, list) else cleaned[0]
    errors += [f"results/{element}: the diagram has no element '{element}'"
               for element in scenario.get("results") or {} if element not in diagram.elements]
    errors += [f"messages/{index}: nothing in the diagram waits for the message '{message['name']}'"
               for index, message in enumerate(scenario.get("messages") or [])
               if message["name"] not in diagram.messages]
    errors += [f"timers/{index}: the diagram has no timer event '{element}'"
               for index, element in enumerate(scenario.get("timers") or []) if element not in diagram.timers]
    if errors:
        raise ScenarioError("the scenario does not fit the diagram", errors)
    return {**scenario, "answers": answers}


# --- a skeleton to start from ----------------------------------------------------------------------------

def _example(spec: dict):
    """A value a field takes: its const, its default, a first choice, or a plain value of its type."""
    if "const" in spec:
        return spec["const"]
    if spec.get("type") == "boolean":
        return True
    if "default" in spec:
        return spec["default"]
    choices = spec.get("enum") or [c["const"] for c in spec.get("oneOf", []) if "const" in c]
    if choices:
        return choices[0]
    kind = spec.get("type")
    if kind in ("integer", "number"):
        return spec.get("minimum", 0)
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return "x" * spec.get("minLength", 0)


def fields_of(form_key: str | None) -> dict:
    if form_key is None:
        return {}
    try:
        properties = forms.load(form_key).get("properties", {})
    except (forms.FormError, ValueError):
        return {}
    return {name: _example(spec) for name, spec in properties.items() if isinstance(spec, dict)}


def skeleton(diagram: Outline) -> dict:
    """Every user task with its form's fields, every service task without a result, and the messages the
    process waits for on its way (receive tasks, catch events), in order; events on a task's border and
    timers are interruptions a scenario adds on purpose."""
    on_the_way = [name for name, elements in diagram.messages.items()
                  if any(element["type"] in ("receiveTask", "intermediateCatchEvent") for element in elements)]
    return {
        "data": {},
        "answers": {element: fields_of(task["form_key"]) for element, task in diagram.user_tasks.items()},
        "results": dict.fromkeys(diagram.service_tasks),
        "messages": [{"name": name, "payload": {}} for name in on_the_way],
        "timers": [],
    }


# --- running it ------------------------------------------------------------------------------------------

def prepare(xml: str, filename: str) -> tuple[str, list[str]]:
    """The process key and the documents to run (the draft and the deployed processes it calls), or
    DeploymentRefused with what deploying would refuse."""
    key, _name, _specs, called_xml = definitions.validate(
        xml, filename, current_app.extensions["orderly.operations"], current_app.config["MAX_BPMN_BYTES"])
    return key, [xml, *called_xml]


def _ended(status: str, message: str) -> dict:
    return {"status": status, "error": {"message": message}, "steps": [], "data": {}, "completed": [], "flows": [],
            "current": [], "errored": [], "waiting": [], "unused": {"answers": [], "messages": [], "timers": []}}


def _child(sender, documents: list[str], key: str, scenario: dict, signatures: dict, actor: str) -> None:
    sender.send("ready")
    clock.freeze(clock.now())  # one moment for the whole run: timers fire when the scenario says
    try:
        result = simulation.simulate(documents, key, scenario, signatures, actor=actor)
    except Exception as error:  # what the engine did not expect is reported, not lost with the process
        result = _ended("failed", f"{error.__class__.__name__}: {error}")
    sender.send(result)
    sender.close()


def run(documents: list[str], key: str, scenario: dict, *, actor: str, seconds: float | None = None) -> dict:
    """Run the scenario in a fresh process (safe beside threads and under any server) and wait at most
    `seconds` for it; a run that takes longer is killed and reported as such."""
    seconds = seconds if seconds is not None else current_app.config["DRAFT_TEST_SECONDS"]
    signatures = simulation.describe(current_app.extensions["orderly.operations"])
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, documents, key, scenario, signatures, actor),
                              daemon=True, name=f"draft-test-{key}")
    process.start()
    sender.close()  # the child holds the other end: its death reads as end of file
    try:
        if not (receiver.poll(STARTUP_SECONDS) and receiver.recv() == "ready"):
            return _ended("failed", "the test process did not start")
        if not receiver.poll(seconds):
            return {**_ended("timeout", f"the run took longer than {seconds:g} s"), "seconds": seconds}
        return receiver.recv()
    except EOFError:
        return _ended("failed", "the test process ended without an answer")
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()
