"""One test per exception type of the Logistics, Payment & settlement and Internal families, each from
raising the case to closing it: the order's three statuses, its stock, invoices, credit notes and
refunds, the customer messages in the outbox, and where the order's process stands afterwards."""

from datetime import date
from decimal import Decimal

import pytest
from SpiffWorkflow import TaskState
from sqlalchemy import select

from app.accounts.models import User
from app.billing.models import Invoice
from app.catalog.models import Product, StockMove
from app.customers.models import Customer
from app.exceptions.models import ExceptionCase, NonConformance
from app.extensions import db
from app.fulfilment.models import Shipment
from app.notifications.models import OutboxMessage
from app.orders.models import Order
from app.workflow import Forbidden, InvalidData, definitions, runtime
from app.workflow.models import InstanceEvent, ProcessInstance, Wakeup
from tests.exceptions.conftest import credit_notes as _credit_notes
from tests.exceptions.conftest import invoices as _invoices
from tests.exceptions.conftest import messages, product, status_of
from tests.exceptions.conftest import refunds as _refunds

# The shop sells BOLT-M8 at 2.50 with 100 on hand; every order here is 10 of them, 25.00.
BOLTS = ("BOLT-M8", 10)


def _statuses(order: Order) -> tuple[str, str, str]:
    db.session.expire_all()
    return order.status, order.shipment_status, order.payment_status




def _shipments(order: Order) -> list[tuple[str, str, str]]:
    """(status, carrier, tracking number) per shipment."""
    db.session.expire_all()
    return [(s.status, s.carrier, s.tracking_number) for s in db.session.scalars(
        select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id))]


def _moves(order: Order) -> list[tuple[str, int]]:
    """The order's stock moves as (kind, quantity), in order."""
    return [(m.kind, m.quantity) for m in db.session.scalars(
        select(StockMove).where(StockMove.order_number == order.number).order_by(StockMove.id))]


def _stock(sku: str = "BOLT-M8") -> tuple[int, int]:
    found = product(sku)
    return found.on_hand, found.reserved


def _newest(order: Order, kind: str) -> OutboxMessage:
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.order_id == order.id,
                                                          OutboxMessage.kind == kind)
                              .order_by(OutboxMessage.id.desc())).first()


def _open_task(drive, business_key: str) -> str:
    return drive.task(business_key).element_id


# How an order's process looks once a case ended the order: it took 'order_cancelled', ran the event
# subprocess 'Cancelled by an exception' to its end, and nothing of it waits any more (no timer).
ENDED_BY_EXCEPTION = ("completed", ["COMPLETED"], "order_cancelled", None)


def _process_end(order: Order) -> tuple:
    db.session.expire_all()
    instance = db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == order.number)
                                  .order_by(ProcessInstance.id.desc())).first()
    workflow = definitions.restore(instance, runtime._script_engine())
    ended = [TaskState.get_name(t.state) for t in workflow.get_tasks(spec_name="ended_by_exception")]
    received = [e.detail["message"] for e in db.session.scalars(select(InstanceEvent).where(
        InstanceEvent.instance_id == instance.id, InstanceEvent.kind == "message_received")
        .order_by(InstanceEvent.id))]
    return instance.status, ended, received[-1], db.session.get(Wakeup, instance.id)


def _shipped(drive, lines=(BOLTS,)) -> Order:
    """An order handed to the carrier: the process waits for goods_received."""
    order, _ = drive.place(*lines)
    drive.to_stage(order, "goods_received")
    return order


def _invoiced(drive, lines=(BOLTS,)) -> Order:
    """An order delivered and invoiced: the process waits for payment."""
    order, _ = drive.place(*lines)
    drive.to_stage(order, "await_payment")
    return order


def _pay(order: Order, amount: str) -> None:
    runtime.send_message(order.number, "payment_received", {"amount": amount, "method": "bank_transfer"})


def _resolve(drive, case: ExceptionCase, role_task: str, data: dict, by: str):
    """Triage the case, then complete its resolve task with `data` (what the form posts)."""
    drive.do(case.number, "triage", {"summary": "We are on it."}, by="carol")
    drive.do(case.number, role_task, {"resolution": "done", **data}, by=by)


# Logistics ----------------------------------------------------------------------------------------

