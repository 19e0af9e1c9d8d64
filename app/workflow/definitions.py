"""Deploying BPMN as numbered versions of a process, after checking everything that will run.

A deployment is refused, with the BPMN element named, for malformed XML, a DOCTYPE, a schema
violation, a missing called process, code the sandbox will not compile, a timer that cannot
evaluate, an unknown operation, a user task outside a known lane, or a missing form.
"""

import ast
import hashlib
import inspect
import re
import threading
from collections.abc import Callable, Mapping

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from sqlalchemy import func, select

from app import forms
from app.accounts.roles import LANE_ROLES
from app.extensions import db
from app.workflow.errors import DeploymentRefused, NotFound, Problem
from app.workflow.models import ProcessDefinition
from app.workflow.sandbox import (
    BUILTINS,
    FORBIDDEN_NAMES,
    HELPERS,
    SandboxEnvironment,
    SandboxViolation,
    compile_expression,
    compile_script,
    used_names,
)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN_NS}
# An ISO value written without quotes parses as Python names and breaks every later engine step.
UNQUOTED_ISO = re.compile(r"^\s*(R\d*/)?P[\dYMWDTHS.,]+\s*$|^\s*\d{4}-\d{2}-\d{2}T")

_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _parse_document(text: bytes, filename: str) -> etree._Element:
    # Refused outright: entities are a classic way to read server files or exhaust memory.
    if re.search(rb"<!DOCTYPE|<!ENTITY", text, re.IGNORECASE):
        what = filename or "the file"
        raise DeploymentRefused([Problem(f"{what} contains a DOCTYPE or entity declaration, which is not allowed")])
    try:
        root = etree.fromstring(text, _XML_PARSER)
    except etree.XMLSyntaxError as error:
        raise DeploymentRefused([Problem(f"malformed XML: {error.msg}", line=error.lineno)]) from None
    docinfo = root.getroottree().docinfo
    # The byte search above cannot see a DOCTYPE written in another encoding (UTF-16, UTF-7).
    if docinfo.doctype or docinfo.internalDTD is not None:
        what = filename or "the file"
        raise DeploymentRefused([Problem(f"{what} contains a DOCTYPE or entity declaration, which is not allowed")])
    encoding = (docinfo.encoding or "UTF-8").upper()
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        encoding = "not UTF-8"
    if encoding != "UTF-8":  # a version is stored as UTF-8 text
        raise DeploymentRefused([Problem(f"{filename or 'the file'} must be encoded as UTF-8")])
    return root


def _as_bytes(xml: str | bytes) -> bytes:
    return xml.encode("utf-8") if isinstance(xml, str) else xml


def _main_process_id(root: etree._Element) -> str:
    processes = [p for p in root.findall("bpmn:process", NS) if p.get("isExecutable", "true") == "true"]
    called = {c.get("calledElement") for c in root.iter(f"{{{BPMN_NS}}}callActivity")}
    mains = [p.get("id") for p in processes if p.get("id") not in called]
    if len(mains) != 1:
        found = ", ".join(mains) or "none"
        message = f"a file must hold exactly one executable top-level process (found: {found})"
        raise DeploymentRefused([Problem(message)])
    return mains[0]


def _latest(key: str) -> ProcessDefinition | None:
    return db.session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key, ProcessDefinition.status == "deployed")
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )


def latest(key: str) -> ProcessDefinition:
    definition = _latest(key)
    if definition is None:
        raise NotFound(f"no deployed process '{key}'")
    return definition


def _add(parser: SpiffBpmnParser, root: etree._Element, filename: str) -> None:
    try:
        parser.add_bpmn_xml(root, filename=filename)
    except ValidationException as error:
        raise DeploymentRefused([_problem_from(error)]) from None
    except SpiffWorkflowException as error:
        raise DeploymentRefused([Problem(str(error))]) from None


def _problem_from(error: ValidationException) -> Problem:
    line = error.line_number if isinstance(error.line_number, int) else None
    return Problem(str(error).split("\n")[0], error.id or "", error.name or "", line)


