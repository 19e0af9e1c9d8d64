"""Exceptions raised while the order stands at each stage of its process leave it in a valid state:
a blocking case holds the order and its process (no task completes, no timer fires) and releasing it
resumes both, with a timer that fell due meanwhile firing then; a non-blocking case holds nothing.
Cancelling twice, or once the order is over, is refused and writes nothing. Messages the order no
longer waits for are refused with NotWaiting and recorded, never lost. On SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app import clock
from app.billing.models import CreditNote, DunningNotice, Invoice, Refund
from app.catalog.models import StockMove
from app.customers.models import Customer
from app.exceptions.models import ExceptionCase
from app.exceptions.service import ExceptionError
from app.extensions import db
from app.fulfilment import service as fulfilment
from app.fulfilment.models import Shipment
from app.notifications.models import OutboxMessage
from app.numbering import NumberSequence
from app.orders import states
from app.orders.models import Order
from app.orders.service import LineInput, create_order
from app.workflow import Conflict, InvalidData, NotWaiting, runtime
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance, Wakeup
from app.workflow.timers import fire_due
from tests.exceptions.conftest import messages, product


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    """Holds, releases and refusals take row locks: every test here runs on both databases."""
    return request.param


STAGES = ("intake", "review", "picking", "shipped", "invoiced")
# Where each stage leaves the order: its status, and the human task it waits on (None: a message).
AT = {
    "intake": ("clarifying", "clarify_order"),
    "review": ("in_review", "review_order"),
    "picking": ("in_fulfilment", "pick_goods"),
    "shipped": ("in_fulfilment", None),
    "invoiced": ("delivered", None),
}
# What each stage's human task is completed with.
TASK_DATA = {"clarify_order": {"requested_date": "2026-04-01"}, "review_order": {"approved": True},
             "pick_goods": {"picked": True}}
# The step after each stage, and the order's (status, open task) once it is taken.
NEXT = {
    "intake": ("in_review", "review_order"),
    "review": ("in_fulfilment", "pick_goods"),
    "picking": ("in_fulfilment", "pack_goods"),
    "shipped": ("delivered", None),
    "invoiced": ("completed", "follow_up"),
}
# The timer that runs at a stage, and when it falls due: the review's SLA clock (no policy: at risk
# 18 h after it opened), the first reminder ten days after the invoice's due date (2026-04-01), at 09:00.
TIMERS = {"review": datetime(2026, 3, 3, 2, 0, tzinfo=UTC), "invoiced": datetime(2026, 4, 11, 9, 0, tzinfo=UTC)}


def _at(drive, stage: str) -> Order:
    """An order of ten bolts (25.00) standing at `stage`."""
    if stage == "intake":  # no requested date: the process asks the customer
        customer = db.session.scalar(select(Customer).where(Customer.code == "GOOD"))
        order = create_order(customer, "phone", [LineInput("BOLT-M8", 10)], entered_by="desk")
        db.session.commit()
        runtime.start("order_process", order.number, {"order_number": order.number, "entered_by": "desk"})
    else:
        order, _ = drive.place(("BOLT-M8", 10))
        drive.to_stage(order, {"review": "review_order", "picking": "pick_goods", "shipped": "goods_received",
                               "invoiced": "await_payment"}[stage])
    db.session.expire_all()
    status, task = AT[stage]
    assert order.status == status
    assert _task(order) == task
    return order


def _go_on(drive, order: Order, stage: str) -> None:
    """Take the step the order waits for at `stage`."""
    task = AT[stage][1]
    if task is not None:
        drive.do(order.number, task, TASK_DATA[task])
    elif stage == "shipped":
        runtime.send_message(order.number, "goods_received", {"signed_by": "Dock"})
    else:
        runtime.send_message(order.number, "payment_received", {"amount": "25.00", "method": "bank_transfer"})
    db.session.expire_all()
    assert (order.status, _task(order)) == NEXT[stage]


def _instance(order: Order) -> ProcessInstance:
    db.session.expire_all()
    return db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == order.number)
                              .order_by(ProcessInstance.id.desc())).first()


def _task(order: Order) -> str | None:
    db.session.expire_all()
    rows = db.session.scalars(select(HumanTask.element_id).join(ProcessInstance).where(
        ProcessInstance.business_key == order.number, HumanTask.state.in_(("open", "claimed")))).all()
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def _events(order: Order, kind: str) -> list[InstanceEvent]:
    return list(db.session.scalars(select(InstanceEvent).where(
        InstanceEvent.instance_id == _instance(order).id, InstanceEvent.kind == kind).order_by(InstanceEvent.id)))


def _assert_valid(order: Order, *, held_by: str | None = None) -> None:
    """Every status is one states.py knows; held exactly when a blocking case holds it; process not in error."""
    db.session.expire_all()
    assert order.status in states.ORDER
    assert order.shipment_status in states.SHIPMENT
    assert order.payment_status in states.PAYMENT
    assert (order.status == "on_hold") == (held_by is not None)
    assert (order.held_from is not None) == (held_by is not None)
    instance = _instance(order)
    assert instance.status != "error", instance.error
    assert instance.held_by == held_by


def _try_task(order: Order):
    """Complete the order's open task as its team would."""
    task = db.session.scalars(select(HumanTask).join(ProcessInstance).where(
        ProcessInstance.business_key == order.number, HumanTask.state.in_(("open", "claimed")))).one()
    return runtime.complete_task(task.instance_id, task.spiff_task_id, TASK_DATA[task.element_id], actor="tester")


