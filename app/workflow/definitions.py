"""Deploying BPMN as numbered versions of a process, after checking everything that will run.

A deployment is refused, with the BPMN element named, for malformed XML, a DOCTYPE, a schema
violation, a missing called process, code the sandbox will not compile, a timer that cannot
evaluate, an unknown operation, a user task outside a known lane, or a missing form. Files drawn for
other engines are refused where they ask for what this engine would not do (JUEL or FEEL expressions,
Groovy scripts, Java delegates, compensation, data stores); whatever the parser trips over is refused too,
naming the element when it can, so no upload ends in a server error.
"""

import ast
import hashlib
import inspect
import re
import threading
import weakref
from collections.abc import Callable, Mapping
from contextlib import contextmanager

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
from sqlalchemy import bindparam, func, select

from app import forms
from app.accounts.roles import LANE_ROLES
from app.extensions import db
from app.workflow import engine
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
# Column sizes of ProcessDefinition.key and of the element ids the engine stores (HumanTask, InstanceEvent).
MAX_KEY = MAX_ELEMENT_ID = 120
# A key goes into URLs and XPath: an XML name (the XSD's xs:ID), nothing a browser or a query must escape.
PROCESS_KEY = re.compile(r"^[^\W\d][\w.-]*$")
_HTML = re.compile(rb"^(\xef\xbb\xbf)?\s*(<!--.*?-->\s*)*<(!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)


def _parse_document(text: bytes, filename: str) -> etree._Element:
    if _HTML.match(text[:4096]):  # a login or error page saved instead of the diagram
        raise DeploymentRefused([Problem(f"not a BPMN 2.0 document: {filename or 'the file'} is an HTML page")])
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


def _executable(process: etree._Element) -> bool:
    return process.get("isExecutable", "true").strip() in ("true", "1")


def _main_process_id(root: etree._Element) -> str:
    unnamed = [p for p in root.findall("bpmn:process", NS) if not p.get("id")]
    if unnamed:
        raise DeploymentRefused([Problem("a process has no id; give it one", "", p.get("name", ""), p.sourceline)
                                 for p in unnamed])
    processes = [p for p in root.findall("bpmn:process", NS) if _executable(p)]
    called = {c.get("calledElement") for c in root.iter(f"{{{BPMN_NS}}}callActivity")}
    mains = [p for p in processes if p.get("id") not in called]
    if not mains:
        # Modelers that only draw (bpmn.io's demo, Signavio) mark their processes not executable.
        sketches = [p for p in root.findall("bpmn:process", NS) if not _executable(p)]
        if sketches:
            raise DeploymentRefused([_problem_at(p, 'the process is marked as not executable (isExecutable="false"); '
                                                   "only an executable process can be deployed") for p in sketches])
    if len(mains) != 1:
        found = ", ".join(p.get("id") for p in mains) or "none"
        message = f"a file must hold exactly one executable top-level process (found: {found})"
        raise DeploymentRefused([Problem(message)])
    main = mains[0]
    key = main.get("id")
    if len(key) > MAX_KEY:
        raise DeploymentRefused([_problem_at(main, f"the process id is {len(key)} characters long; "
                                                   f"the limit is {MAX_KEY}")])
    if not PROCESS_KEY.match(key):
        raise DeploymentRefused([_problem_at(main, f"the process id {key!r} cannot name a process: use letters, "
                                                   "digits, '_', '-' and '.', starting with a letter or '_'")])
    return key


def _process(root: etree._Element, key: str) -> etree._Element:
    return next(p for p in root.findall("bpmn:process", NS) if p.get("id") == key)


# Built once: every new instance reads it.
_LATEST = (select(ProcessDefinition)
           .where(ProcessDefinition.key == bindparam("key"), ProcessDefinition.status == "deployed")
           .order_by(ProcessDefinition.version.desc())
           .limit(1))


def _latest(key: str) -> ProcessDefinition | None:
    return db.session.scalar(_LATEST, {"key": key})


def latest(key: str) -> ProcessDefinition:
    definition = _latest(key)
    if definition is None:
        raise NotFound(f"no deployed process '{key}'")
    return definition


def _add(parser: SpiffBpmnParser, root: etree._Element, filename: str) -> None:
    with _refusing(root):
        parser.add_bpmn_xml(root, filename=filename)


@contextmanager
def _refusing(root: etree._Element):
    """Whatever the parser raises becomes a refusal: a foreign file must never end in a server error."""
    try:
        yield
    except DeploymentRefused:
        raise
    except ValidationException as error:
        raise DeploymentRefused([_problem_from(error, root)]) from None
    except SpiffWorkflowException as error:
        raise DeploymentRefused([Problem(_plain(str(error)))]) from None
    except Exception as error:  # the parser's own KeyError, AttributeError, TypeError … on odd input
        node = _node_in_traceback(error)
        what = f"this {etree.QName(node).localname}" if node is not None else "the file"
        message = _plain(f"the engine could not read {what}: {type(error).__name__}: {error}")
        raise DeploymentRefused([_problem_at(node, message) if node is not None else Problem(message)]) from None


def _node_in_traceback(error: Exception) -> etree._Element | None:
    """The innermost BPMN element a parser frame was working on (`node` or `self.node`), if any."""
    found, frame = None, error.__traceback__
    while frame is not None:
        local = frame.tb_frame.f_locals
        node = local.get("node", getattr(local.get("self"), "__dict__", {}).get("node"))  # no property is run
        if isinstance(node, etree._Element) and node.get("id"):
            found = node
        frame = frame.tb_next
    return found


def _problem_at(element: etree._Element, message: str) -> Problem:
    return Problem(message, element.get("id", ""), element.get("name", ""), element.sourceline)


_SHORT_NAMESPACES = {
    f"{{{BPMN_NS}}}": "bpmn:", "{http://www.omg.org/spec/BPMN/20100524/DI}": "bpmndi:",
    "{http://www.omg.org/spec/DD/20100524/DC}": "dc:", "{http://www.omg.org/spec/DD/20100524/DI}": "di:",
    "{http://spiffworkflow.org/bpmn/schema/1.0/core}": "spiffworkflow:",
}


def _plain(message: str) -> str:
    """The parser's message without XML namespaces in braces, raw XML or doubled full stops."""
    for namespace, prefix in _SHORT_NAMESPACES.items():
        message = message.replace(namespace, prefix)
    message = re.sub(r"\s+", " ", message).strip()
    return re.sub(r"\.(\s*\.)+", ".", message)[:500]


def _problem_from(error: ValidationException, root: etree._Element | None = None) -> Problem:
    line = error.line_number if isinstance(error.line_number, int) else None
    message = str(error).split("\n")[0]
    element_id, name = error.id or "", error.name or ""
    wrapped = re.match(r"^(\w+)\(", message)  # the parser wraps its own exceptions as their repr
    kind = (getattr(error, "tag", "") or "element").removeprefix("bpmn:")
    if wrapped and wrapped.group(1) == "NotImplementedError":
        message = f"the engine does not support this kind of {kind}"
    elif wrapped and wrapped.group(1).endswith(("Error", "Exception")):
        message = f"the engine could not read this {kind}: {message}"
    if root is not None and not element_id and line:
        # Schema errors carry only a line: name the element written there, or the nearest one with an id.
        element = next((e for e in root.iter() if isinstance(e.tag, str) and e.sourceline == line), None)
        while element is not None and not element.get("id"):
            element = element.getparent()
        if element is not None and element is not root:  # the root is no answer: the file is on one line
            element_id, name = element.get("id"), element.get("name", "")
    elif root is not None and element_id and line is None:
        element = next((e for e in root.iter() if isinstance(e.tag, str) and e.get("id") == element_id), None)
        line = element.sourceline if element is not None else None
    return Problem(_plain(message), element_id, name, line)


def _resolve_called(parser: SpiffBpmnParser, root: etree._Element) -> list[str]:
    """Bring in deployed processes this file calls but does not hold; their XML travels along."""
    called_xml: list[str] = []
    problems = []
    pending = [(c.get("calledElement"), c) for c in root.iter(f"{{{BPMN_NS}}}callActivity")]
    seen = set(parser.get_process_ids())
    while pending:
        process_id, element = pending.pop()
        if not process_id:
            problems.append(_problem_at(element, "a call activity must name the process it calls (calledElement)"))
            continue
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


# Per database (its engine), a version's row id → its spec cache key: deployed versions never change, so
# a step restores its instance without reading the process_definition row once the version is known.
_cache_keys: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _specs_of(instance):
    known = _cache_keys.setdefault(db.engine, {})
    cache_key = known.get(instance.definition_id)
    cached = _spec_cache.get(cache_key) if cache_key is not None else None
    if cached is None:
        definition = instance.definition
        known[instance.definition_id] = (definition.key, definition.sha256)
        cached = specs_for(definition)
    return cached


def restore(instance, script_engine):
    """The instance's saved workflow, on the shared parsed version it runs (see engine.SPEC_FROM_DEFINITION)."""
    return engine.load(instance.state, script_engine, lambda: _specs_of(instance))


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
            # An untyped task (what Bizagi and Signavio draw) waits for a person in this engine, as a user task does.
            what = {"NoneTask": "a task without a type is done by a person, so it",
                    "ManualTask": "a manual task is done by a person, so it"}.get(type(spec).__name__, "a user task")
            self.fail(spec, f"{what} must sit in a lane naming the role that does it")
        elif spec.lane not in LANE_ROLES:
            self.fail(spec, f"lane '{spec.lane}' is not a role ({', '.join(LANE_ROLES)})")
        form_key = (spec.extensions or {}).get("properties", {}).get("formKey")
        if form_key and not forms.exists(form_key):
            self.fail(spec, f"form '{form_key}' does not exist in forms/")

    def check(self, process_spec) -> None:
        for spec in process_spec.task_specs.values():
            try:
                self.check_task(spec)
            except Exception as error:  # an odd spec from a foreign file; name it rather than fail the upload
                self.fail(spec, f"could not be checked: {type(error).__name__}: {error}")

    def check_task(self, spec) -> None:
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


# Where other engines' expressions sit, what to call each in a message, and a Python example of it.
_EXPRESSIONS = {
    "conditionExpression": ("the condition", "amount > 100"), "condition": ("the condition", "amount > 100"),
    "loopCondition": ("the loop condition", "attempts >= 3"),
    "completionCondition": ("the completion condition", "approved_count >= 2"),
    "loopCardinality": ("the number of instances", "len(items)"),
    "timeDate": ("the timer", '"2030-01-31T09:00:00Z"'), "timeDuration": ("the timer", '"PT4H"'),
    "timeCycle": ("the timer", '"R3/PT1H"'),
}
_PYTHON = {"python", "python3", "py", "text/x-python", "application/x-python", "text/python"}
_JUEL = re.compile(r"^\s*[$#]\{.*\}\s*$", re.DOTALL)
_REFERENCES = {"messageRef": "message", "signalRef": "signal", "errorRef": "error", "escalationRef": "escalation"}
# Where Camunda, Zeebe, Activiti and Flowable say what a service task runs; none of it runs here.
_FOREIGN_IMPLEMENTATION = ("class", "expression", "delegateExpression", "type", "topic", "taskDefinition", "connector")


def _bpmn(element: etree._Element, *names: str) -> bool:
    return isinstance(element.tag, str) and element.tag in {f"{{{BPMN_NS}}}{name}" for name in names}


def _owner(element: etree._Element) -> etree._Element:
    """The element a person sees in the diagram: a flow or an event, not its event or loop definition."""
    owner = element.getparent()
    while owner is not None and (not owner.get("id") or etree.QName(owner).localname.endswith(
            ("EventDefinition", "LoopCharacteristics"))):
        owner = owner.getparent()
    return owner if owner is not None else element


def _written_as(element: etree._Element, qname: str) -> str:
    """A foreign attribute or element as its file writes it, e.g. camunda:expression."""
    name = etree.QName(qname)
    prefix = next((p for p, uri in element.nsmap.items() if uri == name.namespace and p), None)
    return f"{prefix}:{name.localname}" if prefix else name.localname


def _foreign_expression(element: etree._Element) -> str | None:
    what, example = _EXPRESSIONS[etree.QName(element).localname]
    text = (element.text or "").strip()
    language = (element.get("language") or "").strip()
    shown = text if len(text) <= 80 else text[:77] + "..."
    if _JUEL.match(text):
        kind = "JUEL (Camunda 7, Activiti, Flowable)"
    elif text.startswith("="):
        kind = "FEEL (Camunda 8)"
    elif language and language.lower() not in _PYTHON:
        return f"{what} is not Python: it is written in {language}; write it in Python, e.g. {example}"
    else:
        return None
    return f"{what} is not Python: {shown} is {kind}; write it in Python, e.g. {example}"


def _foreign_service(task: etree._Element) -> str | None:
    extensions = task.find("bpmn:extensionElements", NS)
    children = [] if extensions is None else [c for c in extensions if isinstance(c.tag, str)]
    if any(c.tag == "{http://spiffworkflow.org/bpmn/schema/1.0/core}serviceTaskOperator" for c in children):
        return None
    foreign = [_written_as(task, name) for name in task.attrib
               if etree.QName(name).namespace and etree.QName(name).localname in _FOREIGN_IMPLEMENTATION]
    foreign += [_written_as(c, c.tag) for c in children if etree.QName(c).localname in _FOREIGN_IMPLEMENTATION]
    message = "a service task must call one of Orderly's operations (spiffworkflow:serviceTaskOperator)"
    return f"{message}; {', '.join(foreign)} is for another engine and does not run here" if foreign else message


def _foreign_constructs(root: etree._Element) -> list[Problem]:
    """What files drawn for other engines ask for and this engine would misread or ignore, named where it is
    drawn; checked before the parser, which stops at the first problem and words it for programmers."""
    problems: list[Problem] = []
    defined = {(etree.QName(e).localname, e.get("id")) for e in root if isinstance(e.tag, str)}
    # A pool that is not executable is only a picture (the customer, the bank): nothing in it runs.
    drawn = [e for e in root if isinstance(e.tag, str) and not (_bpmn(e, "process") and not _executable(e))]
    for element in (element for top in drawn for element in top.iter()):
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if element.tag.startswith(f"{{{BPMN_NS}}}") and len(element.get("id", "")) > MAX_ELEMENT_ID:
            problems.append(_problem_at(element, f"the id is {len(element.get('id'))} characters long; "
                                                 f"the limit is {MAX_ELEMENT_ID}"))
        if not element.tag.startswith(f"{{{BPMN_NS}}}"):
            continue
        if local in _EXPRESSIONS and (message := _foreign_expression(element)):
            problems.append(_problem_at(_owner(element), message))
        elif local == "scriptTask" and (element.get("scriptFormat") or "python").strip().lower() not in _PYTHON:
            problems.append(_problem_at(element, f"the script is not Python: it is written in "
                                                 f"{element.get('scriptFormat')}; scripts here are Python"))
        elif local == "serviceTask" and (message := _foreign_service(element)):
            problems.append(_problem_at(element, message))
        elif local == "businessRuleTask":
            problems.append(_problem_at(element, "a business rule task needs a DMN decision table, which this "
                                                 "engine does not run; use a script task or a gateway"))
        elif local == "compensateEventDefinition":
            problems.append(_problem_at(_owner(element), "compensation is not supported by the engine; draw the "
                                                         "undoing as steps on an ordinary path"))
        elif local == "dataStoreReference":
            problems.append(_problem_at(element, "data stores are not supported by the engine; keep the data in "
                                                 "the task data or reach it through an operation"))
        for attribute, kind in _REFERENCES.items():
            reference = element.get(attribute)
            if reference and (kind, reference) not in defined:
                named = element if element.get("id") and not local.endswith("EventDefinition") else _owner(element)
                problems.append(_problem_at(named, f"refers to {kind} '{reference}', which this file does not define"))
    if not any(_bpmn(e, "dataStoreReference") for e in root.iter()):
        problems += [_problem_at(store, "data stores are not supported by the engine; keep the data in the task "
                                        "data or reach it through an operation")
                     for store in root.findall("bpmn:dataStore", NS)]
    return problems


def parse_bpmn(text: bytes, filename: str = "") -> etree._Element:
    """The root of a BPMN 2.0 document, parsed safely, or DeploymentRefused saying what the file is instead."""
    root = _parse_document(text, filename)
    if root.tag != f"{{{BPMN_NS}}}definitions":
        found = etree.QName(root)
        raise DeploymentRefused([Problem(f"not a BPMN 2.0 document (the root must be bpmn:definitions, not "
                                         f"{found.localname} in {found.namespace or 'no namespace'})")])
    return root


def validate(xml: str | bytes, filename: str, operations: Mapping[str, Callable], max_bytes: int):
    """Parse and check a BPMN file; returns (key, name, specs, called_xml) or raises DeploymentRefused."""
    text = _as_bytes(xml)
    if len(text) > max_bytes:
        raise DeploymentRefused([Problem(f"the file is {len(text)} bytes; the limit is {max_bytes}")])
    root = parse_bpmn(text, filename)
    duplicates = _duplicate_ids(root)
    if duplicates:
        raise DeploymentRefused(duplicates)
    unsupported = _non_interrupting_event_subprocesses(root) + _foreign_constructs(root)
    if unsupported:
        raise DeploymentRefused(unsupported)
    key = _main_process_id(root)
    parser = _new_parser()
    _add(parser, root, filename)
    called_xml = _resolve_called(parser, root)
    with _refusing(root):
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    checker = _Checker(operations)
    for process_spec in [spec, *subprocess_specs.values()]:
        checker.check(process_spec)
    if checker.problems:
        lines = {e.get("id"): e.sourceline for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
        for problem in checker.problems:
            problem.line = problem.line or lines.get(problem.element_id)
        raise DeploymentRefused(checker.problems)
    name = _process(root, key).get("name") or key
    return key, name, (spec, subprocess_specs), called_xml


def deploy(xml: str | bytes, filename: str = "", *, operations, max_bytes: int, by: str = "",
           comment: str = "") -> ProcessDefinition:
    """Deploy as the next version of its process, or return the deployed version with the same content."""
    key, name, specs, called_xml = validate(xml, filename, operations, max_bytes)
    text = _as_bytes(xml).decode("utf-8-sig")  # without a byte order mark: the stored text is read back as XML
    name, filename = name[:200], filename[:200]  # the columns' sizes; the XML keeps the whole name
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
