"""The sandbox for every script, condition and timer expression in a diagram.

Process owners edit diagrams in a browser, so their code is untrusted. It is compiled with
RestrictedPython (no imports, no names or attributes starting with an underscore) and runs with
a short list of builtins, the task data, the date/time helpers and the named operations.
"""

import ast
import functools
import json
import operator
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from types import ModuleType
from uuid import UUID

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)

from app import clock

SCRIPT_FILENAME = "<string>"  # the name the engine looks for to report the failing line


class SandboxViolation(ValueError):
    """Code that the sandbox refuses to compile; the message says what and on which line."""

    def __init__(self, message: str, lineno: int = 0):
        super().__init__(message)
        self.lineno = lineno

    def as_syntax_error(self) -> SyntaxError:
        error = SyntaxError(str(self))
        error.lineno = self.lineno
        return error


def _first_line(errors: list[str]) -> int:
    match = re.match(r"Line (\d+)", errors[0])
    return int(match.group(1)) if match else 0


def _reject_imports(source: str, mode: str) -> None:
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError:
        return  # RestrictedPython reports syntax errors with their line
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise SandboxViolation(f"Line {node.lineno}: imports are not allowed in diagrams", node.lineno)


@lru_cache(maxsize=4096)
def compile_script(source: str):
    _reject_imports(source, "exec")
    result = compile_restricted_exec(source, filename=SCRIPT_FILENAME)
    if result.errors:
        raise SandboxViolation("; ".join(result.errors), _first_line(result.errors))
    return result.code


@lru_cache(maxsize=4096)
def compile_expression(source: str):
    _reject_imports(source, "eval")
    result = compile_restricted_eval(source.strip(), filename=SCRIPT_FILENAME)
    if result.errors:
        raise SandboxViolation("; ".join(result.errors), _first_line(result.errors))
    return result.code


_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "|=": operator.ior,
    "&=": operator.iand,
}


def _inplacevar(op: str, target, value):
    try:
        return _INPLACE[op](target, value)
    except KeyError:
        raise SandboxViolation(f"operator {op} is not allowed") from None


_EXTRA_BUILTINS = {
    "dict": dict,
    "list": list,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "sum": sum,
    "min": min,
    "max": max,
    "sorted": sorted,
    "enumerate": enumerate,
    "reversed": reversed,
    "zip": zip,
    "any": any,
    "all": all,
    "map": map,
    "filter": filter,
}
# Class definitions and attribute writes on arbitrary objects have no place in a diagram.
# Class definitions and attribute writes have no place in a diagram; the BaseException-only classes
# would get past the engine's `except Exception` and stop a worker or the scheduler.
_REFUSED_BUILTINS = {"__build_class__", "setattr", "delattr", "id", "BaseException", "SystemExit",
                     "KeyboardInterrupt", "GeneratorExit"}
# datetime.strftime and date.today import `time` behind the scenes; nothing else may be imported.
_INTERNAL_IMPORTS = frozenset({"time", "_strptime"})


def _internal_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002 - import protocol
    if name not in _INTERNAL_IMPORTS or level:
        raise ImportError(f"imports are not allowed in diagrams ({name})")
    return __import__(name, globals, locals, fromlist, level)


BUILTINS = ({k: v for k, v in safe_builtins.items() if k not in _REFUSED_BUILTINS} | _EXTRA_BUILTINS
            | {"__import__": _internal_import})
OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")

_GUARDS = {
    "__builtins__": BUILTINS,
    "__name__": "diagram",
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
}


def _in_duration(duration: str) -> str:
    """The ISO time, with offset, at which an ISO-8601 duration from now ends."""
    parsed = TimerEventDefinition.parse_iso_duration(duration)
    start = clock.now()
    return (start + TimerEventDefinition.get_timedelta_from_start(parsed, start)).isoformat()


def _parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return value


HELPERS: dict[str, object] = {
    "now": clock.now,
    "today": lambda: clock.now().date(),
    "datetime": datetime,
    "date": date,
    "timedelta": timedelta,
    "timezone": timezone,
    "parse_datetime": _parse_datetime,
    "iso": lambda value: value.isoformat(),
    "in_duration": _in_duration,
}

# Names a diagram may never use, even as data, because they read like an escape attempt.
FORBIDDEN_NAMES = frozenset(
    {"open", "eval", "exec", "compile", "globals", "locals", "vars", "getattr", "type", "input",
     "breakpoint", "help", "memoryview", "object", "super", "classmethod", "staticmethod", "property"}
)


def used_names(source: str, mode: str) -> set[str]:
    tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _is_data(value) -> bool:
    return not (callable(value) or isinstance(value, ModuleType))


# What the engine's serializer saves (engine._build_serializer; callables inside containers become None).
_STORABLE = (str, int, float, bool, type(None), datetime, date, timedelta, Decimal, UUID)
_JSON_KEYS = (str, int, float, bool, type(None))