def test_delivery_delay_gives_a_new_date_and_the_order_goes_on(drive):
    order = _shipped(drive)
    assert order.expected_ship_date == date(2026, 3, 3)
    case = drive.report(order, "delivery_delay", description="carrier reports a two-week delay")
    db.session.expire_all()
    assert (case.blocking, case.owner_role, case.stage) == (False, "logistics", "in_fulfilment")
    assert _statuses(order) == ("in_fulfilment", "shipped", "not_invoiced")  # a late delivery holds nothing

    closed = drive.handle(case, "new_promise", by="lena", new_date="2026-03-17")
    assert (closed.status, closed.action) == ("closed", "new_promise")
    db.session.expire_all()
    assert order.expected_ship_date == date(2026, 3, 17)
    assert "2026-03-17" in _newest(order, "new_date").body
    assert messages(order) == ["confirmation", "shipped", "exception_received", "new_date", "exception_resolved"]
    assert _stock() == (90, 0)
    assert _invoices(order) == []
    # The process never stopped: the goods arrive and are invoiced as usual.
    assert status_of(order.number) == "waiting"
    runtime.send_message(order.number, "goods_received", {"signed_by": "Dock"})
    assert _statuses(order) == ("delivered", "delivered", "invoiced")


@pytest.mark.parametrize("kind", ["lost", "damaged"])
def test_lost_or_damaged_goods_are_shipped_again_from_stock(drive, kind):
    order = _shipped(drive)
    case = drive.report(order, kind, description=f"carrier reports the parcel {kind}")
    closed = drive.handle(case, "reship", by="lena", carrier="DHL", tracking_number="DHL-777",
                          claim_reference="CLAIM-1")
    assert (closed.status, closed.details["claim_reference"]) == ("closed", "CLAIM-1")
    assert _shipments(order) == [("shipped", "SF Express", "TRK1"), ("shipped", "DHL", "DHL-777")]
    assert _stock() == (80, 0)  # ten more left the warehouse, nothing stays reserved
    assert _moves(order) == [("reserve", 10), ("issue", 10), ("reserve", 10), ("issue", 10)]
    shipped = _newest(order, "shipped")
    assert "DHL-777" in shipped.body and "DHL" in shipped.body
    assert messages(order) == ["confirmation", "shipped", "exception_received", "shipped", "exception_resolved"]
    assert _statuses(order) == ("in_fulfilment", "shipped", "not_invoiced")
    # The customer receives the second parcel and is invoiced once, for what they ordered.
    runtime.send_message(order.number, "goods_received", {"signed_by": "Dock"})
    assert _statuses(order) == ("delivered", "delivered", "invoiced")
    assert _invoices(order) == [(Decimal("25.00"), Decimal("0"), Decimal("0"), "open")]


@pytest.mark.parametrize("kind", ["lost", "damaged"])
def test_goods_lost_or_damaged_before_invoicing_are_written_off_and_the_order_ends(drive, kind):
    order = _shipped(drive)
    case = drive.report(order, kind, description=f"carrier reports the parcel {kind}")
    closed = drive.handle(case, "refund", by="lena")
    assert closed.status == "closed"
    assert _statuses(order) == ("cancelled", "shipped", "not_invoiced")
    assert order.lines[0].returned_qty == 10  # written off in transit: never billed
    assert _stock() == (90, 0)  # the goods did not come back
    assert _invoices(order) == [] and _credit_notes(order) == [] and _refunds(order) == []
    assert _process_end(order) == ENDED_BY_EXCEPTION
    assert messages(order) == ["confirmation", "shipped", "exception_received", "exception_resolved"]
    assert not runtime.waits_for(order.number, "goods_received")


@pytest.mark.parametrize("kind", ["lost", "damaged"])
def test_lost_or_damaged_after_invoicing_credit_the_open_part_and_refund_the_paid_part(drive, kind):
    order = _invoiced(drive)
    _pay(order, "10.00")
    assert _statuses(order) == ("delivered", "delivered", "partly_paid")
    case = drive.report(order, kind, description="the customer says the goods never arrived whole")
    _resolve(drive, case, "resolve_logistics", {"action": "refund"}, by="lena")
    task = drive.task(case.number)
    assert (task.element_id, task.role) == ("approve_refund_finance", "finance")
    assert _refunds(order) == [(Decimal("10.00"), "requested", "lena", "")]
    drive.do(case.number, "approve_refund_finance", {"approved": True}, by="fiona")
    db.session.expire_all()
    assert case.status == "closed"
    invoice = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    assert _credit_notes(order) == [(invoice.number, Decimal("15.00"))]
    assert _refunds(order) == [(Decimal("10.00"), "paid", "lena", "fiona")]
    assert _invoices(order) == [(Decimal("25.00"), Decimal("0.00"), Decimal("25.00"), "paid")]
    assert invoice.balance == 0
    assert _statuses(order) == ("returned", "delivered", "refunded")
    assert _stock() == (90, 0)  # written off in transit: they do not come back to stock
    assert _process_end(order) == ENDED_BY_EXCEPTION
    assert messages(order) == ["confirmation", "shipped", "invoice", "exception_received", "credit_note", "refund",
                               "exception_resolved"]


