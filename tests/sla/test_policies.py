"""SLA policies: the most specific one wins, targets count in its calendar, and the diagram helpers
give timer values from the policy in force when the work begins."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.sla import service
from app.sla.models import SlaCalendar, SlaPolicy
from app.workflow import runtime
from app.workflow.models import HumanTask
from tests.engine import bpmn_factory as bf

MONDAY_9_SHANGHAI = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def policies(ctx):
    office = SlaCalendar(name="Shanghai office", zone="Asia/Shanghai",
                         hours={str(d): [["09:00", "18:00"]] for d in range(5)}, holidays=["2026-03-03"])
    db.session.add(office)
    db.session.flush()
    db.session.add_all([
        SlaPolicy(scope="task", key="review_order", resolution_minutes=4 * 60, calendar_id=office.id),
        SlaPolicy(scope="task", key="*", resolution_minutes=2 * 9 * 60, calendar_id=office.id),
        SlaPolicy(scope="exception", key="logistics", resolution_minutes=9 * 60, response_minutes=60,
                  calendar_id=office.id),
        SlaPolicy(scope="exception", key="lost", severity="high", resolution_minutes=3 * 60, at_risk_pct=50,
                  calendar_id=office.id),
        SlaPolicy(scope="exception", key="damaged", resolution_minutes=60, calendar_id=office.id, active=False),
    ])
    db.session.commit()


def test_the_most_specific_active_policy_wins(policies):
    assert service.policy_for("task", "review_order").resolution_minutes == 240
    assert service.policy_for("task", "pick_goods").key == "*"
    assert service.policy_for("exception", "lost", "high").resolution_minutes == 180
    assert service.policy_for("exception", "lost", "low").key == "logistics"  # its family
    assert service.policy_for("exception", "damaged").key == "logistics"  # the inactive one is skipped
    assert service.policy_for("exception", "complaint") is None


def test_targets_count_business_time(policies):
    # Monday 09:00 + 4 h = 13:00 local; at risk at 75 % = 12:00 local
    review = service.targets("task", "review_order", MONDAY_9_SHANGHAI)
    assert review.due_at == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    assert review.warn_at == datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    # 18 working hours from Monday 09:00, Tuesday a holiday: Monday 9 h, Wednesday 9 h → Wednesday 18:00 local
    assert service.targets("task", "pick_goods", MONDAY_9_SHANGHAI).due_at == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    lost = service.targets("exception", "lost", MONDAY_9_SHANGHAI, "high")
    assert lost.warn_at == datetime(2026, 3, 2, 2, 30, tzinfo=UTC) and lost.respond_by is None
    assert service.targets("exception", "wrong_address", MONDAY_9_SHANGHAI).respond_by == \
        datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_work_without_a_policy_is_due_a_day_later(ctx):
    assert service.targets("task", "anything", MONDAY_9_SHANGHAI).due_at == MONDAY_9_SHANGHAI + timedelta(days=1)


def test_a_broken_calendar_is_a_clear_error(ctx):
    bad = SlaCalendar(name="bad", zone="Nowhere/Land", hours={}, holidays=[])
    db.session.add(bad)
    db.session.flush()
    db.session.add(SlaPolicy(scope="task", key="x", resolution_minutes=60, calendar_id=bad.id))
    db.session.commit()
    with pytest.raises(service.SlaError, match="calendar 'bad' is not valid"):
        service.targets("task", "x", MONDAY_9_SHANGHAI)


def test_the_diagram_helpers_set_the_task_deadlines_and_a_policy_change_touches_new_work_only(policies):
    clock.freeze(MONDAY_9_SHANGHAI)
    bf.deploy(bf.linear("sla_p", bf.user("review_order"), extra=(
        bf.boundary_timer("warn", "review_order", "sla_warn('review_order')", kind="timeDate"),
        bf.boundary_timer("due", "review_order", "sla_due('review_order')", kind="timeDate"),
        bf.end("warned"), bf.end("breached")),
        extra_flows=(bf.flow("warn", "warned"), bf.flow("due", "breached"))))
    first = runtime.start("sla_p", "S-1")
    policy = db.session.scalar(select(SlaPolicy).where(SlaPolicy.key == "review_order"))
    policy.resolution_minutes = 8 * 60
    db.session.commit()
    second = runtime.start("sla_p", "S-2")
    rows = {row.business_key: row for row in db.session.scalars(select(HumanTask))}
    assert (rows["S-1"].at_risk_at, rows["S-1"].due_at) == (datetime(2026, 3, 2, 4, 0, tzinfo=UTC),
                                                           datetime(2026, 3, 2, 5, 0, tzinfo=UTC))
    assert (rows["S-2"].at_risk_at, rows["S-2"].due_at) == (datetime(2026, 3, 2, 7, 0, tzinfo=UTC),
                                                           datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert first.status == second.status == "running"
