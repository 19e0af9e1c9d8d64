"""Escalations raised by a user task's boundary timers through the `escalate` operation."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.sla import escalations
from app.sla.models import Escalation
from app.workflow import runtime
from app.workflow.models import HumanTask
from app.workflow.timers import fire_due
from tests.engine import bpmn_factory as bf

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def watched(ctx):
    clock.freeze(START)
    bf.deploy(bf.linear("watched", bf.user("work"), extra=(
        bf.boundary_timer("at_risk", "work", '"PT3H"'),
        bf.boundary_timer("breach", "work", '"PT4H"'),
        bf.service("do_warn", "escalate", business_key="key", element_id="'work'", level="'at_risk'"),
        bf.service("do_escalate", "escalate", business_key="key", element_id="'work'", level="'breached'"),
        bf.end("warned"), bf.end("escalated")),
        extra_flows=(bf.flow("at_risk", "do_warn"), bf.flow("do_warn", "warned"),
                     bf.flow("breach", "do_escalate"), bf.flow("do_escalate", "escalated"))))
    return runtime.start("watched", "W-1", {"key": "W-1"})


def _task() -> HumanTask:
    db.session.expire_all()
    return db.session.scalar(select(HumanTask).where(HumanTask.business_key == "W-1"))


def test_each_level_is_recorded_once_and_raises_the_priority(watched):
    assert _task().priority == 3
    clock.advance(timedelta(hours=3, seconds=1))
    assert fire_due() == 1
    (warned,) = escalations.open_escalations()
    assert (warned.level, warned.what, warned.role, warned.business_key) == ("at_risk", "work", "order_desk", "W-1")
    assert _task().priority == 2
    clock.advance(timedelta(hours=1))
    assert fire_due() == 1
    assert [e.level for e in escalations.open_escalations()] == ["breached", "at_risk"]
    assert _task().priority == 1 and _task().state == "open"  # the work stays where it is
    again = escalations.raise_escalation("W-1", "work", "breached")
    assert db.session.scalar(select(db.func.count(Escalation.id))) == 2 and again.level == "breached"


def test_acknowledging_records_who_and_only_once(watched):
    escalation = escalations.raise_escalation("W-1", "work", "at_risk")
    escalations.acknowledge(escalation.id, "mia")
    assert (escalation.acknowledged_by, escalation.acknowledged_at) == ("mia", START)
    with pytest.raises(escalations.EscalationError, match="already acknowledged by mia"):
        escalations.acknowledge(escalation.id, "max")
    assert escalations.open_escalations() == []
    with pytest.raises(escalations.EscalationError, match="unknown escalation level"):
        escalations.raise_escalation("W-1", "work", "panic")
