"""One test per exception type of the Customer and Inventory families, each from raising the case to
closing it (triage, resolve, approval where a refund needs it): the order's three statuses, where its
process stands, the stock of every product it touches, its shipments, invoices, credit notes and
refunds, and the messages the customer was sent. Refusals on the resolve form name the field and
write nothing."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import clock
from app.accounts.models import User
from app.accounts.service import create_user
from app.billing.models import Invoice
from app.catalog.models import Product, StockMove
from app.customers.models import Customer
from app.exceptions.models import ExceptionCase
from app.exceptions.taxonomy import REFUND_APPROVAL_LIMIT
from app.extensions import db
from app.fulfilment.models import Shipment
from app.notifications.models import OutboxMessage
from app.orders.models import Order
from app.workflow import Conflict, Forbidden, InvalidData, NotWaiting, runtime
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance
from app.workflow.timers import fire_due
from tests.exceptions.conftest import credit_notes as _credit_notes
from tests.exceptions.conftest import invoices as _invoices
from tests.exceptions.conftest import messages, product
from tests.exceptions.conftest import refunds as _refunds

# BOLT-M8 costs 2.50 with 100 on hand; NUT-M8 1.00 with 500; VALVE-2 50.00 with only 5 on hand.
BOLTS = ("BOLT-M8", 10)  # 25.00


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    """Every case on both databases: money and stock move under each one's locking."""
    return request.param


CHECKED = {"summary": "We are on it."}  # what drive.handle tells the customer at triage


# What the tests read ------------------------------------------------------------------------------

def _statuses(order: Order) -> tuple[str, str, str]:
    db.session.expire_all()
    return order.status, order.shipment_status, order.payment_status


def _stock(sku: str = "BOLT-M8") -> tuple[int, int]:
    """(on hand, reserved)."""
    found = product(sku)
    return found.on_hand, found.reserved


def _moves(order: Order) -> list[tuple[str, str, int]]:
    """The order's stock moves as (sku, kind, quantity), in order."""
    return [(m.product.sku, m.kind, m.quantity) for m in db.session.scalars(
        select(StockMove).where(StockMove.order_number == order.number).order_by(StockMove.id))]


def _shipments(order: Order) -> list[tuple[str, list[tuple[str, int]], str | None]]:
    """(status, [(sku, quantity)], tracking number) per shipment, oldest first."""
    db.session.expire_all()
    return [(s.status, [(line.sku, line.quantity) for line in s.lines], s.tracking_number or None)
            for s in db.session.scalars(select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id))]


def _lines(order: Order) -> list[tuple[str, int, int, int, int]]:
    """(sku, quantity, reserved, shipped, returned) per line."""
    db.session.expire_all()
    return [(line.sku, line.quantity, line.reserved_qty, line.shipped_qty, line.returned_qty) for line in order.lines]




def _body(order: Order, kind: str) -> str:
    """The newest message of this kind to the customer."""
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.order_id == order.id,
                                                          OutboxMessage.kind == kind)
                              .order_by(OutboxMessage.id.desc())).first().body


def _instance(business_key: str) -> ProcessInstance:
    db.session.expire_all()
    return db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == business_key)
                              .order_by(ProcessInstance.id.desc())).first()


def _position(order: Order) -> tuple[str, str | None, list[str]]:
    """Where the order's process stands: its status, the case holding it, and its open tasks."""
    instance = _instance(order.number)
    tasks = db.session.scalars(select(HumanTask.element_id).where(
        HumanTask.instance_id == instance.id, HumanTask.state.in_(("open", "claimed"))).order_by(HumanTask.id))
    return instance.status, instance.held_by, list(tasks)


def _received(order: Order) -> list[str]:
    """The messages the order's process took, in order."""
    return [e.detail["message"] for e in db.session.scalars(select(InstanceEvent).where(
        InstanceEvent.instance_id == _instance(order.number).id, InstanceEvent.kind == "message_received")
        .order_by(InstanceEvent.id))]


def _case(order: Order, type_key: str) -> ExceptionCase:
    db.session.expire_all()
    return db.session.scalars(select(ExceptionCase).where(ExceptionCase.order_id == order.id,
                                                          ExceptionCase.type == type_key)).one()


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


# What the tests do --------------------------------------------------------------------------------

def _pay(order: Order, amount: str) -> None:
    runtime.send_message(order.number, "payment_received", {"amount": amount, "method": "bank_transfer"})


def _through(drive, order: Order, *steps: str) -> None:
    """Complete these tasks of the order's process in turn, the way the happy path does."""
    data = {"review_order": {"approved": True}, "pick_goods": {"picked": True}, "pack_goods": {"packages": 1},
            "check_goods": {"goods_match": True}, "produce_goods": {"production_done": True},
            "arrange_shipment": {"carrier": "SF Express", "tracking_number": "TRK1"}}
    for step in steps:
        drive.do(order.number, step, data[step])


def _triaged(drive, case: ExceptionCase) -> HumanTask:
    """Triage the case; the resolve task in its owner team's inbox comes back."""
    drive.do(case.number, "triage", CHECKED, by="carol")
    return drive.task(case.number)


def _refused(drive, case: ExceptionCase, data: dict, by: str = "resolver") -> list[str]:
    """Post the resolve form with `data`: it must be refused by field, with nothing written."""
    task = drive.task(case.number)
    version = db.session.get(ProcessInstance, task.instance_id).lock_version
    with pytest.raises(InvalidData) as refused:
        runtime.complete_task(task.instance_id, task.spiff_task_id, {"resolution": "done", **data}, actor=by)
    db.session.expire_all()
    assert db.session.get(ProcessInstance, task.instance_id).lock_version == version
    assert drive.task(case.number).spiff_task_id == task.spiff_task_id  # still waiting for a remedy
    assert db.session.get(ExceptionCase, case.id).status == "in_progress"
    return refused.value.errors


