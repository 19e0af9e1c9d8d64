"""`flask processes …`, `flask demo` and `flask scheduler --drain`."""

from pathlib import Path

from sqlalchemy import func, select

from app.accounts.models import User
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.workflow.models import HumanTask, ProcessDefinition, ProcessInstance


def test_deploy_shipped_workflows_is_idempotent(runner, ctx):
    first = runner.invoke(args=["processes", "deploy"])
    assert first.exit_code == 0, first.output
    assert "order_process v1" in first.output and "exception_handling v1" in first.output
    second = runner.invoke(args=["processes", "deploy"])
    assert second.exit_code == 0 and "order_process v1" in second.output
    assert db.session.scalar(select(func.count(ProcessDefinition.id))) == 2
    listing = runner.invoke(args=["processes", "list"])
    assert "order_process" in listing.output and "deployed" in listing.output


def test_refused_deploy_names_the_element_and_exits_nonzero(runner, ctx, tmp_path):
    shipped = Path(ctx.config["WORKFLOWS_DIR"]) / "order_process.bpmn"
    broken = tmp_path / "broken.bpmn"
    text = shipped.read_text(encoding="utf-8")
    text = text.replace('Operator id="check_intake"', 'Operator id="no_such_operation"', 1)
    broken.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["processes", "deploy", str(broken)])
    assert result.exit_code == 1
    where = text[:text.index('Operator id="no_such_operation"')].rindex("<bpmn:serviceTask")
    assert text[where:].startswith('<bpmn:serviceTask id="do_check_intake"')
    task_line = text[:where].count("\n") + 1
    assert (f"do_check_intake (Check the order is complete), line {task_line}: unknown operation "
            "'no_such_operation'") in result.output, result.output
    assert db.session.scalar(select(func.count(ProcessDefinition.id))) == 0


def test_demo_loads_once_with_orders_at_every_stage(runner, ctx):
    assert runner.invoke(args=["processes", "deploy"]).exit_code == 0
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0 and "demo data loaded" in first.output, first.output
    statuses = sorted(db.session.scalars(select(ProcessInstance.status)))
    assert statuses.count("completed") >= 2 and "running" in statuses and "waiting" in statuses
    open_elements = set(db.session.scalars(select(HumanTask.element_id).where(HumanTask.state == "open")))
    assert {"clarify_order", "review_order", "credit_review", "negotiate_order", "produce_goods", "pick_goods",
            "pack_goods", "check_goods", "arrange_shipment", "collections", "follow_up", "triage"} <= open_elements
    cases = {(c.type, c.source, c.status) for c in db.session.scalars(select(ExceptionCase))}
    assert {("stockout", "process", "open"), ("data_change", "staff", "open"), ("damaged", "staff", "open"),
            ("complaint", "staff", "open")} <= cases
    locales = dict(db.session.execute(select(User.username, User.locale)).all())
    assert locales.pop("warehouse") == "zh" and set(locales.values()) == {"en"}  # as the README says
    again = runner.invoke(args=["demo"])
    assert "already loaded" in again.output
    assert db.session.scalar(select(func.count(ProcessInstance.id))) == len(statuses)


def test_scheduler_drain_with_nothing_due(runner, ctx):
    result = runner.invoke(args=["scheduler", "--drain"])
    assert result.exit_code == 0 and "fired 0 timers" in result.output


def test_scheduler_drain_fires_what_is_due(runner, ctx):
    from datetime import timedelta

    from app import clock
    from app.workflow import runtime
    from app.workflow.deployment import deploy
    from tests.engine import bpmn_factory as bf

    deploy(bf.linear("sb_drain", bf.timer("wait", '"PT1H"')), "sb_drain.bpmn")
    clock.freeze(clock.now())
    instance = runtime.start("sb_drain", "DRAIN-1")
    assert instance.status == "waiting"
    clock.advance(timedelta(hours=1, seconds=1))
    result = runner.invoke(args=["scheduler", "--drain"])
    assert result.exit_code == 0 and "fired 1 timers" in result.output
    db.session.expire_all()
    assert db.session.get(ProcessInstance, instance.id).status == "completed"