def _after_the_timer(stage: str) -> None:
    clock.freeze(TIMERS[stage] + timedelta(hours=1))


def _assert_timer_fired(order: Order, stage: str, times: int) -> None:
    fired = [e.element_id for e in _events(order, "timer_fired")]
    if stage == "review":
        assert fired == ["review_order_at_risk"] * times
    else:
        assert fired == ["dunning_due"] * times
        db.session.expire_all()
        levels = [n.level for n in db.session.scalars(select(DunningNotice).order_by(DunningNotice.id))]
        assert levels == list(range(1, times + 1))
        assert order.payment_status == ("overdue" if times else "invoiced")


# Blocking and non-blocking cases at every stage -------------------------------------------------

@pytest.mark.parametrize(("kind", "action"), [("cancellation", "keep_order"), ("data_change", "decline_change")])
@pytest.mark.parametrize("stage", STAGES)
def test_a_blocking_case_holds_the_order_at_each_stage_and_releasing_it_resumes(drive, stage, kind, action):
    order = _at(drive, stage)
    status, task = AT[stage]
    before = (order.shipment_status, order.payment_status)
    case = drive.report(order, kind, description="the customer is thinking it over", details={"quantity": 5})
    assert (case.blocking, case.stage) == (True, status)
    _assert_valid(order, held_by=case.number)
    assert (order.status, order.held_from, (order.shipment_status, order.payment_status)) == ("on_hold", status,
                                                                                              before)
    assert [e.detail["by"] for e in _events(order, "held")] == [case.number]
    assert db.session.get(Wakeup, _instance(order).id) is None  # no timer fires while held
    if task is not None:
        version = _instance(order).lock_version
        with pytest.raises(Conflict, match=f"on hold while {case.number} is open"):
            _try_task(order)
        assert (_task(order), _instance(order).lock_version) == (task, version)
    if stage in TIMERS:
        _after_the_timer(stage)
        fire_due()  # the case's own SLA clocks may fire; the held order's may not
        _assert_timer_fired(order, stage, 0)

    closed = drive.handle(case, action, by="carol")
    assert (closed.status, closed.action) == ("closed", action)
    _assert_valid(order)
    after = (before[0], "overdue") if stage == "invoiced" else before  # the reminder that fell due went out
    assert (order.status, order.shipment_status, order.payment_status) == (status, *after)
    assert [e.detail["by"] for e in _events(order, "released")] == [case.number]
    if stage in TIMERS:
        _assert_timer_fired(order, stage, 1)  # it fell due during the hold: it fires on release
    elif stage == "shipped":  # waiting for the receipt: the promised delivery date is watched again
        wakeup = db.session.get(Wakeup, _instance(order).id)
        assert wakeup is not None and wakeup.due_at.isoformat() == fulfilment.deliver_by(order)
    else:  # the open task's SLA clock runs again, at the times it had before the hold
        wakeup = db.session.get(Wakeup, _instance(order).id)
        open_row = db.session.scalars(select(HumanTask).join(ProcessInstance).where(
            ProcessInstance.business_key == order.number, HumanTask.state.in_(("open", "claimed")))).one()
        assert wakeup is not None and wakeup.due_at == open_row.at_risk_at
    told = ["exception_received", "reminder", "exception_resolved"] if stage == "invoiced" else \
        ["exception_received", "exception_resolved"]
    assert messages(order)[-len(told):] == told
    _go_on(drive, order, stage)
    _assert_valid(order)