def _completed(drive, *lines) -> Order:
    """An order delivered, invoiced and paid in full: it waits for the follow-up call."""
    order, _ = drive.place(*lines)
    drive.to_stage(order, "await_payment")
    _pay(order, str(sum(Decimal(qty) * product(sku).list_price for sku, qty in lines)))
    assert _statuses(order) == ("completed", "delivered", "paid")
    return order


# Customer: data change ------------------------------------------------------------------------------

def test_data_change_raises_the_quantity_and_the_order_is_reviewed_again(drive):
    order, _ = drive.place(BOLTS)
    case = drive.report(order, "data_change", description="the customer wants twenty", details={"quantity": 20})
    assert (case.family, case.blocking, case.owner_role, case.stage) == ("customer", True, "customer_service",
                                                                        "in_review")
    assert _statuses(order) == ("on_hold", "pending", "not_invoiced")
    assert _position(order) == ("running", case.number, ["review_order"])
    review = drive.task(order.number)
    with pytest.raises(Conflict, match="on hold"):  # nobody approves the old order meanwhile
        runtime.complete_task(review.instance_id, review.spiff_task_id, {"approved": True}, actor="desk")

    closed = drive.handle(case, "apply_change", by="cora")

    assert (closed.status, closed.action, closed.resolution_code) == ("closed", "apply_change", "fixed")
    assert _lines(order) == [("BOLT-M8", 20, 0, 0, 0)]
    assert order.total == Decimal("50.00")
    assert _statuses(order) == ("in_review", "pending", "not_invoiced")
    assert _received(order) == ["order_changed"]
    assert _position(order) == ("running", None, ["review_order"])  # a fresh review of the changed order
    assert _stock() == (100, 0)
    assert messages(order) == ["exception_received", "exception_resolved"]
    received = _body(order, "exception_received")
    assert closed.number in received and CHECKED["summary"] in received
    assert "done: apply_change" in _body(order, "exception_resolved")

    _through(drive, order, "review_order")
    assert "50.00" in _body(order, "confirmation")
    assert _stock() == (100, 20)
    assert _shipments(order) == [("picking", [("BOLT-M8", 20)], None)]
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["pick_goods"])


def test_data_change_of_a_product_takes_the_new_products_price(drive):
    # The agreed price was for the old product; the changed line is priced as the new one is.
    order, _ = drive.place(BOLTS)
    case = drive.report(order, "data_change", description="nuts, not bolts", details={"sku": "NUT-M8"})

    drive.handle(case, "apply_change", by="cora")

    db.session.expire_all()
    [line] = order.lines
    assert (line.sku, line.product.sku, line.quantity, line.unit_price) == ("NUT-M8", "NUT-M8", 10, Decimal("1.00"))
    assert order.total == Decimal("10.00")
    assert _position(order) == ("running", None, ["review_order"])  # reviewed again, within the price policy
    _through(drive, order, "review_order")
    assert _position(order) == ("running", None, ["pick_goods"])
    assert _stock("NUT-M8") == (500, 10)


def test_data_change_lowers_the_quantity_while_picking(drive):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "pick_goods")
    assert (_stock(), _shipments(order)) == ((100, 10), [("picking", [("BOLT-M8", 10)], None)])
    case = drive.report(order, "data_change", description="only four, please")
    assert _statuses(order) == ("on_hold", "pending", "not_invoiced")

    closed = drive.handle(case, "apply_change", by="cora", quantity=4)

    assert closed.status == "closed"
    # The pick is called off: the reservation goes back and the order is reviewed again.
    assert _lines(order) == [("BOLT-M8", 4, 0, 0, 0)]
    assert order.total == Decimal("10.00")
    assert _stock() == (100, 0)
    assert _moves(order) == [("BOLT-M8", "reserve", 10), ("BOLT-M8", "release", 10)]
    assert _shipments(order) == [("cancelled", [("BOLT-M8", 10)], None)]
    assert _statuses(order) == ("in_review", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["review_order"])
    assert messages(order) == ["confirmation", "exception_received", "exception_resolved"]

    _through(drive, order, "review_order")
    assert messages(order) == ["confirmation", "exception_received", "exception_resolved", "confirmation"]
    assert "10.00" in _body(order, "confirmation")  # the changed order is confirmed again
    assert _stock() == (100, 4)
    assert _shipments(order) == [("cancelled", [("BOLT-M8", 10)], None), ("picking", [("BOLT-M8", 4)], None)]
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["pick_goods"])


def _part_shipped(drive) -> Order:
    """Eight valves with five in stock, partial delivery allowed: five shipped, three backordered."""
    order, _ = drive.place(("VALVE-2", 8), allow_partial=True)
    _through(drive, order, "review_order", "pick_goods", "pack_goods", "check_goods", "arrange_shipment")
    assert _lines(order) == [("VALVE-2", 8, 0, 5, 0)]
    assert _statuses(order) == ("in_fulfilment", "partial", "not_invoiced")
    assert _position(order) == ("running", None, ["produce_goods"])
    return order