def _resolve_called(parser: SpiffBpmnParser, root: etree._Element) -> list[str]:
    """Bring in deployed processes this file calls but does not hold; their XML travels along."""
    called_xml: list[str] = []
    problems = []
    pending = [(c.get("calledElement"), c) for c in root.iter(f"{{{BPMN_NS}}}callActivity")]
    seen = set(parser.get_process_ids())
    while pending:
        process_id, element = pending.pop()
        if process_id in seen:
            continue
        seen.add(process_id)
        definition = _latest(process_id)
        if definition is None:
            problems.append(
                Problem(f"calls process '{process_id}', which is neither in this file nor deployed",
                        element.get("id", ""), element.get("name", ""), element.sourceline)
            )
            continue
        for text in [definition.bpmn_xml, *definition.called_xml]:
            other = _parse_document(text.encode(), definition.filename)
            if any(p.get("id") in seen for p in other.findall("bpmn:process", NS) if p.get("id") != process_id):
                continue
            _add(parser, other, definition.filename)
            called_xml.append(text)
            seen.update(p.get("id") for p in other.findall("bpmn:process", NS))
            pending.extend((c.get("calledElement"), c) for c in other.iter(f"{{{BPMN_NS}}}callActivity"))
    if problems:
        raise DeploymentRefused(problems)
    return called_xml


def _new_parser() -> SpiffBpmnParser:
    return SpiffBpmnParser(validator=VALIDATOR)


def build_specs(definition: ProcessDefinition):
    parser = _new_parser()
    for index, text in enumerate([definition.bpmn_xml, *definition.called_xml]):
        parser.add_bpmn_xml(etree.fromstring(text.encode(), _XML_PARSER), filename=f"{definition.key}-{index}")
    return parser.get_spec(definition.key), parser.get_subprocess_specs(definition.key)


# Keyed by content, not row id: the same id can mean different BPMN in different databases.
_spec_cache: dict[tuple[str, str], tuple] = {}
_spec_lock = threading.Lock()


def specs_for(definition: ProcessDefinition):
    """The parsed process and its called processes, parsed once per version (specs are shareable)."""
    cache_key = (definition.key, definition.sha256)
    cached = _spec_cache.get(cache_key)
    if cached is None:
        with _spec_lock:
            cached = _spec_cache.get(cache_key)
            if cached is None:
                cached = _spec_cache[cache_key] = build_specs(definition)
    return cached


# Timer expressions made only of these are evaluated at deploy time: literals, names and helper calls.
# Timer expressions tried at deploy time: a quoted value, or a pure helper called with quoted values.
# Anything else (operations, arithmetic, loops) is only compiled: running it could write or hang.
_PURE_HELPERS = frozenset({"in_duration", "iso", "parse_datetime"})


def _safe_to_try(expression: str) -> bool:
    try:
        tree = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        return False
    if isinstance(tree, ast.Constant):
        return True
    return (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id in _PURE_HELPERS
            and not tree.keywords and all(isinstance(arg, ast.Constant) for arg in tree.args))


def _called_names(source: str, mode: str) -> set[str]:
    tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    return {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}


def _duplicate_ids(root: etree._Element) -> list[Problem]:
    """The engine finds elements by id; an id used twice (a service task named like its operation)
    makes it pick the wrong node and fail with an unrelated message."""
    seen: dict[str, list[etree._Element]] = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("id"):
            seen.setdefault(element.get("id"), []).append(element)
    problems = []
    for element_id, elements in seen.items():
        if len(elements) > 1 and any(e.tag.startswith(f"{{{BPMN_NS}}}") for e in elements):
            tags = ", ".join(etree.QName(e).localname for e in elements)
            problems.append(Problem(f"the id is used by {len(elements)} elements ({tags}); ids must be unique",
                                    element_id, elements[0].get("name", ""), elements[0].sourceline))
    return problems


def _element(spec) -> tuple[str, str]:
    return getattr(spec, "bpmn_id", None) or spec.name, getattr(spec, "bpmn_name", None) or ""