@pytest.mark.parametrize("stage", STAGES)
def test_a_non_blocking_case_holds_nothing_at_any_stage(drive, stage):
    order = _at(drive, stage)
    status, _task_id = AT[stage]
    case = drive.report(order, "entry_error", description="the order was keyed with the wrong reference")
    assert case.blocking is False
    _assert_valid(order)
    assert order.status == status and _events(order, "held") == []
    if stage in TIMERS:  # timers run on while the case is open
        _after_the_timer(stage)
        assert fire_due() >= 1  # the order's timer, and maybe the case's own SLA clocks
        _assert_timer_fired(order, stage, 1)
    _go_on(drive, order, stage)  # and so does the work
    closed = drive.handle(case, "correct_and_record", by="carol", corrective_action="re-keyed the reference",
                          preventive_action="reference checked at entry")
    assert closed.status == "closed"
    _assert_valid(order)
    assert order.status == NEXT[stage][0] and _task(order) == NEXT[stage][1]
    assert _events(order, "released") == []


# Where a cancellation at each stage leaves the order: status, stock, shipments, money.
CANCELLED = {
    "intake": (("cancelled", "pending", "not_invoiced"), [], []),
    "review": (("cancelled", "pending", "not_invoiced"), [], []),
    "picking": (("cancelled", "pending", "not_invoiced"), ["cancelled"], []),
    "shipped": (("returned", "returned", "not_invoiced"), ["returned"], []),
    "invoiced": (("returned", "returned", "credited"), ["returned"], [Decimal("25.00")]),
}


@pytest.mark.parametrize("stage", STAGES)
def test_a_cancellation_at_each_stage_ends_the_order_and_its_process(drive, stage):
    order = _at(drive, stage)
    case = drive.report(order, "cancellation", description="the customer cancels")
    closed = drive.handle(case, "cancel_order", by="carol")
    assert closed.status == "closed"
    statuses, shipments, credit_notes = CANCELLED[stage]
    db.session.expire_all()
    assert (order.status, order.shipment_status, order.payment_status) == statuses
    assert order.held_from is None
    assert (product("BOLT-M8").on_hand, product("BOLT-M8").reserved) == (100, 0)  # nothing kept, nothing lost
    assert [s.status for s in db.session.scalars(select(Shipment).where(Shipment.order_id == order.id))] == shipments
    assert [n.amount for n in db.session.scalars(select(CreditNote).where(CreditNote.order_id == order.id))] == \
        credit_notes
    instance = _instance(order)
    assert (instance.status, instance.held_by) == ("completed", None)
    assert _task(order) is None and db.session.get(Wakeup, instance.id) is None
    assert [e.detail["message"] for e in _events(order, "message_received")][-1] == "order_cancelled"
    assert "order_cancelled" in messages(order)


def test_a_change_asked_for_after_shipping_is_refused_on_the_form_and_can_be_declined(drive):
    order = _at(drive, "shipped")
    case = drive.report(order, "data_change", details={"quantity": 5})
    drive.do(case.number, "triage", {"summary": "We are looking at it."}, by="carol")
    task = drive.task(case.number)
    with pytest.raises(InvalidData) as refused:
        runtime.complete_task(task.instance_id, task.spiff_task_id, {"action": "apply_change", "resolution": "x"},
                              actor="carol")
    assert refused.value.errors == [f"action: {order.number} is past the stage where it can be changed "
                                    "(on_hold, shipment shipped)"]
    _assert_valid(order, held_by=case.number)
    drive.do(case.number, "resolve_customer_service", {"action": "decline_change", "resolution": "too late"},
             by="carol")
    _assert_valid(order)
    assert order.lines[0].quantity == 10 and order.status == "in_fulfilment"


# What arrives while the order is held -----------------------------------------------------------