def test_data_change_never_goes_below_what_was_delivered(drive):
    order = _part_shipped(drive)
    case = drive.report(order, "data_change", description="the customer wants fewer valves")
    task = _triaged(drive, case)
    assert task.element_id == "resolve_customer_service"

    assert _refused(drive, case, {"action": "apply_change", "quantity": 3}) == [
        "quantity: line 1 cannot go below the 5 already delivered, nor to nothing"]
    assert _refused(drive, case, {"action": "apply_change", "quantity": 5}) == [
        f"quantity: line 1 at 5 leaves nothing of {order.number} to ship; the order cannot be reviewed again "
        "once everything is delivered"]
    assert _refused(drive, case, {"action": "apply_change"}) == [
        "quantity: the change asks for nothing: give a quantity, a product or an address"]
    assert _lines(order) == [("VALVE-2", 8, 0, 5, 0)]
    assert _statuses(order) == ("on_hold", "partial", "not_invoiced")
    assert _position(order) == ("running", case.number, ["produce_goods"])

    drive.do(case.number, "resolve_customer_service",
             {"action": "apply_change", "quantity": 7, "resolution": "seven in all"}, by="cora")
    db.session.expire_all()
    assert case.status == "closed"
    assert _lines(order) == [("VALVE-2", 7, 0, 5, 0)]
    assert order.total == Decimal("350.00")
    assert _statuses(order) == ("in_review", "partial", "not_invoiced")
    assert _position(order) == ("running", None, ["review_order"])  # production was called off
    assert _stock("VALVE-2") == (0, 0)
    assert messages(order) == ["confirmation", "shipped", "exception_received", "exception_resolved"]


def test_data_change_of_the_address_is_reviewed_and_the_order_ships_there(drive):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "pick_goods")
    case = drive.report(order, "data_change", description="deliver to the new warehouse",
                        details={"shipping_address": "2 Dock St, Pier 4"})

    closed = drive.handle(case, "apply_change", by="cora")

    assert closed.status == "closed"
    db.session.expire_all()
    assert order.shipping_address == "2 Dock St, Pier 4"
    assert _lines(order) == [("BOLT-M8", 10, 0, 0, 0)]
    assert _stock() == (100, 0)
    assert _statuses(order) == ("in_review", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["review_order"])

    _through(drive, order, "review_order", "pick_goods", "pack_goods", "check_goods", "arrange_shipment")
    assert _stock() == (90, 0)
    assert _shipments(order) == [("cancelled", [("BOLT-M8", 10)], None), ("shipped", [("BOLT-M8", 10)], "TRK1")]
    assert _statuses(order) == ("in_fulfilment", "shipped", "not_invoiced")
    assert messages(order) == ["confirmation", "exception_received", "exception_resolved", "shipped"]
    assert runtime.waits_for(order.number, "goods_received")


def test_data_change_declined_leaves_the_order_as_it_was(drive):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "pick_goods")
    case = drive.report(order, "data_change", description="fifty instead of ten", details={"quantity": 50})

    closed = drive.handle(case, "decline_change", by="cora", resolution_code="rejected")

    assert (closed.status, closed.action, closed.resolution_code) == ("closed", "decline_change", "rejected")
    assert _lines(order) == [("BOLT-M8", 10, 10, 0, 0)]
    assert order.total == Decimal("25.00")
    assert _stock() == (100, 10)
    assert _shipments(order) == [("picking", [("BOLT-M8", 10)], None)]
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _received(order) == []
    assert _position(order) == ("running", None, ["pick_goods"])  # the pick goes on
    assert messages(order) == ["confirmation", "exception_received", "exception_resolved"]
    _through(drive, order, "pick_goods")
    assert _position(order) == ("running", None, ["pack_goods"])


# Customer: cancellation ----------------------------------------------------------------------------

@pytest.mark.parametrize(("stage", "shipment_before"), [
    ("pick_goods", "picking"),  # before picking
    ("check_goods", "packed"),  # picked and packed
    ("arrange_shipment", "checked"),  # checked, about to leave
])
def test_cancellation_before_shipping_puts_the_goods_back(drive, stage, shipment_before):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, stage)
    assert _shipments(order)[0][0] == shipment_before
    case = drive.report(order, "cancellation", description="the customer found another supplier")
    assert _position(order) == ("running", case.number, [stage])

    closed = drive.handle(case, "cancel_order", by="cora")

    assert closed.status == "closed"
    assert _stock() == (100, 0)  # reserved back to nothing, nothing left the warehouse
    assert _moves(order) == [("BOLT-M8", "reserve", 10), ("BOLT-M8", "release", 10)]
    assert _shipments(order) == [("cancelled", [("BOLT-M8", 10)], None)]
    assert _lines(order) == [("BOLT-M8", 10, 0, 0, 0)]
    assert _statuses(order) == ("cancelled", "pending", "not_invoiced")
    assert _received(order) == ["order_cancelled"]
    assert _position(order) == ("completed", None, [])
    assert _invoices(order) == [] and _credit_notes(order) == [] and _refunds(order) == []
    assert messages(order) == ["confirmation", "exception_received", "order_cancelled", "exception_resolved"]
    assert "the customer found another supplier" in _body(order, "order_cancelled")


def test_cancellation_after_shipping_takes_the_goods_back(drive):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "goods_received")
    assert _stock() == (90, 0)
    case = drive.report(order, "cancellation", description="sent back unopened")

    closed = drive.handle(case, "cancel_order", by="cora")

    assert closed.status == "closed"
    assert _stock() == (100, 0)
    assert _moves(order) == [("BOLT-M8", "reserve", 10), ("BOLT-M8", "issue", 10), ("BOLT-M8", "return", 10)]
    assert _lines(order) == [("BOLT-M8", 10, 0, 10, 10)]
    assert _shipments(order) == [("returned", [("BOLT-M8", 10)], "TRK1")]
    assert _statuses(order) == ("returned", "returned", "not_invoiced")
    assert _invoices(order) == [] and _credit_notes(order) == [] and _refunds(order) == []  # nothing was billed
    assert _position(order) == ("completed", None, [])
    assert messages(order) == ["confirmation", "shipped", "exception_received", "order_cancelled",
                               "exception_resolved"]
    with pytest.raises(NotWaiting):
        runtime.send_message(order.number, "goods_received", {"signed_by": "Dock"})