class _Checker:
    """Collects every problem of one parsed process tree."""

    def __init__(self, operations: Mapping[str, Callable]):
        self.operations = operations
        self.problems: list[Problem] = []
        self.environment = SandboxEnvironment({**HELPERS, **operations})

    def fail(self, spec, message: str) -> None:
        element_id, element_name = _element(spec)
        self.problems.append(Problem(message, element_id, element_name))

    def code(self, spec, source: str | None, what: str, mode: str) -> None:
        if not source or not source.strip():
            return
        try:
            (compile_script if mode == "exec" else compile_expression)(source)
        except SandboxViolation as violation:
            self.fail(spec, f"{what} is refused: {violation}")
            return
        forbidden = sorted(used_names(source, mode) & FORBIDDEN_NAMES)
        if forbidden:
            self.fail(spec, f"{what} uses {', '.join(forbidden)}, which diagrams may not use")
        elif mode == "eval":
            # Task data never holds functions, so an expression can only call what the sandbox offers.
            unknown = sorted(_called_names(source, mode) - set(self.environment.globals) - set(BUILTINS))
            if unknown:
                self.fail(spec, f"{what} calls {', '.join(unknown)}, which is neither a helper nor an operation")

    def timer(self, spec, definition: TimerEventDefinition) -> None:
        expression = definition.expression or ""
        if UNQUOTED_ISO.match(expression):
            self.fail(spec, f'timer value {expression.strip()} must be quoted, e.g. "{expression.strip()}"')
            return
        self.code(spec, expression, "timer expression", "eval")
        if not _safe_to_try(expression):
            return  # arithmetic or comprehensions could run for ever at deploy time; checked when it runs
        try:
            value = self.environment.evaluate(expression, {})
        except NameError:
            return  # reads task data, known only at run time
        except Exception as error:  # the expression itself is broken
            self.fail(spec, f"timer expression fails: {error}")
            return
        if not isinstance(value, str):
            self.fail(spec, f"timer expression must give an ISO-8601 string, not {type(value).__name__}")
            return
        try:
            if isinstance(definition, DurationTimerEventDefinition):
                TimerEventDefinition.parse_iso_duration(value)
            elif isinstance(definition, CycleTimerEventDefinition):
                TimerEventDefinition.parse_iso_recurring_interval(value)
            elif isinstance(definition, TimeDateEventDefinition):
                moment = TimerEventDefinition.parse_time_or_duration(value)
                if "T" in value and not re.search(r"(Z|[+-]\d{2}:?\d{2})$", value):
                    self.fail(spec, f"timer date {value} needs a UTC offset (e.g. Z or +08:00)")
                del moment
        except Exception:
            self.fail(spec, f"timer value {value!r} is not a valid ISO-8601 {definition.__class__.__name__[:-15]}")

    def event(self, spec, definition) -> None:
        if isinstance(definition, TimerEventDefinition):
            self.timer(spec, definition)
        elif isinstance(definition, MultipleEventDefinition):
            for inner in definition.event_definitions:
                self.event(spec, inner)
        elif getattr(definition, "expression", None):
            self.code(spec, definition.expression, "event expression", "eval")

    def service(self, spec) -> None:
        operation = self.operations.get(spec.operation_name)
        if operation is None:
            self.fail(spec, f"unknown operation '{spec.operation_name}'")
            return
        for name, param in spec.operation_params.items():
            self.code(spec, param.get("value"), f"parameter '{name}'", "eval")
        try:
            inspect.signature(operation).bind(**{name: None for name in spec.operation_params})
        except TypeError as error:
            self.fail(spec, f"operation '{spec.operation_name}' does not fit its parameters: {error}")

    def human(self, spec) -> None:
        if spec.lane is None:
            self.fail(spec, "a user task must sit in a lane naming the role that does it")
        elif spec.lane not in LANE_ROLES:
            self.fail(spec, f"lane '{spec.lane}' is not a role ({', '.join(LANE_ROLES)})")
        form_key = (spec.extensions or {}).get("properties", {}).get("formKey")
        if form_key and not forms.exists(form_key):
            self.fail(spec, f"form '{form_key}' does not exist in forms/")

    def check(self, process_spec) -> None:
        for spec in process_spec.task_specs.values():
            self.code(spec, getattr(spec, "script", None), "script", "exec")
            self.code(spec, getattr(spec, "prescript", None), "pre-script", "exec")
            self.code(spec, getattr(spec, "postscript", None), "post-script", "exec")
            for condition, target in getattr(spec, "cond_task_specs", []):
                if condition is not None:  # the default flow has none
                    self.code(spec, condition.args[0], f"condition towards {target}", "eval")
            if getattr(spec, "event_definition", None) is not None:
                self.event(spec, spec.event_definition)
            if getattr(spec, "operation_name", None) is not None:
                self.service(spec)
            if getattr(spec, "manual", False):
                self.human(spec)
            for attribute in ("condition", "cardinality"):
                if isinstance(getattr(spec, attribute, None), str):
                    self.code(spec, getattr(spec, attribute), attribute, "eval")


