"""Diagram code is untrusted: escapes are refused when the BPMN is deployed, the sandbox refuses them
again at run time, and code that only fails at run time stops its instance in `error`, saved."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.workflow import register_operation, runtime
from app.workflow.models import ProcessDefinition
from app.workflow.sandbox import HELPERS, SandboxEnvironment
from tests.engine import bpmn_factory as bf

# Scripts that try to leave the sandbox, and the words the refusal must contain.
HOSTILE_SCRIPTS = [
    pytest.param("import os\nresult = os.listdir('/')", "imports are not allowed", id="import-os"),
    pytest.param("from subprocess import run\nrun(['id'])", "imports are not allowed", id="from-import"),
    pytest.param("total = 1\nimport shutil", "Line 2", id="import-on-line-2"),
    pytest.param("secret = open('/etc/passwd').read()", "uses open", id="open"),
    pytest.param("classes = ().__class__.__base__.__subclasses__()", '"__class__"', id="subclasses"),
    pytest.param("found = [c for c in ''.__class__.__mro__[1].__subclasses__() if c.__name__ == 'Popen']",
                 '"__mro__"', id="mro-walk"),
    pytest.param("os = __import__('os')", '"__import__"', id="dunder-import"),
    pytest.param("g = now.__globals__", '"__globals__"', id="function-globals"),
    pytest.param("d = order_number.__dict__", '"__dict__"', id="dunder-attribute"),
    pytest.param("b = __builtins__", '"__builtins__"', id="builtins-name"),
    pytest.param("g = _getattr_(now, 'x')", '"_getattr_"', id="guard-name"),
    pytest.param("g = getattr(now, '__glob' + 'als__')", "uses getattr", id="getattr-built-name"),
    pytest.param("x = eval('1 + 1')", "eval calls are not allowed", id="eval"),
    pytest.param("exec('import os')", "exec calls are not allowed", id="exec"),
    pytest.param("c = compile('1', 'x', 'eval')", "uses compile", id="compile"),
    pytest.param("g = globals()", "uses globals", id="globals"),
    pytest.param("v = vars()", "uses vars", id="vars"),
    pytest.param("t = type(now)", "uses type", id="type"),
    pytest.param("o = object", "uses object", id="object"),
    pytest.param("frame = (x for x in [1]).gi_frame", '"gi_frame"', id="generator-frame"),
    pytest.param("def walk():\n    yield 1\nback = walk().gi_frame.f_back", '"gi_frame"', id="frame-f_back"),
]

# The same escapes written as expressions, for conditions, service parameters and timers.
HOSTILE_EXPRESSIONS = [
    pytest.param("open('/etc/passwd').read()", "open", id="open"),
    pytest.param("().__class__.__base__.__subclasses__()", '"__class__"', id="subclasses"),
    pytest.param("__import__('os').system('id')", '"__import__"', id="dunder-import"),
    pytest.param("now.__globals__", '"__globals__"', id="function-globals"),
    pytest.param("getattr(now, 'x')", "getattr", id="getattr"),
    pytest.param("eval('1')", "eval", id="eval"),
    pytest.param("(x for x in [1]).gi_frame", '"gi_frame"', id="generator-frame"),
]


def _count(key: str) -> int:
    return db.session.scalar(select(func.count(ProcessDefinition.id)).where(ProcessDefinition.key == key))


@pytest.mark.parametrize(("code", "says"), HOSTILE_SCRIPTS)
def test_hostile_script_is_refused_at_deploy_naming_the_task(ctx, code, says):
    error = bf.refused(bf.linear("sb_hostile", bf.script("hostile_step", code, name="Sneaky step")))
    problem = bf.problem_for(error, "hostile_step")
    assert says.lower() in problem.message.lower()
    assert "hostile_step" in str(error)
    assert _count("sb_hostile") == 0


@pytest.mark.parametrize(("expression", "says"), HOSTILE_EXPRESSIONS)
def test_hostile_expression_is_refused_wherever_code_runs(ctx, expression, says):
    register_operation(ctx, "echo", lambda value: value)
    placements = {
        # element named by the refusal: the document holding the expression there
        "decide": bf.decision("sb_hostile_condition", expression),
        "call_echo": bf.linear("sb_hostile_parameter", bf.service("call_echo", "echo", value=expression)),
        "wait": bf.linear("sb_hostile_timer", bf.timer("wait", expression)),
    }
    for element_id, xml in placements.items():
        problem = bf.problem_for(bf.refused(xml), element_id)
        assert says.lower() in problem.message.lower(), element_id
    assert db.session.scalar(select(func.count(ProcessDefinition.id))) == 0


@pytest.mark.parametrize(("code", "_says"), HOSTILE_SCRIPTS)
def test_sandbox_refuses_the_same_scripts_at_run_time(code, _says):
    """Deploy-time checks are not the only wall: a definition stored before them, or put in the
    database some other way, still cannot escape when the engine runs it."""
    context = {"order_number": "SO-1"}
    with pytest.raises((SyntaxError, NameError)):
        SandboxEnvironment(dict(HELPERS)).execute(code, context)
    assert context == {"order_number": "SO-1"}


def test_sandbox_cannot_write_files_at_run_time(tmp_path):
    target = tmp_path / "owned.txt"
    with pytest.raises(NameError):
        SandboxEnvironment(dict(HELPERS)).execute(f"open({str(target)!r}, 'w').write('x')", {})
    assert not target.exists()


# Code that deploys (nothing in it can be judged before the data is known) and is refused when it runs.
RUN_TIME_REFUSALS = [
    pytest.param("greeting = template.format(order_number)", "format", id="format-string-from-data"),
    pytest.param("greeting = template.format_map({'o': order_number})", "format", id="format-map-from-data"),
    pytest.param("stamp = now()\nstamp.tzinfo = None", "attribute-less object", id="write-attribute"),
    pytest.param("setattr(order, 'status', 'paid')", "setattr", id="setattr"),
    pytest.param("ident = id(order)", "'id'", id="id"),
    pytest.param("class Escape:\n    pass", "__build_class__", id="class-definition"),
    pytest.param("print(template)", "_print_", id="print"),
    pytest.param("shift = 1\nshift <<= 40", "<<=", id="refused-operator"),
]


@pytest.mark.parametrize(("code", "says"), RUN_TIME_REFUSALS)
def test_script_refused_at_run_time_stops_the_instance_in_error(ctx, code, says):
    bf.deploy(bf.linear("sb_runtime", bf.script("misuse", code)))
    data = {"template": "{0.__class__.__mro__}", "order_number": "SO-1", "order": {"status": "new"}}
    instance = runtime.start("sb_runtime", "SB-1", data)  # must not raise
    instance = bf.reload(instance)
    assert instance.status == "error"
    assert instance.error["element_id"] == "misuse"
    assert says in instance.error["message"]
    [event] = bf.events(instance.id, "error")
    assert event.element_id == "misuse" and event.detail["message"] == instance.error["message"]


@pytest.mark.parametrize(("condition", "unknown"), [
    pytest.param("id(order) > 0", "id", id="refused-builtin"),
    pytest.param("boom('x') == 1", "boom", id="unknown-function"),
    pytest.param("working_days_left('review')", "working_days_left", id="helper-that-does-not-exist"),
])
def test_expression_calling_what_the_sandbox_lacks_is_refused_at_deploy(ctx, condition, unknown):
    error = bf.refused(bf.decision("sb_unknown_call", condition))
    problem = bf.problem_for(error, "decide")
    assert f"calls {unknown}, which is neither a helper nor an operation" in problem.message


@pytest.mark.parametrize(("condition", "says"), [
    pytest.param("template.format(1) == ''", "format", id="format-string-from-data"),
])
def test_condition_refused_at_run_time_stops_the_instance_in_error(ctx, condition, says):
    bf.deploy(bf.decision("sb_runtime_condition", condition))
    instance = runtime.start("sb_runtime_condition", "SB-2", {"order": {}, "template": "{0.__class__}"})
    instance = bf.reload(instance)
    assert instance.status == "error"
    assert instance.error["element_id"] == "decide"
    assert says in instance.error["message"]
    assert [e.element_id for e in bf.events(instance.id, "error")] == ["decide"]


@pytest.mark.parametrize(("expression", "kind", "value"), [
    pytest.param("remind_after", "timeDuration", "4 hours", id="duration-not-iso"),
    pytest.param("remind_after", "timeDuration", 5, id="duration-not-a-string"),
    pytest.param("deliver_by", "timeDate", "next tuesday", id="date-not-iso"),
])
def test_timer_reading_bad_task_data_stops_the_instance_in_error(ctx, expression, kind, value):
    """A timer expression that names task data deploys (the data exists only at run time)."""
    bf.deploy(bf.linear("sb_runtime_timer", bf.timer("wait", expression, kind=kind)))
    instance = runtime.start("sb_runtime_timer", "SB-3", {expression: value})
    instance = bf.reload(instance)
    assert instance.status == "error"
    assert instance.error["element_id"] == "wait"
    assert repr(value) in instance.error["message"]


@pytest.mark.parametrize("code", [
    pytest.param("pairs = zip(names, names)", id="zip"),
    pytest.param("backwards = reversed(names)", id="iterator"),
    pytest.param("span = range(3)", id="range"),
    pytest.param("zone = timezone.utc", id="timezone"),
    pytest.param("raw = 'x'.encode()", id="bytes"),
])
def test_value_task_data_cannot_keep_stops_the_instance_in_error(ctx, code):
    """Task data is saved as JSON: a value that cannot be saved is the script's error, not a crash
    of the request that ran it."""
    bf.deploy(bf.linear("sb_unstorable", bf.script("keep", code)))
    instance = runtime.start("sb_unstorable", "SB-4", {"names": ["a", "b"]})
    instance = bf.reload(instance)
    assert instance.status == "error"
    assert instance.error["element_id"] == "keep"
    assert code.split(" =")[0] in instance.error["message"]


ALLOWED = """\
subtotal = sum([line['qty'] * line['price'] for line in lines])
discount = subtotal * 10 / 100 if subtotal > 100 else 0
total = subtotal - discount
count = 0
skus = []
for line in lines:
    count += line['qty']
    skus.append(line['sku'])