def test_wrong_address_is_corrected_and_delivered_again(drive):
    order = _shipped(drive)
    case = drive.report(order, "wrong_address", description="the street number is wrong")
    closed = drive.handle(case, "redeliver", by="lena", shipping_address="12 Harbour Rd")
    assert closed.status == "closed"
    db.session.expire_all()
    assert order.shipping_address == "12 Harbour Rd"
    assert _statuses(order) == ("in_fulfilment", "shipped", "not_invoiced")
    assert _stock() == (90, 0)
    assert messages(order) == ["confirmation", "shipped", "exception_received", "exception_resolved"]
    runtime.send_message(order.number, "goods_received", {"signed_by": "Reception"})
    assert _statuses(order) == ("delivered", "delivered", "invoiced")


def test_wrong_address_cannot_be_redelivered_without_the_corrected_address(drive):
    order = _shipped(drive)
    case = drive.report(order, "wrong_address")
    drive.do(case.number, "triage", {"summary": "We are on it."}, by="carol")
    task = drive.task(case.number)
    version = db.session.get(ProcessInstance, task.instance_id).lock_version
    with pytest.raises(InvalidData) as refused:
        runtime.complete_task(task.instance_id, task.spiff_task_id, {"action": "redeliver", "resolution": "again"},
                              actor="lena")
    assert refused.value.errors == ["shipping_address: the corrected address is needed"]
    db.session.expire_all()
    assert db.session.get(ProcessInstance, task.instance_id).lock_version == version
    assert order.shipping_address == "1 Harbour Rd"
    assert drive.task(case.number).element_id == "resolve_logistics"
    drive.do(case.number, "resolve_logistics", {"action": "redeliver", "resolution": "again",
                                                "shipping_address": "3 Harbour Rd"}, by="lena")
    db.session.expire_all()
    assert (case.status, order.shipping_address) == ("closed", "3 Harbour Rd")


def test_refused_delivery_comes_back_to_stock_and_the_order_ends(drive):
    order = _shipped(drive)
    case = drive.report(order, "refused", description="the customer refused the parcel at the door")
    closed = drive.handle(case, "return_and_refund", by="lena")
    assert closed.status == "closed"
    assert _stock() == (100, 0)
    assert _moves(order) == [("reserve", 10), ("issue", 10), ("return", 10)]
    assert _shipments(order) == [("returned", "SF Express", "TRK1")]
    db.session.expire_all()
    assert order.lines[0].returned_qty == 10
    assert _statuses(order) == ("returned", "returned", "not_invoiced")
    assert _invoices(order) == [] and _credit_notes(order) == [] and _refunds(order) == []  # nothing was billed
    assert _process_end(order) == ENDED_BY_EXCEPTION
    assert messages(order) == ["confirmation", "shipped", "exception_received", "exception_resolved"]


def test_refused_after_invoicing_credits_the_invoice_and_refunds_what_was_paid(drive):
    order = _invoiced(drive)
    _pay(order, "5.00")
    case = drive.report(order, "refused", description="the customer sends everything back")
    closed = drive.handle(case, "return_and_refund", by="lena", approve_by="fred")
    assert closed.status == "closed"
    invoice = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    assert _stock() == (100, 0)
    assert _moves(order) == [("reserve", 10), ("issue", 10), ("return", 10)]
    assert _shipments(order) == [("returned", "SF Express", "TRK1")]
    assert _credit_notes(order) == [(invoice.number, Decimal("20.00"))]
    assert _refunds(order) == [(Decimal("5.00"), "paid", "lena", "fred")]
    assert _statuses(order) == ("returned", "returned", "refunded")
    assert _process_end(order) == ENDED_BY_EXCEPTION
    assert messages(order) == ["confirmation", "shipped", "invoice", "exception_received", "credit_note", "refund",
                               "exception_resolved"]