def test_cancellation_after_invoicing_credits_the_open_part_and_refunds_what_was_paid(drive):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "await_payment")
    _pay(order, "10.00")
    invoice = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    case = drive.report(order, "cancellation", description="the customer returns everything")
    _triaged(drive, case)
    drive.do(case.number, "resolve_customer_service", {"action": "cancel_order", "resolution": "taken back"},
             by="cora")

    # The goods are back and the unpaid part credited at once; the refund waits for Finance.
    task = drive.task(case.number)
    assert (task.element_id, task.role) == ("approve_refund_finance", "finance")
    assert _credit_notes(order) == [(invoice.number, Decimal("15.00"))]
    assert _refunds(order) == [(Decimal("10.00"), "requested", "cora", "")]
    assert _stock() == (100, 0)
    drive.do(case.number, "approve_refund_finance", {"approved": True}, by="fiona")

    db.session.expire_all()
    assert case.status == "closed"
    assert _refunds(order) == [(Decimal("10.00"), "paid", "cora", "fiona")]
    assert _invoices(order) == [(Decimal("25.00"), Decimal("0.00"), Decimal("25.00"), "paid")]
    assert _moves(order) == [("BOLT-M8", "reserve", 10), ("BOLT-M8", "issue", 10), ("BOLT-M8", "return", 10)]
    assert _lines(order) == [("BOLT-M8", 10, 0, 10, 10)]
    assert _shipments(order) == [("returned", [("BOLT-M8", 10)], "TRK1")]
    assert _statuses(order) == ("returned", "returned", "refunded")
    assert _received(order) == ["goods_received", "payment_received", "order_cancelled"]
    assert _position(order) == ("completed", None, [])
    assert messages(order) == ["confirmation", "shipped", "invoice", "exception_received", "credit_note",
                               "order_cancelled", "refund", "exception_resolved"]
    assert "15.00" in _body(order, "credit_note") and invoice.number in _body(order, "credit_note")
    assert "10.00" in _body(order, "refund")


def test_cancellation_withdrawn_the_customer_keeps_the_order(drive):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "pick_goods")
    case = drive.report(order, "cancellation", description="maybe cancel")

    closed = drive.handle(case, "keep_order", by="cora", resolution_code="wont_fix")

    assert (closed.status, closed.action) == ("closed", "keep_order")
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _stock() == (100, 10)
    assert _shipments(order) == [("picking", [("BOLT-M8", 10)], None)]
    assert _position(order) == ("running", None, ["pick_goods"])
    assert messages(order) == ["confirmation", "exception_received", "exception_resolved"]


# Customer: late payment ----------------------------------------------------------------------------

def _at(moment: datetime) -> int:
    """Move the clock just past `moment` and fire the timers then due; returns how many fired."""
    clock.freeze(moment + timedelta(seconds=1))
    return fire_due()


def test_late_payment_past_the_last_reminder_reminds_the_customer_once_more(drive):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "await_payment")
    invoice = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    assert invoice.due_date == date(2026, 4, 1)
    for day in (date(2026, 4, 11), date(2026, 5, 1), date(2026, 5, 16)):  # due + 10, 30, 45 days
        assert _at(datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9)) == 1
    case = _case(order, "late_payment")
    assert (case.source, case.blocking, case.owner_role, case.description) == (
        "process", False, "finance", "invoice overdue past the last reminder")
    assert _statuses(order) == ("delivered", "delivered", "overdue")
    assert _position(order) == ("running", None, ["collections"])

    drive.do(case.number, "triage", {"summary": f"Invoice {invoice.number} over 25.00 is still unpaid."},
             by="carol")
    drive.do(case.number, "resolve_finance", {"action": "send_reminder", "resolution": "reminded by phone"},
             by="fiona")

    db.session.expire_all()
    assert (case.status, case.action) == ("closed", "send_reminder")
    assert f"Invoice {invoice.number} over 25.00 is still unpaid." in _body(order, "exception_received")
    assert messages(order) == ["confirmation", "shipped", "invoice", "reminder", "reminder", "reminder",
                               "exception_received", "exception_resolved"]
    assert _statuses(order) == ("delivered", "delivered", "overdue")
    assert _invoices(order) == [(Decimal("25.00"), Decimal("0"), Decimal("0"), "overdue")]
    assert _position(order) == ("running", None, ["collections"])  # collections carry on
    drive.do(order.number, "collections", {"collection_outcome": "paid", "amount": "25.00"}, by="fred")
    assert _statuses(order) == ("completed", "delivered", "paid")


def test_late_payment_agreed_new_date_moves_the_due_date_and_the_reminders(drive):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "await_payment")
    clock.freeze(datetime(2026, 3, 30, 10, 0, tzinfo=UTC))
    case = drive.report(order, "late_payment", description="the customer asks for six more weeks")
    assert not case.blocking

    closed = drive.handle(case, "agree_new_date", by="fiona", new_date="2026-05-15")

    assert closed.status == "closed"
    invoice = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    assert (invoice.due_date, invoice.dunning_level, invoice.status) == (date(2026, 5, 15), 0, "open")
    assert _statuses(order) == ("delivered", "delivered", "invoiced")
    assert _position(order) == ("waiting", None, [])
    assert messages(order) == ["confirmation", "shipped", "invoice", "exception_received", "exception_resolved"]

    # The reminder the old date would have brought does not go out; the one of the new date does.
    assert _at(datetime(2026, 4, 11, 9, 0, tzinfo=UTC)) == 1
    assert messages(order)[-1] == "exception_resolved"
    assert _statuses(order) == ("delivered", "delivered", "invoiced")
    assert _at(datetime(2026, 5, 25, 9, 0, tzinfo=UTC)) == 1
    assert messages(order)[-1] == "reminder"
    assert "2026-05-15" in _body(order, "reminder")
    assert _statuses(order) == ("delivered", "delivered", "overdue")
    _pay(order, "25.00")
    assert _statuses(order) == ("completed", "delivered", "paid")