def _non_interrupting_event_subprocesses(root) -> list[Problem]:
    """The engine cannot run an event subprocess beside the process: Orderly makes every one interrupt
    (app.workflow.engine.deliver), so a diagram that asks otherwise is refused rather than misread."""
    return [Problem("a non-interrupting event subprocess start is not supported; make it interrupting or use a "
                    "non-interrupting boundary event", start.get("id", ""), start.get("name", ""))
            for sub in root.iter(f"{{{BPMN_NS}}}subProcess") if sub.get("triggeredByEvent") == "true"
            for start in sub.findall("bpmn:startEvent", NS) if start.get("isInterrupting") == "false"]


def validate(xml: str | bytes, filename: str, operations: Mapping[str, Callable], max_bytes: int):
    """Parse and check a BPMN file; returns (key, name, specs, called_xml) or raises DeploymentRefused."""
    text = _as_bytes(xml)
    if len(text) > max_bytes:
        raise DeploymentRefused([Problem(f"the file is {len(text)} bytes; the limit is {max_bytes}")])
    root = _parse_document(text, filename)
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise DeploymentRefused([Problem("not a BPMN 2.0 document (the root must be bpmn:definitions)")])
    duplicates = _duplicate_ids(root)
    if duplicates:
        raise DeploymentRefused(duplicates)
    unsupported = _non_interrupting_event_subprocesses(root)
    if unsupported:
        raise DeploymentRefused(unsupported)
    key = _main_process_id(root)
    parser = _new_parser()
    _add(parser, root, filename)
    called_xml = _resolve_called(parser, root)
    try:
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as error:
        raise DeploymentRefused([_problem_from(error)]) from None
    except SpiffWorkflowException as error:
        raise DeploymentRefused([Problem(str(error))]) from None
    checker = _Checker(operations)
    for process_spec in [spec, *subprocess_specs.values()]:
        checker.check(process_spec)
    if checker.problems:
        raise DeploymentRefused(checker.problems)
    name = root.find(f"bpmn:process[@id='{key}']", NS).get("name") or key
    return key, name, (spec, subprocess_specs), called_xml


def deploy(xml: str | bytes, filename: str = "", *, operations, max_bytes: int, by: str = "",
           comment: str = "") -> ProcessDefinition:
    """Deploy as the next version of its process, or return the deployed version with the same content."""
    key, name, specs, called_xml = validate(xml, filename, operations, max_bytes)
    text = _as_bytes(xml).decode("utf-8")
    digest = hashlib.sha256("\x00".join([text, *called_xml]).encode()).hexdigest()
    current = _latest(key)
    if current is not None and current.sha256 == digest:
        return current
    newest = db.session.scalar(select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == key))
    version = (newest or 0) + 1
    definition = ProcessDefinition(
        key=key, version=version, name=name, filename=filename, bpmn_xml=text, called_xml=called_xml,
        sha256=digest, status="deployed", comment=comment, deployed_by=by,
    )
    db.session.add(definition)
    db.session.flush()
    _spec_cache[(key, digest)] = specs
    return definition
