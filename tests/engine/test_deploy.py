"""Deployment refuses bad BPMN naming the element at fault and leaves the deployed version alone;
versions are numbered by content, and an instance stays on the version it started with."""

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.workflow import definitions, register_operation, runtime
from app.workflow.models import HumanTask, ProcessDefinition
from tests.engine import bpmn_factory as bf

KEY = "sb_shop"


def shop(version: str = "v1", *, prepare: str | None = None, lane: str | None = "order_desk",
         form_key: str | None = "review_order", deadline: str = '"PT4H"', operation: str = "echo",
         extra: tuple[bf.Node, ...] = ()) -> str:
    """start → prepare → review (deadline on its boundary) → notify → [extra…] → finish → end.
    `finish` records which version ran it, after the human task."""
    return bf.linear(
        KEY,
        bf.script("prepare", prepare or f"marker = '{version}'"),
        bf.user("review", lane=lane, form_key=form_key, name="Review"),
        bf.service("notify", operation, value="marker"),
        *extra,
        bf.script("finish", f"finished_with = '{version}'"),
        extra=(bf.boundary_timer("review_late", "review", deadline), bf.end("late")),
        extra_flows=(bf.flow("review_late", "late"),),
    )


@pytest.fixture
def v1(ctx):
    register_operation(ctx, "echo", lambda value: value)
    return bf.deploy(shop(), "sb_shop.bpmn")


def _versions() -> list[int]:
    return list(db.session.scalars(
        select(ProcessDefinition.version).where(ProcessDefinition.key == KEY).order_by(ProcessDefinition.version)
    ))


def _review_task(instance_id: int) -> HumanTask:
    return db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.element_id == "review",
                                HumanTask.state == "open")
    ).one()


def _xxe() -> str:
    document = shop("v2", prepare="marker = '&xxe;'")
    return document.replace(
        "<bpmn:definitions",
        '<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<bpmn:definitions', 1,
    )


def _xxe_utf16() -> bytes:
    # Not one byte of "<!DOCTYPE" survives: the declaration can only be seen after decoding.
    return _xxe().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")


def _xxe_utf7() -> bytes:
    head, rest = _xxe().split("<!DOCTYPE", 1)
    doctype, body = rest.split("]>", 1)
    escaped = "".join({"<": "+ADw-", ">": "+AD4-", '"': "+ACI-", "[": "+AFs-", "]": "+AF0-"}.get(c, c)
                      for c in f"<!DOCTYPE{doctype}]>")
    return (head.replace('encoding="UTF-8"', 'encoding="UTF-7"') + escaped + body).encode("ascii")


# (document of the next version, element the refusal names ("" for the document), words it says)
BAD_VERSIONS = [
    pytest.param(lambda: shop("v2").replace('<bpmn:endEvent id="late"/>', '<bpmn:endEvent id="late">'),
                 "", "malformed XML", id="malformed-xml"),
    pytest.param(lambda: shop("v2", operation="send_fax"), "notify", "unknown operation 'send_fax'",
                 id="unknown-operation"),
    pytest.param(lambda: shop("v2", deadline="PT4H"), "review_late", 'must be quoted, e.g. "PT4H"',
                 id="unquoted-iso-timer"),
    pytest.param(lambda: shop("v2", extra=(bf.call("ask_credit", "sb_no_such_process"),)), "ask_credit",
                 "calls process 'sb_no_such_process', which is neither in this file nor deployed",
                 id="missing-called-process"),
    pytest.param(_xxe, "", "DOCTYPE or entity declaration", id="doctype-xxe"),
    pytest.param(_xxe_utf16, "", "DOCTYPE or entity declaration", id="doctype-xxe-utf16"),
    pytest.param(_xxe_utf7, "", "DOCTYPE or entity declaration", id="doctype-xxe-utf7"),
    pytest.param(lambda: shop("v2").replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"), "",
                 "must be encoded as UTF-8", id="not-utf8"),
    pytest.param(lambda: shop("v2", lane=None), "review", "must sit in a lane", id="user-task-without-lane"),
    pytest.param(lambda: shop("v2", lane="marketing"), "review", "lane 'marketing' is not a role",
                 id="lane-not-a-role"),
    pytest.param(lambda: shop("v2", form_key="no_such_form"), "review", "form 'no_such_form' does not exist",
                 id="missing-form"),
    pytest.param(lambda: shop("v2", prepare="marker = 'v2'\nif marker ==\n    pass"), "prepare", "Line 2",
                 id="script-syntax-error"),
]


@pytest.mark.parametrize(("make", "element_id", "says"), BAD_VERSIONS)
def test_bad_bpmn_is_refused_naming_the_element_and_v1_stays(v1, make, element_id, says):
    error = bf.refused(make(), "sb_shop.bpmn")
    problem = bf.problem_for(error, element_id)
    assert says in problem.message
    if element_id:
        assert element_id in str(error)
    assert "root:" not in str(error)  # nothing of /etc/passwd comes back, whatever the variant
    _assert_v1_still_serves(v1)