count -= 1
count *= 2
by_sku = {line['sku']: line['qty'] for line in lines}
summary = dict(count=count, skus=sorted(skus), biggest=max(by_sku.values()))
a, b = divmod(17, 5)
stamp = iso(now())
follow_up = in_duration('PT4H')
in_a_day = iso(now() + timedelta(days=1))
tally = add_up(values=[a, b, count])
"""


def test_allowed_code_runs_in_the_sandbox(ctx):
    frozen = datetime(2030, 3, 1, 9, 30, tzinfo=UTC)
    clock.freeze(frozen)
    register_operation(ctx, "add_up", lambda values: {"sum": sum(values), "n": len(values)})
    condition = "total < 100 and 'B-2' in summary['skus'] and tally['n'] == 3"  # what the script built
    bf.deploy(bf.decision("sb_allowed", condition, before=(bf.script("compute", ALLOWED),)))
    lines = [{"sku": "A-1", "qty": 2, "price": 40}, {"sku": "B-2", "qty": 3, "price": 10}]
    instance = runtime.start("sb_allowed", "SB-5", {"lines": lines})
    assert bf.reload(instance).status == "completed", instance.error
    data = bf.final_data(instance)
    assert data["branch"] == "yes"
    assert (data["subtotal"], data["discount"], data["total"]) == (110, 11, 99)
    assert data["count"] == (2 + 3 - 1) * 2
    assert data["summary"] == {"count": 8, "skus": ["A-1", "B-2"], "biggest": 3}
    assert (data["a"], data["b"]) == (3, 2)
    assert data["stamp"] == frozen.isoformat()
    assert data["follow_up"] == (frozen + timedelta(hours=4)).isoformat()
    assert data["in_a_day"] == (frozen + timedelta(days=1)).isoformat()
    assert data["tally"] == {"sum": 3 + 2 + 8, "n": 3}


def test_the_shared_script_engine_sees_an_operation_registered_after_it_was_built(ctx):
    before = runtime._script_engine()
    assert runtime._script_engine() is before  # one per application, not one per step
    assert "shout" not in before.operations
    register_operation(ctx, "shout", lambda text: text.upper())
    after = runtime._script_engine()
    assert after is not before and "shout" in after.operations
    bf.deploy(bf.linear("sb_shout", bf.service("call_shout", "shout", text="'hi'")))
    instance = runtime.start("sb_shout", "SB-SHOUT")
    assert instance.status == "completed"