def test_refused_delivery_delivered_again(drive):
    order = _shipped(drive)
    case = drive.report(order, "refused", description="nobody was there to sign")
    closed = drive.handle(case, "redeliver", by="lena")
    assert closed.status == "closed"
    assert _statuses(order) == ("in_fulfilment", "shipped", "not_invoiced")
    assert _stock() == (90, 0) and _shipments(order) == [("shipped", "SF Express", "TRK1")]
    assert messages(order) == ["confirmation", "shipped", "exception_received", "exception_resolved"]
    runtime.send_message(order.number, "goods_received", {"signed_by": "Dock"})
    _pay(order, "25.00")
    assert _statuses(order) == ("completed", "delivered", "paid")


# Payment & settlement -----------------------------------------------------------------------------

def _payment_failed(drive, order: Order, reason: str = "card declined") -> ExceptionCase:
    runtime.send_message(order.number, "payment_failed", {"reason": reason})
    db.session.expire_all()
    return db.session.scalars(select(ExceptionCase).where(ExceptionCase.order_id == order.id,
                                                          ExceptionCase.type == "payment_failure")).one()


@pytest.mark.parametrize("action", ["retry_payment", "other_method"])
def test_payment_failure_raised_by_the_process_then_paid(drive, action):
    order = _invoiced(drive)
    case = _payment_failed(drive, order)
    assert (case.source, case.blocking, case.owner_role, case.description) == ("process", False, "finance",
                                                                              "card declined")
    assert _statuses(order) == ("delivered", "delivered", "failed")
    assert runtime.waits_for(order.number, "payment_received")  # the wait for payment goes on
    closed = drive.handle(case, action, by="fiona")
    assert (closed.status, closed.action) == ("closed", action)
    assert _statuses(order) == ("delivered", "delivered", "invoiced")
    _pay(order, "25.00")
    assert _statuses(order) == ("completed", "delivered", "paid")
    assert _invoices(order) == [(Decimal("25.00"), Decimal("25.00"), Decimal("0"), "paid")]
    assert _credit_notes(order) == [] and _refunds(order) == []
    assert messages(order) == ["confirmation", "shipped", "invoice", "exception_received", "exception_resolved",
                               "follow_up"]
    assert _open_task(drive, order.number) == "follow_up"


def test_payment_failure_hold_supply_stops_credit_until_paid(drive):
    order = _invoiced(drive)
    case = _payment_failed(drive, order, "insufficient funds")
    closed = drive.handle(case, "hold_supply", by="fiona")
    assert closed.status == "closed"
    customer = db.session.scalar(select(Customer).where(Customer.code == "GOOD"))
    assert customer.on_credit is False
    assert _statuses(order) == ("delivered", "delivered", "invoiced")
    _pay(order, "25.00")
    assert _statuses(order) == ("completed", "delivered", "paid")
    assert messages(order)[-3:] == ["exception_received", "exception_resolved", "follow_up"]


def test_invoice_error_credits_the_old_invoice_and_the_corrected_one_is_paid(drive):
    order = _invoiced(drive)
    old = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    case = drive.report(order, "invoice_error", description="the agreed discount is missing")
    closed = drive.handle(case, "credit_and_reissue", by="fiona", amount="22.50")
    assert closed.status == "closed"
    invoices = _invoices(order)
    assert invoices == [(Decimal("25.00"), Decimal("0"), Decimal("25.00"), "credited"),
                        (Decimal("22.50"), Decimal("0"), Decimal("0"), "open")]
    assert _credit_notes(order) == [(old.number, Decimal("25.00"))]
    assert _statuses(order) == ("delivered", "delivered", "invoiced")
    corrected = db.session.scalars(select(Invoice).where(Invoice.order_id == order.id).order_by(Invoice.id)).all()[1]
    assert corrected.due_date == old.due_date and corrected.number != old.number
    assert corrected.number in _newest(order, "invoice").body
    assert messages(order)[-4:] == ["exception_received", "credit_note", "invoice", "exception_resolved"]
    _pay(order, "22.50")
    assert _statuses(order) == ("completed", "delivered", "paid")
    assert _invoices(order)[1] == (Decimal("22.50"), Decimal("22.50"), Decimal("0"), "paid")