def test_late_payment_hold_supply_takes_the_customer_off_credit(drive):
    customer = db.session.scalar(select(Customer).where(Customer.code == "GOOD"))
    customer.credit_limit = Decimal("20")
    db.session.commit()
    order, _ = drive.place(BOLTS)  # 25.00 over a limit of 20.00
    drive.do(order.number, "credit_review", {"credit_override": False, "credit_note": "two invoices unpaid"},
             by="credit-officer")
    case = _case(order, "late_payment")
    assert (case.source, case.blocking, case.description) == ("process", False,
                                                              "the order exceeds your credit limit")
    assert _position(order) == ("running", None, ["negotiate_order"])

    closed = drive.handle(case, "hold_supply", by="fiona")

    assert closed.status == "closed"
    db.session.expire_all()
    assert customer.on_credit is False
    assert _statuses(order) == ("negotiating", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["negotiate_order"])
    assert _stock() == (100, 0)
    assert messages(order) == ["rejection", "exception_received", "exception_resolved"]
    # Off credit, even a small next order goes to credit review.
    customer.credit_limit = Decimal("100000")
    db.session.commit()
    small, _ = drive.place(("NUT-M8", 1))
    assert _position(small) == ("running", None, ["credit_review"])


# Customer: complaint -------------------------------------------------------------------------------

def test_complaint_compensated_with_a_credit_note(drive):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "await_payment")
    invoice = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    case = drive.report(order, "complaint", description="two bolts arrived bent")
    assert (case.blocking, case.owner_role) == (False, "customer_service")

    closed = drive.handle(case, "compensate_credit", by="cora", amount="5.00")

    assert closed.status == "closed"
    assert _credit_notes(order) == [(invoice.number, Decimal("5.00"))]
    assert _invoices(order) == [(Decimal("25.00"), Decimal("0"), Decimal("5.00"), "open")]
    assert _statuses(order) == ("delivered", "delivered", "invoiced")
    assert _position(order) == ("waiting", None, [])
    assert _stock() == (90, 0)
    assert messages(order) == ["confirmation", "shipped", "invoice", "exception_received", "credit_note",
                               "exception_resolved"]
    assert "5.00" in _body(order, "credit_note") and invoice.number in _body(order, "credit_note")
    _pay(order, "20.00")  # the balance after the credit settles the invoice
    assert _statuses(order) == ("completed", "delivered", "paid")
    assert _invoices(order) == [(Decimal("25.00"), Decimal("20.00"), Decimal("5.00"), "paid")]


def test_complaint_refund_is_approved_by_another_person_and_paid(drive):
    kim = create_user("kim", "Kim", "secret-pass", ["customer_service", "finance"])
    db.session.commit()
    order = _completed(drive, BOLTS)
    case = drive.report(order, "complaint", description="the bolts rusted within a week")
    task = _triaged(drive, case)
    runtime.complete_task(task.instance_id, task.spiff_task_id,
                          {"action": "compensate_refund", "amount": "10.00", "resolution": "refund of 10.00"},
                          user=kim)
    task = drive.task(case.number)
    assert (task.element_id, task.role) == ("approve_refund_finance", "finance")
    assert _refunds(order) == [(Decimal("10.00"), "requested", "kim", "")]
    with pytest.raises(Forbidden, match="different person"):  # kim is in Finance too, but asked for it
        runtime.complete_task(task.instance_id, task.spiff_task_id, {"approved": True}, user=kim)
    with pytest.raises(Forbidden, match="finance team"):
        runtime.complete_task(task.instance_id, task.spiff_task_id, {"approved": True}, user=_user("cora"))
    assert _refunds(order) == [(Decimal("10.00"), "requested", "kim", "")]

    runtime.complete_task(task.instance_id, task.spiff_task_id, {"approved": True}, user=_user("fiona"))

    db.session.expire_all()
    assert (case.status, case.action) == ("closed", "compensate_refund")
    assert _refunds(order) == [(Decimal("10.00"), "paid", "kim", "fiona")]
    assert _invoices(order) == [(Decimal("25.00"), Decimal("15.00"), Decimal("10.00"), "paid")]
    assert _credit_notes(order) == []
    assert _statuses(order) == ("completed", "delivered", "refunded")
    assert _position(order) == ("running", None, ["follow_up"])
    assert messages(order) == ["confirmation", "shipped", "invoice", "follow_up", "exception_received", "refund",
                               "exception_resolved"]
    assert "10.00" in _body(order, "refund")


@pytest.mark.parametrize(("amount", "approval", "team", "wrong_team"), [
    (f"{REFUND_APPROVAL_LIMIT}.00", "approve_refund_finance", "fiona", "mia"),  # at the limit: Finance
    (f"{REFUND_APPROVAL_LIMIT}.01", "approve_refund_manager", "mia", "fiona"),  # above it: a manager
])
def test_complaint_refund_above_the_limit_needs_a_manager(drive, amount, approval, team, wrong_team):
    db.session.add(Product(sku="PRESS-9", name="Press", list_price=Decimal("1500.00"), on_hand=3))
    db.session.commit()
    order = _completed(drive, ("PRESS-9", 1))
    case = drive.report(order, "complaint", description="the press stopped after a day")
    _triaged(drive, case)
    drive.do(case.number, "resolve_customer_service",
             {"action": "compensate_refund", "amount": amount, "resolution": "refund"}, by="cora")
    task = drive.task(case.number)
    assert task.element_id == approval
    with pytest.raises(Forbidden, match="team"):
        runtime.complete_task(task.instance_id, task.spiff_task_id, {"approved": True}, user=_user(wrong_team))

    runtime.complete_task(task.instance_id, task.spiff_task_id, {"approved": True}, user=_user(team))

    db.session.expire_all()
    assert case.status == "closed"
    paid_back = Decimal(amount)
    assert _refunds(order) == [(paid_back, "paid", "cora", team)]
    assert _invoices(order) == [(Decimal("1500.00"), Decimal("1500.00") - paid_back, paid_back, "paid")]
    assert _statuses(order) == ("completed", "delivered", "refunded")
    assert _stock("PRESS-9") == (2, 0)
    assert messages(order)[-3:] == ["exception_received", "refund", "exception_resolved"]