def test_goods_received_while_held_are_recorded_and_the_order_stays_held(drive):
    order = _at(drive, "shipped")
    case = drive.report(order, "cancellation")
    runtime.send_message(order.number, "goods_received", {"signed_by": "Dock"})
    _assert_valid(order, held_by=case.number)
    assert (order.status, order.held_from, order.shipment_status, order.payment_status) == (
        "on_hold", "delivered", "delivered", "invoiced")
    drive.handle(case, "keep_order", by="carol")
    _assert_valid(order)
    assert (order.status, order.payment_status) == ("delivered", "invoiced")
    _go_on(drive, order, "invoiced")


def test_a_payment_received_while_held_completes_the_order_on_release(drive):
    order = _at(drive, "invoiced")
    case = drive.report(order, "cancellation")
    runtime.send_message(order.number, "payment_received", {"amount": "25.00", "method": "card"})
    _assert_valid(order, held_by=case.number)  # not in error: the order stays held, completed underneath
    assert (order.status, order.held_from, order.payment_status) == ("on_hold", "completed", "paid")
    with pytest.raises(Conflict, match="on hold"):
        drive.do(order.number, "follow_up", {"satisfaction": 5})
    drive.handle(case, "keep_order", by="carol")
    _assert_valid(order)
    assert (order.status, order.payment_status, _task(order)) == ("completed", "paid", "follow_up")
    drive.do(order.number, "follow_up", {"satisfaction": 5})
    assert _instance(order).status == "completed"


def test_a_cancellation_that_goes_ahead_after_payment_arrived_refunds_it(drive):
    order = _at(drive, "invoiced")
    case = drive.report(order, "cancellation")
    runtime.send_message(order.number, "payment_received", {"amount": "25.00", "method": "card"})
    closed = drive.handle(case, "cancel_order", by="carol", approve_by="fiona")
    assert closed.status == "closed"
    _assert_valid(order)
    assert (order.status, order.shipment_status, order.payment_status) == ("returned", "returned", "refunded")
    refunds = db.session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
    assert [(r.amount, r.status, r.approved_by) for r in refunds] == [(Decimal("25.00"), "paid", "fiona")]
    assert (product("BOLT-M8").on_hand, product("BOLT-M8").reserved) == (100, 0)
    assert (_instance(order).status, _task(order)) == ("completed", None)


# Cancelling twice, or an order that is over ----------------------------------------------------

def _footprint() -> tuple:
    """How many rows every table a case would write holds, and the number sequences."""
    db.session.expire_all()
    counts = tuple(db.session.scalar(select(func.count()).select_from(model)) for model in (
        ExceptionCase, ProcessInstance, InstanceEvent, HumanTask, OutboxMessage, StockMove, Invoice, CreditNote,
        Refund))
    sequences = tuple(db.session.execute(select(NumberSequence.prefix, NumberSequence.year, NumberSequence.last_value)
                                         .order_by(NumberSequence.prefix)).all())
    orders = tuple(db.session.execute(select(Order.status, Order.held_from, Order.payment_status)
                                      .order_by(Order.id)).all())
    versions = tuple(db.session.scalars(select(ProcessInstance.lock_version).order_by(ProcessInstance.id)))
    return counts, sequences, orders, versions


def _refused(drive, order: Order, kind: str, says: str) -> None:
    before = _footprint()
    with pytest.raises(ExceptionError, match=says) as refused:
        drive.report(order, kind, description="once more")
    assert refused.value.errors == {"type": str(refused.value)}
    assert _footprint() == before


def test_a_second_cancellation_while_one_is_open_is_refused(drive):
    order = _at(drive, "picking")
    first = drive.report(order, "cancellation")
    _refused(drive, order, "cancellation",
             f"{order.number} already has a cancellation being handled \\({first.number}\\)")
    _assert_valid(order, held_by=first.number)


@pytest.mark.parametrize("follow_up_done", [False, True])
@pytest.mark.parametrize(("kind", "verb"), [("cancellation", "cancelled"), ("data_change", "changed")])
def test_cancelling_or_changing_a_completed_order_is_refused(drive, kind, verb, follow_up_done):
    order = _at(drive, "invoiced")
    _go_on(drive, order, "invoiced")
    if follow_up_done:
        drive.do(order.number, "follow_up", {"satisfaction": 4})
    _refused(drive, order, kind, f"{order.number} is already completed; it can no longer be {verb}")
    _assert_valid(order)