def test_malformed_xml_names_the_line(v1):
    broken = shop("v2").replace('<bpmn:endEvent id="late"/>', '<bpmn:endEvent id="late">')
    [problem] = bf.refused(broken).problems
    assert problem.line == broken[:broken.index("</bpmn:process>")].count("\n") + 1  # where the parser noticed


def test_file_over_the_size_limit_is_refused(v1, ctx):
    text = shop("v2")
    ctx.config["MAX_BPMN_BYTES"] = len(text.encode()) - 1
    [problem] = bf.refused(text).problems
    assert problem.message == f"the file is {len(text.encode())} bytes; the limit is {len(text.encode()) - 1}"
    ctx.config["MAX_BPMN_BYTES"] = len(text.encode())
    assert bf.deploy(text).version == 2  # exactly at the limit is allowed


def _assert_v1_still_serves(v1):
    db.session.expire_all()
    assert _versions() == [1]
    assert definitions.latest(KEY).id == v1.id
    instance = runtime.start(KEY, "SB-AFTER-REFUSAL")
    assert instance.definition_id == v1.id
    assert bf.events(instance.id, "started")[0].detail["version"] == 1


def test_same_file_twice_keeps_one_version(v1):
    again = bf.deploy(shop(), "sb_shop.bpmn")
    assert again.id == v1.id and again.version == 1
    assert _versions() == [1]


def test_changed_file_is_version_2_and_running_instances_stay_on_version_1(v1):
    on_v1 = runtime.start(KEY, "SB-OLD")
    v2 = bf.deploy(shop("v2"), "sb_shop.bpmn")
    assert (v2.version, _versions()) == (2, [1, 2])
    assert definitions.latest(KEY).id == v2.id
    on_v2 = runtime.start(KEY, "SB-NEW")
    assert (on_v1.definition_id, on_v2.definition_id) == (v1.id, v2.id)

    # Both wait at the review; each carries on with the BPMN it started with.
    for instance in (on_v1, on_v2):
        runtime.complete_task(instance.id, _review_task(instance.id).spiff_task_id, {"approved": True})
    assert bf.final_data(on_v1)["finished_with"] == "v1"
    assert bf.final_data(on_v2)["finished_with"] == "v2"
    assert bf.final_data(on_v1)["result"] == "v1"  # notify echoed v1's marker through the operation


def test_call_activity_to_a_separately_deployed_process_runs_end_to_end(ctx):
    credit_check = bf.linear(
        "sb_credit_check",
        bf.user("check_credit", lane="credit", name="Check credit"),
        bf.script("rate", "credit_ok = amount <= 1000"),
    )
    order = bf.linear(
        "sb_order_with_credit",
        bf.call("ask_credit", "sb_credit_check"),
        bf.script("after", "outcome = 'accepted' if credit_ok else 'refused'"),
    )
    bf.deploy(credit_check, "sb_credit_check.bpmn")
    parent = bf.deploy(order, "sb_order_with_credit.bpmn")
    assert parent.called_xml == [credit_check]  # the called process travels with the version

    instance = runtime.start("sb_order_with_credit", "SB-CREDIT", {"amount": 400})
    assert bf.reload(instance).status == "running"
    [task] = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).all()
    assert (task.element_id, task.role, task.title, task.business_key, task.state) == (
        "check_credit", "credit", "Check credit", "SB-CREDIT", "open")

    runtime.complete_task(instance.id, task.spiff_task_id, {})
    assert bf.reload(instance).status == "completed"
    data = bf.final_data(instance)
    assert (data["amount"], data["credit_ok"], data["outcome"]) == (400, True, "accepted")
    assert db.session.get(HumanTask, task.id).state == "completed"
    assert db.session.scalar(select(func.count(ProcessDefinition.id))) == 2


def test_an_id_used_twice_is_refused_by_name(v1):
    # A service task with the id of its own operation: the engine would pick the wrong node.
    document = shop("v2").replace('id="notify"', 'id="echo"').replace('sourceRef="notify"', 'sourceRef="echo"')
    document = document.replace('targetRef="notify"', 'targetRef="echo"').replace(">notify<", ">echo<")
    error = bf.refused(document)
    problem = bf.problem_for(error, "echo")
    assert "used by 2 elements" in problem.message and "serviceTaskOperator" in problem.message
    assert _versions() == [1]


def test_timer_arithmetic_is_not_run_at_deploy_but_fails_clearly_at_run_time(v1):
    # Only literals, names and helper calls are tried at deploy time: anything else could run for ever.
    bf.deploy(shop("v2", deadline='"PT" + str(1 // 0) + "H"'), "sb_shop.bpmn")
    assert _versions() == [1, 2]
    instance = runtime.start(KEY, "SO-TIMER")
    assert instance.status == "error"
    assert instance.error["element_id"] == "review_late" and "ZeroDivisionError" in instance.error["message"]