def test_complaint_answered_with_replacement_goods_from_stock(drive):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "await_payment")
    case = drive.report(order, "complaint", description="wrong thread on every bolt")

    closed = drive.handle(case, "replace_goods", by="cora", carrier="DHL", tracking_number="DHL-4711")

    assert closed.status == "closed"
    assert _shipments(order) == [("delivered", [("BOLT-M8", 10)], "TRK1"), ("shipped", [("BOLT-M8", 10)], "DHL-4711")]
    assert _stock() == (80, 0)
    assert _moves(order) == [("BOLT-M8", "reserve", 10), ("BOLT-M8", "issue", 10),
                             ("BOLT-M8", "reserve", 10), ("BOLT-M8", "issue", 10)]
    assert _invoices(order) == [(Decimal("25.00"), Decimal("0"), Decimal("0"), "open")]  # not billed twice
    assert _statuses(order) == ("delivered", "delivered", "invoiced")
    assert _position(order) == ("waiting", None, [])
    assert messages(order) == ["confirmation", "shipped", "invoice", "exception_received", "shipped",
                               "exception_resolved"]
    assert "DHL-4711" in _body(order, "shipped") and "DHL" in _body(order, "shipped")


def test_complaint_without_compensation_changes_nothing(drive):
    order = _completed(drive, BOLTS)
    case = drive.report(order, "complaint", description="the box was dented")

    closed = drive.handle(case, "no_compensation", by="cora", resolution_code="wont_fix",
                          root_cause="carrier handling", resolution="The goods inside were checked and are fine.")

    assert (closed.status, closed.resolution_code, closed.root_cause) == ("closed", "wont_fix", "carrier handling")
    assert _invoices(order) == [(Decimal("25.00"), Decimal("25.00"), Decimal("0"), "paid")]
    assert _credit_notes(order) == [] and _refunds(order) == []
    assert _statuses(order) == ("completed", "delivered", "paid")
    assert _stock() == (90, 0)
    assert messages(order)[-2:] == ["exception_received", "exception_resolved"]
    assert "The goods inside were checked and are fine." in _body(order, "exception_resolved")


def test_complaint_form_refuses_what_the_order_cannot_take_and_writes_nothing(drive):
    order = _completed(drive, BOLTS)
    invoice = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    case = drive.report(order, "complaint", description="wants money back")
    _triaged(drive, case)

    assert _refused(drive, case, {"action": "backorder"}) == [
        "action: 'backorder' is not valid under any of the given schemas"]  # not in the complaint playbook
    assert _refused(drive, case, {"action": "compensate_refund", "amount": "30.00"}) == [
        "amount: 30.00 is more than the 25.00 paid and not refunded"]
    assert _refused(drive, case, {"action": "compensate_refund"}) == ["amount: an amount is needed for this action"]
    assert _refused(drive, case, {"action": "compensate_credit", "amount": "1.00"}) == [
        f"amount: 1.00 is more than the 0.00 still open on {invoice.number}"]  # it is paid
    assert _refused(drive, case, {"action": "replace_goods", "carrier": "DHL"}) == [
        "tracking_number: a tracking number is needed for this action"]

    assert _refunds(order) == [] and _credit_notes(order) == []
    assert _invoices(order) == [(Decimal("25.00"), Decimal("25.00"), Decimal("0"), "paid")]
    assert _shipments(order) == [("delivered", [("BOLT-M8", 10)], "TRK1")]
    assert _stock() == (90, 0)
    assert messages(order)[-2:] == ["follow_up", "exception_received"]
    assert _statuses(order) == ("completed", "delivered", "paid")


# Inventory: stockout -------------------------------------------------------------------------------

def _short_of_valves(drive, *lines) -> tuple[Order, ExceptionCase]:
    """Eight valves ordered, five in stock: the process raises a stockout at reservation and waits."""
    order, _ = drive.place(*(lines or (("VALVE-2", 8),)))
    _through(drive, order, "review_order")
    case = _case(order, "stockout")
    assert (case.source, case.family, case.blocking, case.owner_role, case.stage) == (
        "process", "inventory", True, "warehouse", "confirmed")
    assert _statuses(order) == ("on_hold", "pending", "not_invoiced")
    assert _position(order) == ("waiting", None, [])  # not held: it waits for the case's outcome itself
    assert runtime.waits_for(order.number, "exception_resolved")
    return order, case


def test_stockout_backordered_goes_to_production_and_ships_complete(drive):
    order, case = _short_of_valves(drive)
    assert _stock("VALVE-2") == (5, 5)

    closed = drive.handle(case, "backorder", by="walt")

    assert closed.status == "closed"
    assert _received(order) == ["exception_resolved"]
    assert _statuses(order) == ("confirmed", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["produce_goods"])
    assert drive.task(order.number).role == "production"
    assert _stock("VALVE-2") == (5, 5)
    assert _shipments(order) == []
    assert messages(order) == ["confirmation", "exception_received", "exception_resolved"]

    _through(drive, order, "produce_goods")
    assert _stock("VALVE-2") == (8, 8)
    assert _shipments(order) == [("picking", [("VALVE-2", 8)], None)]
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["pick_goods"])


