"""The order-to-cash process (workflows/order_process.bpmn) driven through app.workflow.runtime:
the happy path with every status, stock figure, invoice and customer message, and each branch."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import clock
from app.billing.models import DunningNotice, Invoice
from app.catalog.models import Product
from app.customers.models import Customer
from app.extensions import db
from app.fulfilment.models import Shipment
from app.notifications.models import OutboxMessage
from app.orders.models import Order
from app.orders.service import LineInput, OrderError, create_order
from app.workflow import Conflict, Forbidden, InvalidData, NotWaiting, definitions, runtime
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance, Wakeup
from app.workflow.timers import fire_due

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning


@pytest.fixture
def shop(ctx, deployed):
    clock.freeze(START)
    customers = {
        "good": Customer(code="GOOD", name="Good Customer Ltd", email="buy@good.example", phone="+1 555 0100",
                         shipping_address="1 Harbour Road", credit_limit=Decimal("100000"), payment_terms_days=30),
        "tight": Customer(code="TIGHT", name="Tight Credit Ltd", email="ap@tight.example",
                          shipping_address="9 Narrow Lane", credit_limit=Decimal("100")),
        "vague": Customer(code="VAGUE", name="Vague Buyer", shipping_address="", credit_limit=Decimal("5000")),
    }
    products = {
        "BOLT-M8": Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=100),
        "VALVE-2": Product(sku="VALVE-2", name="Valve", list_price=Decimal("50.00"), on_hand=5, lead_time_days=7),
        "PUMP-X1": Product(sku="PUMP-X1", name="Pump", list_price=Decimal("400.00"), make_to_order=True,
                           lead_time_days=10),
    }
    db.session.add_all([*customers.values(), *products.values()])
    db.session.commit()
    return customers, products


def place(customer: Customer, *lines: tuple[str, int], requested_days: int | None = 30, payment="credit",
          allow_partial=False, by="desk") -> tuple[Order, ProcessInstance]:
    order = create_order(customer, "email", [LineInput(sku, qty) for sku, qty in lines],
                         requested_date=(START + timedelta(days=requested_days)).date() if requested_days else None,
                         payment_method=payment, allow_partial=allow_partial, entered_by=by)
    db.session.commit()
    instance = runtime.start("order_process", order.number, {"order_number": order.number, "entered_by": by})
    return order, instance


def open_task(instance: ProcessInstance) -> HumanTask:
    db.session.expire_all()
    return db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state.in_(("open", "claimed")))
    ).one()


def do(instance: ProcessInstance, element_id: str, data: dict, **kwargs) -> ProcessInstance:
    task = open_task(instance)
    assert task.element_id == element_id, f"expected {element_id}, the open task is {task.element_id}"
    done = runtime.complete_task(instance.id, task.spiff_task_id, data, **kwargs)
    assert done.status != "error", done.error
    return done


def ship_everything(instance, packages=1, tracking="TRK1"):
    do(instance, "pick_goods", {"picked": True})
    do(instance, "pack_goods", {"packages": packages})
    do(instance, "check_goods", {"goods_match": True})
    return do(instance, "arrange_shipment", {"carrier": "SF Express", "tracking_number": tracking})


def messages(order: Order) -> list[str]:
    return [m.kind for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.order_id == order.id).order_by(OutboxMessage.id))]


def task_data(instance: ProcessInstance) -> dict:
    from app.workflow import engine

    db.session.expire_all()
    task = open_task(instance)
    workflow = definitions.restore(db.session.get(ProcessInstance, instance.id), None)
    return engine.find_task(workflow, task.spiff_task_id).data


def test_happy_path_from_entry_to_follow_up(shop):
    customers, products = shop
    order, instance = place(customers["good"], ("BOLT-M8", 40), ("VALVE-2", 2))
    assert order.total == Decimal("200.00") and order.number.startswith("SO-2026-")
    assert (order.status, open_task(instance).element_id) == ("in_review", "review_order")
    checks = task_data(instance)["checks"]
    assert checks["all_ok"] and checks["credit"]["exposure"] == "200.00"

    do(instance, "review_order", {"approved": True}, actor="reviewer")
    db.session.expire_all()
    assert (order.status, order.expected_ship_date.isoformat()) == ("in_fulfilment", "2026-03-03")
    assert (products["BOLT-M8"].reserved, products["VALVE-2"].reserved) == (40, 2)
    ship_everything(instance, packages=3)
    db.session.expire_all()
    assert (order.shipment_status, products["BOLT-M8"].on_hand, products["BOLT-M8"].reserved) == ("shipped", 60, 0)
    assert products["VALVE-2"].on_hand == 3
    shipment = db.session.scalar(select(Shipment).where(Shipment.order_id == order.id))
    assert (shipment.status, shipment.tracking_number, shipment.backorder) == ("shipped", "TRK1", False)
    assert db.session.get(ProcessInstance, instance.id).status == "waiting"

    runtime.send_message(order.number, "goods_received", {"signed_by": "Dock 4"})
    db.session.expire_all()
    invoice = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    assert (order.status, order.payment_status) == ("delivered", "invoiced")
    assert (invoice.amount, invoice.due_date.isoformat()) == (Decimal("200.00"), "2026-04-01")
    assert db.session.get(Wakeup, instance.id).due_at == datetime(2026, 4, 11, 9, 0, tzinfo=UTC)  # first reminder

    runtime.send_message(order.number, "payment_received", {"amount": "200.00", "method": "bank_transfer"})
    db.session.expire_all()
    assert (order.status, order.payment_status, invoice.status) == ("completed", "paid", "paid")
    # What still wakes the instance is the follow-up call's SLA clock, no reminder any more.
    assert order.archived_at is not None
    assert db.session.get(Wakeup, instance.id).due_at == open_task(instance).at_risk_at
    done = do(instance, "follow_up", {"satisfaction": 5})
    assert done.status == "completed"
    assert messages(order) == ["confirmation", "shipped", "invoice", "follow_up"]
    shipped = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "shipped"))
    assert "TRK1" in shipped.body and "SF Express" in shipped.body


def test_incomplete_order_is_clarified_with_the_customer_and_comes_back(shop):
    customers, _products = shop
    order, instance = place(customers["vague"], ("BOLT-M8", 1), requested_days=None)
    assert order.status == "clarifying"
    assert set(task_data(instance)["intake"]["missing"]) == {
        "shipping address", "a contact (e-mail or phone)", "requested delivery date"}
    with pytest.raises(InvalidData):
        do(instance, "clarify_order", {"requested_date": "next week"})
    do(instance, "clarify_order", {"shipping_address": "5 Quay St", "contact_phone": "+86 21 5555"})
    db.session.expire_all()
    assert order.status == "clarifying" and task_data(instance)["intake"]["missing"] == ["requested delivery date"]
    do(instance, "clarify_order", {"requested_date": "2026-04-01"})
    db.session.expire_all()
    assert (order.status, str(order.requested_date), order.shipping_address) == ("in_review", "2026-04-01", "5 Quay St")
    assert open_task(instance).element_id == "review_order"
    assert messages(order) == ["clarification", "clarification"]


def test_credit_refusal_then_negotiated_prepayment(shop):
    customers, _products = shop
    order, instance = place(customers["tight"], ("VALVE-2", 3), by="desk")
    assert not task_data(instance)["checks"]["credit"]["ok"]
    assert open_task(instance).element_id == "credit_review" and open_task(instance).role == "credit"
    do(instance, "credit_review", {"credit_override": False, "credit_note": "already over the limit"}, actor="cara")
    db.session.expire_all()
    assert order.status == "negotiating" and messages(order) == ["rejection"]
    rejection = db.session.scalar(select(OutboxMessage).where(OutboxMessage.order_id == order.id))
    assert "credit limit" in rejection.body
    do(instance, "negotiate_order", {"outcome": "prepayment", "negotiation_note": "pays up front"})
    db.session.expire_all()
    assert (order.payment_method, order.status) == ("prepayment", "in_review")
    assert task_data(instance)["checks"]["credit"] == {"ok": True, "applies": False}
    do(instance, "review_order", {"approved": True})
    db.session.expire_all()
    assert order.status == "in_fulfilment" and messages(order) == ["rejection", "confirmation"]


def test_credit_override_needs_someone_other_than_who_entered_the_order(shop):
    customers, _products = shop
    _order, instance = place(customers["tight"], ("VALVE-2", 3), by="dana")
    with pytest.raises(Forbidden, match="different person"):
        do(instance, "credit_review", {"credit_override": True, "credit_note": "trusted"}, actor="dana")
    do(instance, "credit_review", {"credit_override": True, "credit_note": "trusted"}, actor="cara")
    assert open_task(instance).element_id == "review_order"


def test_negotiated_cancellation_ends_the_order(shop):
    customers, products = shop
    order, instance = place(customers["good"], ("BOLT-M8", 10))
    do(instance, "review_order", {"approved": False, "review_note": "discontinued finish"})
    do(instance, "negotiate_order", {"outcome": "cancel"})
    db.session.expire_all()
    assert order.status == "cancelled" and products["BOLT-M8"].reserved == 0
    assert db.session.get(ProcessInstance, instance.id).status == "completed"
    assert "discontinued finish" in db.session.scalar(
        select(OutboxMessage.body).where(OutboxMessage.kind == "rejection"))


def test_partial_delivery_with_backorder(shop):
    customers, products = shop
    order, instance = place(customers["good"], ("VALVE-2", 8), allow_partial=True)
    assert task_data(instance)["checks"]["stock"]["lines"][0]["short"] == 3
    do(instance, "review_order", {"approved": True})
    assert task_data(instance)["pick_list"] == {"shipment": "SH-2026-000001", "backorder": True,
                                               "lines": [{"sku": "VALVE-2", "quantity": 5}]}
    ship_everything(instance, tracking="FIRST")
    db.session.expire_all()
    assert (order.shipment_status, products["VALVE-2"].on_hand) == ("partial", 0)
    assert open_task(instance).element_id == "produce_goods"
    do(instance, "produce_goods", {"production_done": True})
    ship_everything(instance, tracking="SECOND")
    db.session.expire_all()
    assert order.shipment_status == "shipped" and order.lines[0].shipped_qty == 8
    assert [s.tracking_number for s in db.session.scalars(select(Shipment).order_by(Shipment.id))] == [
        "FIRST", "SECOND"]
    assert messages(order) == ["confirmation", "shipped", "shipped"]


def test_make_to_order_goes_through_production(shop):
    customers, products = shop
    order, instance = place(customers["good"], ("PUMP-X1", 2), requested_days=30)
    assert task_data(instance)["checks"]["delivery"] == {
        "ok": True, "earliest_ship_date": "2026-03-13", "requested_date": "2026-04-01"}
    do(instance, "review_order", {"approved": True})
    task = open_task(instance)
    assert (task.element_id, task.role) == ("produce_goods", "production")
    do(instance, "produce_goods", {"production_done": True, "production_note": "batch 7"})
    db.session.expire_all()
    assert (products["PUMP-X1"].on_hand, products["PUMP-X1"].reserved, order.lines[0].produced_qty) == (2, 2, 2)
    ship_everything(instance)
    db.session.expire_all()
    assert products["PUMP-X1"].on_hand == 0 and order.shipment_status == "shipped"


def test_late_date_shows_in_the_review_checks(shop):
    customers, _products = shop
    _order, instance = place(customers["good"], ("PUMP-X1", 1), requested_days=5)
    checks = task_data(instance)["checks"]
    assert checks["problems"] == ["delivery"] and not checks["all_ok"]


def test_overdue_invoice_climbs_the_dunning_ladder_to_collections(shop):
    customers, _products = shop
    order, instance = place(customers["good"], ("BOLT-M8", 4))
    do(instance, "review_order", {"approved": True})
    ship_everything(instance)
    runtime.send_message(order.number, "goods_received", {})
    invoice = db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    due = invoice.due_date  # 2026-04-01
    for level, days in enumerate((10, 30, 45), start=1):
        clock.freeze(datetime(due.year, due.month, due.day, 9, 0, tzinfo=UTC) + timedelta(days=days, seconds=-1))
        assert fire_due() == 0
        clock.advance(timedelta(seconds=2))
        assert fire_due() == 1
        db.session.expire_all()
        assert (invoice.dunning_level, invoice.status, order.payment_status) == (level, "overdue", "overdue")
    assert [n.level for n in db.session.scalars(select(DunningNotice).order_by(DunningNotice.id))] == [1, 2, 3]
    assert messages(order)[-3:] == ["reminder", "reminder", "reminder"]
    task = open_task(instance)
    assert (task.element_id, task.role) == ("collections", "finance")
    assert db.session.get(Wakeup, instance.id).due_at == task.at_risk_at  # no reminder now: the task's SLA clock
    do(instance, "collections", {"collection_outcome": "promise_to_pay", "promised_date": "2026-06-01"})
    db.session.expire_all()
    assert (invoice.dunning_level, str(invoice.due_date)) == (0, "2026-06-01")
    assert db.session.get(Wakeup, instance.id).due_at == datetime(2026, 6, 11, 9, 0, tzinfo=UTC)
    runtime.send_message(order.number, "payment_received", {"amount": "4.00", "method": "card"})
    runtime.send_message(order.number, "payment_received", {"amount": "6.00", "method": "card"})
    db.session.expire_all()
    assert (invoice.status, order.payment_status, order.status) == ("paid", "paid", "completed")


def test_part_payment_keeps_waiting(shop):
    customers, _products = shop
    order, instance = place(customers["good"], ("BOLT-M8", 4))
    do(instance, "review_order", {"approved": True})
    ship_everything(instance)
    runtime.send_message(order.number, "goods_received", {})
    runtime.send_message(order.number, "payment_received", {"amount": "4.00", "method": "card"})
    db.session.expire_all()
    assert order.payment_status == "partly_paid" and db.session.get(ProcessInstance, instance.id).status == "waiting"


def test_messages_out_of_turn_are_refused_and_recorded(shop):
    customers, _products = shop
    order, instance = place(customers["good"], ("BOLT-M8", 1))
    with pytest.raises(NotWaiting):
        runtime.send_message(order.number, "payment_received", {"amount": "1", "method": "card"})
    refused = db.session.scalars(select(InstanceEvent).where(InstanceEvent.kind == "message_refused")).all()
    assert [e.detail["message"] for e in refused] == ["payment_received"]


def test_stale_version_and_second_completion_are_conflicts(shop):
    customers, _products = shop
    _order, instance = place(customers["good"], ("BOLT-M8", 1))
    review = open_task(instance)
    runtime.complete_task(instance.id, review.spiff_task_id, {"approved": True}, expected_version=1)
    with pytest.raises(Conflict, match="changed by someone else"):
        runtime.complete_task(instance.id, review.spiff_task_id, {"approved": True}, expected_version=1)
    with pytest.raises(Conflict, match="no longer open"):
        runtime.complete_task(instance.id, review.spiff_task_id, {"approved": True})


@pytest.mark.parametrize(("lines", "field", "says"), [
    ([LineInput("BOLT-M8", 0)], "lines.1.quantity", "between 1"),
    ([LineInput("BOLT-M8", -3)], "lines.1.quantity", "between 1"),
    ([LineInput("BOLT-M8", "two")], "lines.1.quantity", "not a whole number"),
    ([LineInput("NOPE-1", 1)], "lines.1.sku", "unknown SKU"),
    ([LineInput("BOLT-M8", 1, "0.50")], "lines.1.unit_price", "outside the price policy"),
    ([LineInput("BOLT-M8", 1, "9.99")], "lines.1.unit_price", "outside the price policy"),
    ([LineInput("BOLT-M8", 1, "abc")], "lines.1.unit_price", "not an amount"),
    ([LineInput("BOLT-M8", 1, spec="x" * 2001)], "lines.1.spec", "at most"),
    ([], "lines", "at least one line"),
])
def test_bad_order_input_is_refused_by_field_and_writes_nothing(shop, lines, field, says):
    customers, _products = shop
    with pytest.raises(OrderError) as refused:
        create_order(customers["good"], "web", lines)
    assert says in refused.value.errors[field]
    db.session.rollback()
    assert db.session.scalar(select(Order.id)) is None


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"requested_date": "2026-13-45"}, "requested_date"),
    ({"requested_date": "2020-01-01"}, "requested_date"),
    ({"remarks": "r" * 2001}, "remarks"),
    ({"payment_method": "barter"}, "payment_method"),
])
def test_bad_order_header_is_refused(shop, kwargs, field):
    customers, _products = shop
    with pytest.raises(OrderError) as refused:
        create_order(customers["good"], "fax", [LineInput("BOLT-M8", 1)], **kwargs)
    assert field in refused.value.errors
