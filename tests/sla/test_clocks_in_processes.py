"""The SLA clocks of the real processes, on a frozen clock and a Berlin office calendar (Monday to
Friday, 09:00–17:00): at risk, breached and long overdue for a review, a picking, a collections task
and an exception; who is told at each level; pausing while the customer is asked; a policy changed
mid-way; a manager's extension; the order's promised ship date."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.accounts.models import User, UserRole
from app.accounts.service import create_user
from app.billing.models import Invoice
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.notifications.models import OutboxMessage
from app.sla import clocks
from app.sla.models import Escalation, SlaCalendar, SlaChange, SlaPause, SlaPolicy
from app.workflow import inbox
from app.workflow.models import HumanTask, InstanceEvent
from app.workflow.timers import fire_due
from tests.exceptions.conftest import START, drive, shop  # noqa: F401 - fixtures

# START is Monday 2 March 2026, 08:00 UTC = 09:00 in Berlin (CET).


def utc(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def office(drive):  # noqa: F811 - the imported fixture
    calendar = SlaCalendar(name="Berlin office", zone="Europe/Berlin",
                           hours={str(d): [["09:00", "17:00"]] for d in range(5)}, holidays=["2026-04-06"])
    db.session.add(calendar)
    db.session.flush()
    db.session.add_all([
        SlaPolicy(scope="task", key="review_order", resolution_minutes=4 * 60, calendar_id=calendar.id),
        SlaPolicy(scope="task", key="pick_goods", resolution_minutes=2 * 60, at_risk_pct=50, calendar_id=calendar.id),
        SlaPolicy(scope="task", key="collections", resolution_minutes=2 * 8 * 60, calendar_id=calendar.id),
        SlaPolicy(scope="exception", key="logistics", response_minutes=60, resolution_minutes=8 * 60,
                  calendar_id=calendar.id),
    ])
    create_user("dora", "Dora", "secret-pass", ["order_desk"])
    create_user("lars", "Lars", "secret-pass", ["order_desk"])
    db.session.add(UserRole(user_id=db.session.scalar(select(User.id).where(User.username == "lars")),
                            role="warehouse", lead=True))
    db.session.scalar(select(UserRole).join(User).where(User.username == "lars", UserRole.role == "order_desk")) \
        .lead = True
    db.session.commit()
    return drive


def escalations(business_key: str) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(e.element_id, e.level) for e in db.session.scalars(
        select(Escalation).where(Escalation.business_key == business_key).order_by(Escalation.id))]


def notices(level: str) -> list[str]:
    return sorted(db.session.scalars(select(User.username).join(OutboxMessage, OutboxMessage.user_id == User.id)
                                     .where(OutboxMessage.kind == f"escalation_{level}")))


def fire_at(moment: datetime) -> int:
    """Fire what is due a second after `moment`, having checked nothing fires a second before it."""
    clock.freeze(moment - timedelta(seconds=1))
    assert fire_due() == 0, f"something fired before {moment}"
    clock.freeze(moment + timedelta(seconds=1))
    return fire_due()


def test_a_review_is_at_risk_then_breached_then_long_overdue_and_each_level_reaches_more_people(office):
    order, _instance = office.place(("BOLT-M8", 4))
    task = office.task(order.number)
    # 4 business hours from Monday 09:00 Berlin: at risk at 75% (12:00), due 13:00, long overdue 17:00.
    assert (task.at_risk_at, task.due_at) == (utc(2, 11), utc(2, 12))
    inbox.claim(task.id, db.session.scalar(select(User).where(User.username == "dora")))
    db.session.commit()

    assert fire_at(utc(2, 11)) == 1
    assert escalations(order.number) == [("review_order", "at_risk")]
    assert office.task(order.number).priority == 2
    assert notices("at_risk") == ["dora"]  # the assignee only

    assert fire_at(utc(2, 12)) == 1
    assert escalations(order.number)[-1] == ("review_order", "breached")
    assert office.task(order.number).priority == 1
    assert notices("breached") == ["dora", "lars"]  # and the order desk's team lead

    assert fire_at(utc(2, 16)) == 1
    assert escalations(order.number)[-1] == ("review_order", "breached_long")
    assert notices("breached_long") == ["dora", "lars", "mia"]  # and the managers
    escalation = db.session.scalar(select(Escalation).where(Escalation.level == "breached_long"))
    assert (escalation.role, escalation.assignee, escalation.due_at) == ("order_desk", "dora", utc(2, 12))
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "escalation_breached_long",
                                                            OutboxMessage.user_id == escalation_user("mia")))
    assert message.subject == f"Long overdue: Review order on {order.number}"
    assert f"/tasks/{task.id}" in message.body
    assert fire_at(utc(9, 12)) == 0  # nothing more: every clock of the task has fired once


def escalation_user(username: str) -> int:
    return db.session.scalar(select(User.id).where(User.username == username))


def test_a_picking_task_opened_late_in_the_day_is_due_the_next_morning(office):
    order, _instance = office.place(("BOLT-M8", 4))
    clock.freeze(utc(2, 15))  # 16:00 in Berlin: one business hour left today
    office.do(order.number, "review_order", {"approved": True})
    task = office.task(order.number)
    assert task.element_id == "pick_goods"
    # 2 business hours: one today, one on Tuesday from 09:00 → due 10:00 Berlin; at risk (50%) at 17:00 today.
    assert (task.at_risk_at, task.due_at) == (utc(2, 16), utc(3, 9))
    assert fire_at(utc(2, 16)) == 1
    assert fire_at(utc(3, 9)) == 1
    assert escalations(order.number) == [("review_order", "at_risk"), ("pick_goods", "at_risk"),
                                         ("pick_goods", "breached")] or \
        escalations(order.number) == [("pick_goods", "at_risk"), ("pick_goods", "breached")]
    breach = db.session.scalar(select(Escalation).where(Escalation.element_id == "pick_goods",
                                                        Escalation.level == "breached"))
    assert (breach.role, breach.assignee) == ("warehouse", "")
    assert notices("breached") == ["lars"]  # nobody has taken the task: the warehouse's lead hears of it


def test_a_collections_task_counts_two_business_days_over_a_weekend_and_a_holiday(office):
    order, instance = office.place(("BOLT-M8", 4))
    office.to_stage(order, "await_payment")
    invoice = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    due = invoice.due_date  # 2026-04-01
    for days in (10, 30, 45):  # three reminders, then collections
        clock.freeze(datetime(due.year, due.month, due.day, 9, 0, 1, tzinfo=UTC) + timedelta(days=days))
        fire_due()
    task = office.task(order.number)
    assert (task.element_id, task.created_at) == ("collections", utc(16, 9, 0, month=5) + timedelta(seconds=1))
    # Opened Saturday 16 May: the clock starts Monday 18 May 09:00 Berlin (07:00 UTC, summer time);
    # 16 business hours → due Tuesday 19 May 17:00 Berlin = 15:00 UTC; at risk at 12 h: Tuesday 13:00 Berlin.
    assert (task.at_risk_at, task.due_at) == (utc(19, 11, month=5), utc(19, 15, month=5))
    clock.freeze(utc(19, 15, 0, month=5) + timedelta(seconds=1))
    fire_due()  # at risk and breached, caught up in one wake
    assert sorted(escalations(order.number)[-2:]) == [("collections", "at_risk"), ("collections", "breached")]


def test_an_exception_is_escalated_on_its_response_target_then_its_resolution_target(office):
    order, _instance = office.place(("BOLT-M8", 4))
    case = office.report(order, "damaged", description="two cartons crushed")  # logistics family
    triage = office.task(case.number)
    assert triage.element_id == "triage"
    assert (triage.at_risk_at, triage.due_at) == (utc(2, 8, 45), utc(2, 9))  # response: one business hour
    assert fire_at(utc(2, 8, 45)) == 1
    assert fire_at(utc(2, 9)) == 1
    assert escalations(case.number) == [("triage", "at_risk"), ("triage", "breached")]
    office.do(case.number, "triage", {"summary": "We are on it."}, by="carol")
    resolve = office.task(case.number)
    # resolution: 8 business hours from 10:00:01 Monday Berlin → Tuesday 10:00:01 Berlin
    assert (resolve.element_id, resolve.due_at) == ("resolve_logistics", utc(3, 9) + timedelta(seconds=1))
    clock.freeze(utc(3, 9) + timedelta(seconds=2))
    fire_due()
    breach = db.session.scalar(select(Escalation).where(Escalation.element_id == "resolve_logistics",
                                                        Escalation.level == "breached"))
    assert (breach.business_key, breach.order_number, breach.role) == (case.number, order.number, "logistics")


def test_waiting_on_the_customer_pauses_the_clock_and_moves_the_due_time_out_by_the_pause(office):
    order, instance = office.place(("BOLT-M8", 4))
    task = office.task(order.number)
    clock.freeze(utc(2, 9))
    pause = clocks.pause(task.id, "dora", "asked the customer which thread size they want")
    db.session.expire_all()
    paused = office.task(order.number)
    assert (paused.at_risk_at, paused.due_at) == (None, None)  # no deadline while the clock stands still
    clock.freeze(utc(3, 9))  # a day on: the old due time and at-risk time have passed
    assert fire_due() == 0
    assert escalations(order.number) == []
    clocks.resume(instance.id, "dora")
    db.session.expire_all()
    task = office.task(order.number)
    # Paused for 24 h: every clock moves out by exactly that.
    assert (task.at_risk_at, task.due_at) == (utc(3, 11), utc(3, 12))
    assert (pause.paused_by, pause.resumed_by, pause.resumed_at) == ("dora", "dora", utc(3, 9))
    assert fire_at(utc(3, 11)) == 1
    assert escalations(order.number) == [("review_order", "at_risk")]
    kinds = [e.kind for e in db.session.scalars(select(InstanceEvent).where(
        InstanceEvent.instance_id == instance.id).order_by(InstanceEvent.id))]
    assert kinds.index("sla_paused") < kinds.index("sla_resumed")


def test_pausing_twice_or_resuming_what_runs_is_refused_and_changes_nothing(office):
    order, instance = office.place(("BOLT-M8", 4))
    task = office.task(order.number)
    with pytest.raises(clocks.ClockError, match="say what the customer"):
        clocks.pause(task.id, "dora", "  ")
    with pytest.raises(clocks.ClockError, match="not paused"):
        clocks.resume(instance.id, "dora")
    clocks.pause(task.id, "dora", "asked for the thread size")
    with pytest.raises(clocks.ClockError, match="already paused"):
        clocks.pause(task.id, "dora", "again")
    with pytest.raises(clocks.ClockError, match="resume it before extending"):
        clocks.extend(task.id, timedelta(hours=1), "mia", "customer is slow")
    assert db.session.scalar(select(SlaChange.id)) is None


def test_a_changed_policy_touches_new_tasks_only_and_an_extension_moves_a_running_clock(office):
    first, first_instance = office.place(("BOLT-M8", 4))
    policy = db.session.scalar(select(SlaPolicy).where(SlaPolicy.key == "review_order"))
    policy.resolution_minutes = 8 * 60
    db.session.commit()
    second, _ = office.place(("BOLT-M8", 4))
    assert office.task(first.number).due_at == utc(2, 12)  # 4 h, as when it opened
    assert office.task(second.number).due_at == utc(2, 16)  # 8 h: the new policy

    task = office.task(first.number)
    clock.freeze(utc(2, 10))
    change = clocks.extend(task.id, timedelta(hours=2), "mia", "customer visit at 14:00")
    assert (change.by, change.subject, change.subject_ref, change.action) == (
        "mia", "task", f"{first.number}/review_order", "extended")
    assert (change.before, change.after) == ({"due_at": utc(2, 12).isoformat()}, {"due_at": utc(2, 14).isoformat()})
    task = office.task(first.number)
    assert (task.at_risk_at, task.due_at) == (utc(2, 13), utc(2, 14))
    assert fire_at(utc(2, 13)) == 1  # the first order's at-risk clock, moved out by two hours
    assert escalations(first.number) == [("review_order", "at_risk")]
    assert [e.detail["note"] for e in db.session.scalars(select(InstanceEvent).where(
        InstanceEvent.instance_id == first_instance.id, InstanceEvent.kind == "sla_extended"))] == [
        "customer visit at 14:00"]


@pytest.mark.parametrize("by, note, message", [
    (timedelta(0), "x", "at least a minute"), (timedelta(days=31), "x", "at most 30 days"),
    (timedelta(hours=1), " ", "say why")])
def test_a_bad_extension_is_refused_and_changes_nothing(office, by, note, message):
    order, _ = office.place(("BOLT-M8", 4))
    task = office.task(order.number)
    with pytest.raises(clocks.ClockError, match=message):
        clocks.extend(task.id, by, "mia", note)
    assert office.task(order.number).due_at == utc(2, 12)
    assert db.session.scalar(select(SlaChange.id)) is None


def test_a_task_no_longer_open_has_no_clock_to_change(office):
    order, _ = office.place(("BOLT-M8", 4))
    task_id = office.task(order.number).id
    office.do(order.number, "review_order", {"approved": True})
    with pytest.raises(clocks.ClockError, match="no longer open"):
        clocks.extend(task_id, timedelta(hours=1), "mia", "late")
    assert db.session.get(HumanTask, task_id).state == "completed"


def test_not_shipped_by_the_promised_date_raises_one_late_shipment_case_whatever_the_stage(office):
    order, _instance = office.place(("BOLT-M8", 4))
    office.do(order.number, "review_order", {"approved": True})
    db.session.expire_all()
    assert str(order.expected_ship_date) == "2026-03-03"  # promised: shipped by the end of that day
    clock.freeze(utc(4, 0) + timedelta(seconds=1))
    fire_due()
    cases = db.session.scalars(select(ExceptionCase).where(ExceptionCase.order_id == order.id)).all()
    assert [(c.type, c.source) for c in cases] == [("delivery_delay", "process")]
    assert "not shipped by the promised date 2026-03-03 (still at pick_goods)" in cases[0].description
    office.do(order.number, "pick_goods", {"picked": True})  # the packing's promise timer is past at once
    clock.advance(timedelta(seconds=2))
    fire_due()
    assert db.session.scalars(select(ExceptionCase.type).where(ExceptionCase.order_id == order.id)).all() == [
        "delivery_delay"]  # still the one case


def test_goods_shipped_in_time_raise_no_late_shipment_case(office):
    order, _instance = office.place(("BOLT-M8", 4))
    office.to_stage(order, "goods_received")
    clock.freeze(utc(4, 0) + timedelta(seconds=1))
    fire_due()
    assert db.session.scalar(select(ExceptionCase.id).where(ExceptionCase.order_id == order.id)) is None


def test_a_task_overdue_before_a_pause_is_overdue_after_it_by_the_same_measure(office):
    order, instance = office.place(("BOLT-M8", 4))
    assert fire_at(utc(2, 11)) == 1 and fire_at(utc(2, 12)) == 1  # at risk, then breached
    clock.freeze(utc(2, 13))
    clocks.pause(office.task(order.number).id, "dora", "asked for a new delivery address")
    clock.freeze(utc(2, 14))
    clocks.resume(instance.id, "dora")
    task = office.task(order.number)
    assert (task.at_risk_at, task.due_at) == (utc(2, 12), utc(2, 13))  # both moved out by the hour's pause
    # The last clock (long overdue at 16:00) was paused too: it fires an hour later.
    assert fire_at(utc(2, 17)) == 1
    assert escalations(order.number)[-1] == ("review_order", "breached_long")


def test_a_second_visit_to_the_review_is_escalated_anew(office):
    order, _instance = office.place(("BOLT-M8", 4))
    assert fire_at(utc(2, 11)) == 1
    clock.freeze(utc(2, 11, 30))
    office.do(order.number, "review_order", {"approved": False, "review_note": "price too low"})
    office.do(order.number, "negotiate_order", {"outcome": "new_date", "new_date": "2026-05-01"})
    again = office.task(order.number)
    assert again.element_id == "review_order" and again.priority == 3
    # 3 business hours from 12:30 Berlin: at risk at 15:30 Berlin (14:30 UTC).
    assert fire_at(utc(2, 14, 30)) == 1
    assert escalations(order.number) == [("review_order", "at_risk"), ("review_order", "at_risk")]
    assert office.task(order.number).priority == 2
    assert len(notices("at_risk")) == 2  # the team lead heard of each visit (nobody had taken either)


def test_a_pause_meeting_a_clock_paused_at_the_same_moment_changes_nothing(office, monkeypatch):
    order, instance = office.place(("BOLT-M8", 4))
    task = office.task(order.number)
    clocks.pause(task.id, "dora", "asked for the thread size")
    # The second request read "not paused" before the first committed: under the instance lock it
    # finds every clock stopped already, leaves them so and writes nothing.
    monkeypatch.setattr(clocks, "open_pause", lambda _instance_id: None)
    with pytest.raises(clocks.ClockError, match="no SLA clock is running"):
        clocks.pause(task.id, "lars", "asked again")
    with pytest.raises(clocks.ClockError, match="no running SLA clock"):
        clocks.extend(task.id, timedelta(hours=24), "mia", "more time")
    monkeypatch.undo()
    assert db.session.scalars(select(SlaPause.paused_by)).all() == ["dora"]
    clocks.resume(instance.id, "dora")
    assert office.task(order.number).due_at == utc(2, 12)  # resumed at once: nothing moved