def test_stockout_partial_shipment_picks_what_is_there(drive):
    order, case = _short_of_valves(drive)

    closed = drive.handle(case, "partial_shipment", by="walt")

    assert closed.status == "closed"
    db.session.expire_all()
    assert order.allow_partial is True
    assert _shipments(order) == [("picking", [("VALVE-2", 5)], None)]
    assert db.session.scalar(select(Shipment.backorder).where(Shipment.order_id == order.id)) is True
    assert _stock("VALVE-2") == (5, 5)
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["pick_goods"])
    assert messages(order) == ["confirmation", "exception_received", "exception_resolved"]

    _through(drive, order, "pick_goods", "pack_goods", "check_goods", "arrange_shipment")
    assert _lines(order) == [("VALVE-2", 8, 0, 5, 0)]
    assert _stock("VALVE-2") == (0, 0)
    assert _statuses(order) == ("in_fulfilment", "partial", "not_invoiced")
    assert _position(order) == ("running", None, ["produce_goods"])  # the rest is made


def test_stockout_substitute_reserves_another_product(drive):
    db.session.add(Product(sku="VALVE-3", name="Valve, new model", list_price=Decimal("55.00"), on_hand=20))
    db.session.commit()
    order, case = _short_of_valves(drive)
    _triaged(drive, case)
    assert _refused(drive, case, {"action": "substitute", "sku": "NOPE-1"}, by="walt") == [
        "sku: unknown product 'NOPE-1'"]
    assert _refused(drive, case, {"action": "substitute"}, by="walt") == [
        "sku: the substitute product's SKU is needed for this action"]
    assert _lines(order) == [("VALVE-2", 8, 5, 0, 0)]

    drive.do(case.number, "resolve_warehouse", {"action": "substitute", "sku": "VALVE-3", "resolution": "new model"},
             by="walt")

    db.session.expire_all()
    assert case.status == "closed"
    assert _lines(order) == [("VALVE-3", 8, 8, 0, 0)]
    assert order.lines[0].unit_price == Decimal("50.00")  # at the price agreed
    assert _stock("VALVE-2") == (5, 0)
    assert _stock("VALVE-3") == (20, 8)
    assert _moves(order) == [("VALVE-2", "reserve", 5), ("VALVE-2", "release", 5), ("VALVE-3", "reserve", 8)]
    assert _shipments(order) == [("picking", [("VALVE-3", 8)], None)]
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["pick_goods"])
    assert messages(order) == ["confirmation", "exception_received", "exception_resolved"]


def test_stockout_cancel_lines_drops_what_cannot_be_supplied(drive):
    valves = product("VALVE-2")
    valves.on_hand = 0
    db.session.commit()
    order, case = _short_of_valves(drive, BOLTS, ("VALVE-2", 8))
    assert _stock() == (100, 10)

    closed = drive.handle(case, "cancel_lines", by="walt")

    assert closed.status == "closed"
    assert _lines(order) == [("BOLT-M8", 10, 10, 0, 0)]
    assert order.total == Decimal("25.00")
    assert _stock() == (100, 10) and _stock("VALVE-2") == (0, 0)
    assert _shipments(order) == [("picking", [("BOLT-M8", 10)], None)]
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["pick_goods"])
    assert messages(order) == ["confirmation", "exception_received", "exception_resolved"]


def test_stockout_after_a_part_delivery_cannot_cancel_the_rest_and_is_backordered(drive):
    order = _part_shipped(drive)
    drive.handle(drive.report(order, "data_change", description="seven after all"), "apply_change", by="cora",
                 quantity=7)
    _through(drive, order, "review_order")  # two more valves needed, none in stock
    case = _case(order, "stockout")
    _triaged(drive, case)

    assert _refused(drive, case, {"action": "cancel_lines"}, by="walt") == [
        f"action: cancelling the short lines leaves nothing of {order.number} to ship after its part delivery; "
        "backorder the rest instead"]
    assert _lines(order) == [("VALVE-2", 7, 0, 5, 0)]

    drive.do(case.number, "resolve_warehouse", {"action": "backorder", "resolution": "two more made"}, by="walt")

    db.session.expire_all()
    assert case.status == "closed"
    assert _statuses(order) == ("confirmed", "partial", "not_invoiced")
    assert _position(order) == ("running", None, ["produce_goods"])
    _through(drive, order, "produce_goods")
    assert _stock("VALVE-2") == (2, 2)
    assert _shipments(order)[-1] == ("picking", [("VALVE-2", 2)], None)
    assert _position(order) == ("running", None, ["pick_goods"])


def test_stockout_reported_by_staff_at_review(drive):
    db.session.add(Product(sku="VALVE-3", name="Valve, new model", list_price=Decimal("55.00"), on_hand=20))
    db.session.commit()
    order, _ = drive.place(("VALVE-2", 8))
    case = drive.report(order, "stockout", reported_by="walt", description="only five valves on the shelf")
    assert (case.source, case.blocking, case.stage) == ("staff", True, "in_review")
    assert _statuses(order) == ("on_hold", "pending", "not_invoiced")
    assert _position(order) == ("running", case.number, ["review_order"])

    closed = drive.handle(case, "substitute", by="walt", sku="VALVE-3")

    assert closed.status == "closed"
    assert _lines(order) == [("VALVE-3", 8, 0, 0, 0)]
    assert _statuses(order) == ("in_review", "pending", "not_invoiced")
    assert _received(order) == []
    assert _position(order) == ("running", None, ["review_order"])
    _through(drive, order, "review_order")
    assert _stock("VALVE-3") == (20, 8) and _stock("VALVE-2") == (5, 0)
    assert _shipments(order) == [("picking", [("VALVE-3", 8)], None)]
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert db.session.scalars(select(ExceptionCase.type).where(ExceptionCase.order_id == order.id)).all() == [
        "stockout"]  # the process found enough stock: no second case
    assert messages(order) == ["exception_received", "exception_resolved", "confirmation"]