def _completed(drive, lines=(BOLTS,)) -> Order:
    order = _invoiced(drive, lines)
    _pay(order, str(sum(Decimal(str(qty)) * product(sku).list_price for sku, qty in lines)))
    assert _statuses(order)[0] == "completed"
    return order


def test_refund_is_approved_by_a_second_person_in_finance(drive):
    order = _completed(drive)
    case = drive.report(order, "refund", description="the customer was charged twice for shipping")
    _resolve(drive, case, "resolve_finance", {"action": "refund", "amount": "7.50"}, by="fiona")
    task = drive.task(case.number)
    assert (task.element_id, task.role) == ("approve_refund_finance", "finance")
    assert _refunds(order) == [(Decimal("7.50"), "requested", "fiona", "")]
    with pytest.raises(Forbidden, match="different person"):
        runtime.complete_task(task.instance_id, task.spiff_task_id, {"approved": True}, actor="fiona")
    assert _refunds(order) == [(Decimal("7.50"), "requested", "fiona", "")]
    drive.do(case.number, "approve_refund_finance", {"approved": True}, by="fred")
    db.session.expire_all()
    assert case.status == "closed"
    assert _refunds(order) == [(Decimal("7.50"), "paid", "fiona", "fred")]
    assert _invoices(order) == [(Decimal("25.00"), Decimal("17.50"), Decimal("7.50"), "paid")]
    assert _statuses(order) == ("completed", "delivered", "refunded")
    assert "7.50" in _newest(order, "refund").body
    assert messages(order)[-4:] == ["follow_up", "exception_received", "refund", "exception_resolved"]


def test_a_second_refund_may_take_what_the_first_left(drive):
    order = _completed(drive)
    drive.handle(drive.report(order, "refund"), "refund", by="fiona", approve_by="fred", amount="7.50")
    second = drive.report(order, "refund", description="and the rest, please")
    drive.do(second.number, "triage", {"summary": "We are on it."}, by="carol")
    task = drive.task(second.number)
    with pytest.raises(InvalidData) as refused:
        runtime.complete_task(task.instance_id, task.spiff_task_id,
                              {"action": "refund", "amount": "17.51", "resolution": "refund"}, actor="fiona")
    assert refused.value.errors == ["amount: 17.51 is more than the 17.50 paid and not refunded"]
    drive.do(second.number, "resolve_finance", {"action": "refund", "amount": "17.50", "resolution": "refund"},
             by="fiona")
    drive.do(second.number, "approve_refund_finance", {"approved": True}, by="fred")
    assert _refunds(order) == [(Decimal("7.50"), "paid", "fiona", "fred"), (Decimal("17.50"), "paid", "fiona", "fred")]
    assert _invoices(order) == [(Decimal("25.00"), Decimal("0.00"), Decimal("25.00"), "paid")]
    assert _statuses(order) == ("completed", "delivered", "refunded")


def test_refund_above_the_limit_needs_a_manager(drive):
    db.session.add(Product(sku="PRESS-9", name="Press", list_price=Decimal("1500.00"), on_hand=3))
    db.session.commit()
    order = _completed(drive, lines=(("PRESS-9", 1),))
    case = drive.report(order, "refund", description="the press was returned under warranty")
    _resolve(drive, case, "resolve_finance", {"action": "refund", "amount": "1200.00"}, by="fiona")
    task = drive.task(case.number)
    assert (task.element_id, task.role) == ("approve_refund_manager", "manager")
    fred = db.session.scalar(select(User).where(User.username == "fred"))
    with pytest.raises(Forbidden, match="belongs to the manager team"):  # Finance alone may not
        runtime.complete_task(task.instance_id, task.spiff_task_id, {"approved": True}, user=fred)
    mia = db.session.scalar(select(User).where(User.username == "mia"))
    runtime.complete_task(task.instance_id, task.spiff_task_id, {"approved": True}, user=mia)
    db.session.expire_all()
    assert case.status == "closed"
    assert _refunds(order) == [(Decimal("1200.00"), "paid", "fiona", "mia")]
    assert _statuses(order) == ("completed", "delivered", "refunded")
    assert _stock("PRESS-9") == (2, 0)


