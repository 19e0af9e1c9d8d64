"""The demo's SLA calendars and policies: every user task of the shipped diagrams is timed by a policy
of its own (or, for the exception process's triage and resolution, by the exception policies),
every exception type and severity finds its family's policy, business time counts in Berlin with
its holidays, and loading is done once."""

import re
from datetime import UTC, datetime

import pytest
from lxml import etree
from sqlalchemy import func, select

from app import demo
from app.accounts.service import create_user
from app.exceptions import taxonomy
from app.exceptions.models import SEVERITIES
from app.extensions import db
from app.sla import service
from app.sla.models import SlaCalendar, SlaChange, SlaPolicy
from app.workflow.models import HumanTask
from tests.support import ROOT

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DIAGRAMS = [ROOT / "workflows/order_process.bpmn", ROOT / "workflows/exception_handling.bpmn"]


@pytest.fixture
def targets(deployed):
    assert demo._sla_targets()
    return deployed


def sla_timers() -> tuple[set[str], dict[str, list[str]]]:
    """The user tasks of the shipped diagrams, and each element's boundary timer expressions."""
    tasks: set[str] = set()
    timers: dict[str, list[str]] = {}
    for path in DIAGRAMS:
        root = etree.parse(str(path)).getroot()
        tasks.update(task.get("id") for task in root.iter(f"{BPMN}userTask"))
        for event in root.iter(f"{BPMN}boundaryEvent"):
            for timer in event.iter(f"{BPMN}timeDate", f"{BPMN}timeDuration"):
                timers.setdefault(event.get("attachedToRef"), []).append((timer.text or "").strip())
    return tasks, timers


def test_every_user_task_is_timed_by_a_policy_of_its_own(targets):
    tasks, timers = sla_timers()
    assert {"review_order", "pick_goods", "collections", "triage", "resolve_warehouse"} <= tasks
    for task in tasks:
        expressions = timers.get(task, [])
        if any("'exception'" in e for e in expressions):
            continue  # triage and resolution count by the exception policies: every type and severity below
        named = {m.group(1) for e in expressions if (m := re.match(r"sla_\w+\('(\w+)'", e))}
        assert named <= {task}, f"{task} is timed by another task's policy: {named}"
        policy = service.policy_for("task", task)
        assert policy is not None and policy.key == task, f"{task} has no policy of its own"


def test_every_exception_type_and_severity_finds_its_family_policy(targets):
    for kind in taxonomy.TYPES.values():
        for severity in SEVERITIES:
            policy = service.policy_for("exception", kind.key, severity)
            assert (policy.key, policy.severity) == (kind.family, severity), (kind.key, severity)
            assert policy.response_minutes and policy.response_minutes <= policy.resolution_minutes
            calendar = "Around the clock" if severity == "critical" else "Head office"
            assert policy.calendar.name == calendar
    # critical is tighter than high in every family
    for family in taxonomy.FAMILIES:
        critical, high = (service.policy_for("exception", family, s) for s in ("critical", "high"))
        assert critical.resolution_minutes <= high.resolution_minutes and critical.at_risk_pct < high.at_risk_pct
    assert service.policy_for("exception", "anything new", "").key == "*"
    assert service.policy_for("task", "a_task_added_later").key == "*"


def test_the_demo_targets_in_business_time(targets):
    review = service.policy_for("task", "review_order")
    assert (review.resolution_minutes, review.at_risk_pct, review.calendar.name) == (240, 75, "Head office")
    assert service.policy_for("task", "credit_review").resolution_minutes == 8 * 60
    assert service.policy_for("task", "pick_goods").resolution_minutes == 4 * 60
    assert service.policy_for("task", "pack_goods").resolution_minutes == 4 * 60
    assert service.policy_for("task", "arrange_shipment").resolution_minutes == 8 * 60
    assert service.policy_for("task", "collections").resolution_minutes == 2 * 10 * 60  # two working days
    # Friday 17:00 in Berlin (CET, UTC+1) + 4 business hours: 1 h on Friday, then Monday 08:00 + 3 h
    friday_5pm = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
    assert service.targets("task", "review_order", friday_5pm).due_at == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    # Thursday 24 December 16:00 + 4 h: 2 h that day, Christmas Day and the weekend off, Monday 08:00 + 2 h
    christmas_eve_4pm = datetime(2026, 12, 24, 15, 0, tzinfo=UTC)
    assert service.targets("task", "pick_goods", christmas_eve_4pm).due_at == datetime(2026, 12, 28, 9, 0,
                                                                                       tzinfo=UTC)
    # Collections, two working days from Monday 10:00 in summer (UTC+2): Wednesday 10:00
    monday_10am = datetime(2026, 6, 8, 8, 0, tzinfo=UTC)
    assert service.targets("task", "collections", monday_10am).due_at == datetime(2026, 6, 10, 8, 0, tzinfo=UTC)
    # A critical stockout runs around the clock, at risk halfway
    saturday_night = datetime(2026, 3, 7, 22, 0, tzinfo=UTC)
    stockout = service.targets("exception", "stockout", saturday_night, "critical")
    assert (stockout.warn_at, stockout.due_at) == (datetime(2026, 3, 8, 0, 0, tzinfo=UTC),
                                                   datetime(2026, 3, 8, 2, 0, tzinfo=UTC))


def test_the_demo_targets_are_loaded_once_and_audited(targets):
    policies_before = db.session.scalar(select(func.count(SlaPolicy.id)))
    assert policies_before == len(demo.TASK_TARGETS) + sum(len(s) for s in demo.EXCEPTION_TARGETS.values())
    changes = list(db.session.scalars(select(SlaChange)))
    assert len(changes) == policies_before + 2 and {c.by for c in changes} == {"demo"}
    assert demo._sla_targets() is False
    assert db.session.scalar(select(func.count(SlaPolicy.id))) == policies_before
    assert db.session.scalar(select(func.count(SlaCalendar.id))) == 2


def test_a_demo_loaded_before_sla_targets_gets_them(deployed):
    create_user("order-desk", "Order Desk", "secret-pass", ["order_desk"])
    db.session.commit()
    assert demo.load() == "demo data already loaded; SLA calendars and policies added"
    assert service.policy_for("task", "review_order").resolution_minutes == 240
    assert demo.load() == "demo data already loaded; nothing changed"


def test_the_demo_orders_are_timed_by_the_demo_policies(deployed):
    assert demo.load().startswith("demo data loaded")
    reviews = list(db.session.scalars(select(HumanTask).where(HumanTask.element_id == "review_order",
                                                             HumanTask.state == "open")))
    assert reviews
    for task in reviews:
        expected = service.targets("task", "review_order", task.created_at)
        assert (task.due_at, task.at_risk_at) == (expected.due_at, expected.warn_at)