# Inventory: count mismatch -------------------------------------------------------------------------

@pytest.mark.parametrize(("form", "counted"), [({}, 95), ({"quantity": 97, "sku": "BOLT-M8"}, 97)])
def test_count_mismatch_books_the_counted_stock(drive, form, counted):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "pick_goods")
    case = drive.report(order, "count_mismatch", reported_by="walt", description="the shelf holds fewer bolts",
                        details={"sku": "BOLT-M8", "counted": 95})
    assert (case.blocking, case.owner_role) == (False, "warehouse")
    assert _position(order) == ("running", None, ["pick_goods"])  # the pick is not held

    closed = drive.handle(case, "adjust_stock", by="walt", **form)

    assert closed.status == "closed"
    assert _stock() == (counted, 10)
    count = db.session.scalars(select(StockMove).where(StockMove.kind == "count")).one()
    assert (count.product.sku, count.quantity, count.order_number) == ("BOLT-M8", counted - 100, None)
    assert case.number in count.note
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["pick_goods"])
    assert messages(order) == ["confirmation"]  # a stock count is not the customer's business
    _through(drive, order, "pick_goods", "pack_goods", "check_goods", "arrange_shipment")
    assert _stock() == (counted - 10, 0)


def test_count_mismatch_form_refuses_a_count_below_what_is_reserved(drive):
    order, _ = drive.place(BOLTS)
    drive.to_stage(order, "pick_goods")
    case = drive.report(order, "count_mismatch", reported_by="walt")
    _triaged(drive, case)

    assert _refused(drive, case, {"action": "adjust_stock"}, by="walt") == ["sku: give the SKU that was counted"]
    assert _refused(drive, case, {"action": "adjust_stock", "sku": "BOLT-M8"}, by="walt") == [
        "quantity: give the counted quantity"]
    assert _refused(drive, case, {"action": "adjust_stock", "sku": "BOLT-M8", "quantity": 6}, by="walt") == [
        "quantity: BOLT-M8: 10 are reserved for orders; a count of 6 needs those orders looked at first"]
    assert _refused(drive, case, {"action": "repick"}, by="walt") == [
        "action: 'repick' is not valid under any of the given schemas"]
    assert _stock() == (100, 10)
    assert db.session.scalars(select(StockMove).where(StockMove.kind == "count")).all() == []


# Inventory: wrong or defective pick ----------------------------------------------------------------

def _wrong_pick(drive) -> tuple[Order, ExceptionCase]:
    order, _ = drive.place(BOLTS)
    _through(drive, order, "review_order", "pick_goods", "pack_goods")
    drive.do(order.number, "check_goods", {"goods_match": False, "check_note": "M6 bolts in the box"})
    case = _case(order, "wrong_pick")
    assert (case.source, case.blocking, case.owner_role, case.description) == (
        "process", True, "warehouse", "M6 bolts in the box")
    assert _statuses(order) == ("on_hold", "pending", "not_invoiced")
    assert _shipments(order) == [("packed", [("BOLT-M8", 10)], None)]
    assert _position(order) == ("waiting", None, [])
    return order, case


def test_wrong_pick_is_picked_again(drive):
    order, case = _wrong_pick(drive)

    closed = drive.handle(case, "repick", by="walt")

    assert closed.status == "closed"
    assert _received(order) == ["exception_resolved"]
    assert _stock() == (100, 10)
    assert _moves(order) == [("BOLT-M8", "reserve", 10), ("BOLT-M8", "release", 10), ("BOLT-M8", "reserve", 10)]
    assert _shipments(order) == [("cancelled", [("BOLT-M8", 10)], None), ("picking", [("BOLT-M8", 10)], None)]
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["pick_goods"])
    assert messages(order) == ["confirmation"]  # picked again before anything reached the customer
    _through(drive, order, "pick_goods", "pack_goods", "check_goods", "arrange_shipment")
    assert _stock() == (90, 0)
    assert _statuses(order) == ("in_fulfilment", "shipped", "not_invoiced")


def test_defective_pick_is_written_off_and_picked_again(drive):
    order, case = _wrong_pick(drive)
    _triaged(drive, case)
    assert _refused(drive, case, {"action": "quality_hold"}, by="walt") == [
        "quantity: the defective quantity is needed for this action"]
    assert _refused(drive, case, {"action": "quality_hold", "quantity": 11}, by="walt") == [
        f"quantity: only 10 of BOLT-M8 are reserved for {order.number}"]
    assert _refused(drive, case, {"action": "cancel_order"}, by="walt") == [
        "action: 'cancel_order' is not valid under any of the given schemas"]
    assert _stock() == (100, 10)

    drive.do(case.number, "resolve_warehouse", {"action": "quality_hold", "quantity": 3, "resolution": "scrapped",
                                                "root_cause": "damp storage"}, by="walt")

    db.session.expire_all()
    assert (case.status, case.root_cause) == ("closed", "damp storage")
    assert _stock() == (97, 10)
    assert _moves(order) == [("BOLT-M8", "reserve", 10), ("BOLT-M8", "write_off", 3), ("BOLT-M8", "release", 7),
                             ("BOLT-M8", "reserve", 10)]
    assert _shipments(order) == [("cancelled", [("BOLT-M8", 10)], None), ("picking", [("BOLT-M8", 10)], None)]
    assert _statuses(order) == ("in_fulfilment", "pending", "not_invoiced")
    assert _position(order) == ("running", None, ["pick_goods"])
    assert messages(order) == ["confirmation"]  # picked again before anything reached the customer