def test_a_refund_turned_down_at_approval_pays_nothing(drive):
    order = _completed(drive)
    case = drive.report(order, "refund")
    closed = drive.handle(case, "refund", by="fiona", approve_by="fred", approved=False, amount="5.00")
    assert closed.status == "closed"
    assert _refunds(order) == [(Decimal("5.00"), "rejected", "fiona", "fred")]
    assert _invoices(order) == [(Decimal("25.00"), Decimal("25.00"), Decimal("0"), "paid")]
    assert _statuses(order) == ("completed", "delivered", "paid")
    assert messages(order)[-2:] == ["exception_received", "exception_resolved"]


def test_refund_declined(drive):
    order = _completed(drive)
    case = drive.report(order, "refund", description="asks for money back on goods that are fine")
    closed = drive.handle(case, "decline_refund", by="fiona", resolution_code="rejected")
    assert (closed.status, closed.resolution_code) == ("closed", "rejected")
    assert _refunds(order) == []
    assert _invoices(order) == [(Decimal("25.00"), Decimal("25.00"), Decimal("0"), "paid")]
    assert _statuses(order) == ("completed", "delivered", "paid")
    assert messages(order)[-2:] == ["exception_received", "exception_resolved"]


def test_a_refund_above_what_was_paid_is_refused_on_the_form(drive):
    order = _completed(drive)
    case = drive.report(order, "refund")
    drive.do(case.number, "triage", {"summary": "We are on it."}, by="carol")
    task = drive.task(case.number)
    with pytest.raises(InvalidData) as refused:
        runtime.complete_task(task.instance_id, task.spiff_task_id,
                              {"action": "refund", "amount": "30.00", "resolution": "refund"}, actor="fiona")
    assert refused.value.errors == ["amount: 30.00 is more than the 25.00 paid and not refunded"]
    assert _refunds(order) == []


# Internal -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "task", "by"), [
    ("entry_error", "resolve_customer_service", "carol"),
    ("system_delay", "resolve_manager", "mia"),
    ("production_delay", "resolve_production", "pete"),
])
def test_internal_failure_is_corrected_and_recorded_as_a_non_conformance(drive, kind, task, by):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "pick_goods")
    case = drive.report(order, kind, description="what went wrong")
    assert not case.blocking
    drive.do(case.number, "triage", {"summary": "We are on it."}, by="carol")
    assert _open_task(drive, case.number) == task
    extra = {"new_date": "2026-03-10"} if kind == "production_delay" else {}
    drive.do(case.number, task, {"action": "correct_and_record", "resolution": "corrected the record",
                                 "root_cause": "typed by hand", "corrective_action": "fixed the quantity",
                                 "preventive_action": "scan instead of typing", **extra}, by=by)
    db.session.expire_all()
    assert (case.status, case.root_cause, case.corrective_action, case.preventive_action) == (
        "closed", "typed by hand", "fixed the quantity", "scan instead of typing")
    record = db.session.scalars(select(NonConformance).where(NonConformance.exception_id == case.id)).one()
    assert (record.description, record.corrective_action, record.preventive_action, record.recorded_by) == (
        "corrected the record", "fixed the quantity", "scan instead of typing", by)
    assert record.number.startswith("NC-")
    # The order goes on where it was: nothing held, nothing moved.
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _stock() == (100, 10)
    if kind == "production_delay":  # the customer hears the new date
        assert messages(order) == ["confirmation", "exception_received", "new_date", "exception_resolved"]
        assert order.expected_ship_date == date(2026, 3, 10)
    else:  # an internal slip that changes nothing for the customer is not told to them
        assert messages(order) == ["confirmation"]
        assert order.expected_ship_date == date(2026, 3, 3)
    assert _open_task(drive, order.number) == "pick_goods"


@pytest.mark.parametrize(("missing", "says"), [("corrective_action", "the corrective action is needed"),
                                               ("preventive_action", "the preventive action is needed")])
def test_a_non_conformance_needs_both_corrective_and_preventive_action(drive, missing, says):
    order, _ = drive.place(BOLTS)
    case = drive.report(order, "entry_error")
    drive.do(case.number, "triage", {"summary": "We are on it."}, by="carol")
    task = drive.task(case.number)
    data = {"action": "correct_and_record", "resolution": "fixed", "corrective_action": "fixed it",
            "preventive_action": "a checklist"}
    del data[missing]
    with pytest.raises(InvalidData) as refused:
        runtime.complete_task(task.instance_id, task.spiff_task_id, data, actor="carol")
    assert refused.value.errors == [f"{missing}: {says} for this action"]
    assert db.session.scalars(select(NonConformance)).all() == []
    db.session.expire_all()
    assert case.status == "in_progress"