def test_cancelling_a_cancelled_order_is_refused(drive):
    order = _at(drive, "review")
    drive.handle(drive.report(order, "cancellation"), "cancel_order", by="carol")
    _refused(drive, order, "cancellation", f"{order.number} is already cancelled; it can no longer be cancelled")
    _assert_valid(order)


def test_a_cancellation_checks_the_order_as_it_is_once_its_turn_comes(drive):
    order = _at(drive, "review")
    counts, sequences, ((_status, held_from, payment_status),), versions = _footprint()
    assert order.status == "in_review"  # what this session has read
    with db.engine.begin() as elsewhere:  # meanwhile another request cancels the order and commits
        elsewhere.execute(update(Order).where(Order.id == order.id).values(status="cancelled"))

    with pytest.raises(ExceptionError, match=f"{order.number} is already cancelled; it can no longer be cancelled"):
        drive.report(order, "cancellation", description="once more")

    assert _footprint() == (counts, sequences, (("cancelled", held_from, payment_status),), versions)


# Messages the order no longer waits for -------------------------------------------------------

def _refusals(order: Order) -> list[tuple[str, str, dict]]:
    return [(e.detail["message"], e.actor, e.detail["payload"]) for e in _events(order, "message_refused")]


def _not_waiting(order: Order, message: str, payload: dict, says: str) -> None:
    version = _instance(order).lock_version
    seen = _refusals(order)
    with pytest.raises(NotWaiting, match=says):
        runtime.send_message(order.number, message, payload, actor="api:carrier")
    assert _refusals(order) == [*seen, (message, "api:carrier", payload)]
    assert _instance(order).lock_version == version  # recorded beside the instance, which did not move


def test_goods_received_twice_is_refused_and_recorded(drive):
    order = _at(drive, "shipped")
    runtime.send_message(order.number, "goods_received", {"signed_by": "Dock"})
    _not_waiting(order, "goods_received", {"signed_by": "Dock again"},
                 f"{order.number} is not waiting for 'goods_received'; the message was recorded, not delivered")
    _assert_valid(order)
    invoices = db.session.scalars(select(Invoice).where(Invoice.order_id == order.id)).all()
    assert (order.status, len(invoices)) == ("delivered", 1)


def test_payment_after_completion_is_refused_and_recorded(drive):
    order = _at(drive, "invoiced")
    _go_on(drive, order, "invoiced")
    payment = {"amount": "25.00", "method": "card"}
    _not_waiting(order, "payment_received", payment, f"{order.number} is not waiting for 'payment_received'")
    drive.do(order.number, "follow_up", {"satisfaction": 5})
    assert _instance(order).status == "completed"
    # The process is over: still refused with a clear text, and still recorded on it.
    _not_waiting(order, "payment_received", payment,
                 f"{order.number} has no open process \\(it is completed\\); 'payment_received' was recorded")
    invoice = db.session.scalars(select(Invoice).where(Invoice.order_id == order.id)).one()
    assert (invoice.paid_amount, order.payment_status) == (Decimal("25.00"), "paid")


def test_a_change_after_shipping_is_not_taken_by_the_process(drive):
    order = _at(drive, "shipped")
    _not_waiting(order, "order_changed", {"exception": "EX-X"},
                 f"{order.number} is not waiting for 'order_changed'")
    _assert_valid(order)
    assert (order.status, order.shipment_status) == ("in_fulfilment", "shipped")
    assert runtime.waits_for(order.number, "goods_received")


@pytest.mark.parametrize(("stage", "message"), [("review", "payment_failed"), ("picking", "exception_resolved"),
                                                ("invoiced", "goods_received")])
def test_messages_out_of_turn_at_a_stage_are_refused_and_recorded(drive, stage, message):
    order = _at(drive, stage)
    _not_waiting(order, message, {"reason": "out of turn"}, f"is not waiting for '{message}'")
    _assert_valid(order)
    assert order.status == AT[stage][0] and _task(order) == AT[stage][1]
    assert db.session.scalar(select(func.count()).select_from(ExceptionCase)) == 0