def _unstorable(value) -> str | None:
    """What in `value` task data cannot keep (saving the instance would fail), or None."""
    if isinstance(value, _STORABLE) or callable(value):
        return None
    if isinstance(value, list | tuple | set):
        return next((found for item in value if (found := _unstorable(item))), None)
    if isinstance(value, dict):
        for key, item in value.items():
            found = f"{type(key).__name__} key" if not isinstance(key, _JSON_KEYS) else _unstorable(item)
            if found:
                return found
        return None
    return type(value).__name__


def _check_timer_value(task, definition: TimerEventDefinition, value) -> None:
    """The engine parses a timer's value outside the script engine, where a bad one escapes as a
    plain exception while the task before it completes: refuse it here, as the timer's error."""
    if isinstance(definition, DurationTimerEventDefinition):
        kind, parse = "duration", TimerEventDefinition.parse_iso_duration
    elif isinstance(definition, CycleTimerEventDefinition):
        kind, parse = "recurring interval", TimerEventDefinition.parse_iso_recurring_interval
    else:
        kind, parse = "date and time", TimerEventDefinition.parse_time_or_duration
    try:
        parsed = parse(value) if isinstance(value, str) else None
    except Exception:
        parsed = None
    if kind == "date and time" and isinstance(value, str) and "T" in value and not OFFSET.search(value):
        parsed = None  # without an offset the engine would read it as the server's local time
    if parsed is None or (kind == "date and time" and not isinstance(parsed, datetime)):
        raise WorkflowTaskException(
            f"timer expression {definition.expression.strip()} gave {value!r}, which is not an ISO-8601 {kind}",
            task=task,
        )


class SandboxEnvironment(TaskDataEnvironment):
    """Evaluates and executes diagram code over task data, inside the sandbox."""

    def _scope(self, context: dict, external_context: dict | None) -> dict:
        scope = dict(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        scope.update(_GUARDS)  # last: task data (a message payload) must not replace a guard
        return scope

    def evaluate(self, expression, context, external_context=None):
        try:
            code = compile_expression(expression)
        except SandboxViolation as violation:
            raise violation.as_syntax_error() from None
        return eval(code, self._scope(context, external_context))  # noqa: S307 - restricted code

    def execute(self, script, context, external_context=None):
        self.check_for_overwrite(context, external_context or {})
        try:
            code = compile_script(script)
        except SandboxViolation as violation:
            raise violation.as_syntax_error() from None
        scope = self._scope(context, external_context)
        exec(code, scope)  # noqa: S102 - restricted code
        reserved = set(_GUARDS) | set(self.globals) | set(external_context or {})
        kept = {k: v for k, v in scope.items() if k not in reserved and not k.startswith("_") and _is_data(v)}
        for key, value in kept.items():  # checked before the task data changes, so a retry starts clean
            found = _unstorable(value)
            if found:
                raise TypeError(f"'{key}' holds a {found}, which task data cannot keep (use a list, dict or str)")
        for key in [k for k in context if k not in scope]:
            del context[key]  # the script deleted it
        context.update(kept)
        return True


def _followed_by(fn: Callable, after: Callable[[], object]) -> Callable:
    @functools.wraps(fn)
    def call(*args, **kwargs):
        result = fn(*args, **kwargs)
        after()
        return result

    return call


class SandboxScriptEngine(PythonScriptEngine):
    """The script engine every instance runs with: sandboxed code and the operations registry."""

    def __init__(self, operations: Mapping[str, Callable], after_operation: Callable[[], object] | None = None):
        # after_operation (the runtime's flush) makes a database error surface inside the task that
        # caused it, where it becomes that task's error, not later at the savepoint.
        if after_operation is not None:
            operations = {name: _followed_by(fn, after_operation) for name, fn in operations.items()}
        self.operations = operations
        super().__init__(environment=SandboxEnvironment({**HELPERS, **operations}))

    def evaluate(self, task, expression, external_context=None):
        value = super().evaluate(task, expression, external_context)
        definition = getattr(task.task_spec, "event_definition", None)
        for timer in getattr(definition, "event_definitions", [definition]):
            if isinstance(timer, TimerEventDefinition) and timer.expression == expression:
                _check_timer_value(task, timer, value)
        return value

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        operation = self.operations.get(operation_name)
        if operation is None:
            raise WorkflowTaskException(f"Unknown operation '{operation_name}'", task=task)
        arguments = {name: param["value"] for name, param in (operation_params or {}).items()}
        try:
            result = operation(**arguments)
        except WorkflowTaskException:
            raise
        except Exception as error:  # an operation's failure becomes the task's error
            raise WorkflowTaskException(
                f"Operation '{operation_name}' failed: {error}", task=task, exception=error
            ) from error
        return json.dumps(result, default=str)
