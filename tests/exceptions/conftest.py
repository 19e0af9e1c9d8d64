"""A small shop and the steps to take an order to any stage, and an exception from raising to closing."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import clock
from app.accounts.service import create_user
from app.billing.models import CreditNote, Invoice, Refund
from app.catalog.models import Product
from app.customers.models import Customer
from app.exceptions import service as cases
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.notifications.models import OutboxMessage
from app.orders.models import Order
from app.orders.service import LineInput, create_order
from app.workflow import runtime
from app.workflow.models import HumanTask, ProcessInstance

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning


@pytest.fixture
def shop(ctx, deployed):
    clock.freeze(START)
    customer = Customer(code="GOOD", name="Good Customer Ltd", email="buy@good.example",
                        shipping_address="1 Harbour Rd",
                        credit_limit=Decimal("100000"), payment_terms_days=30)
    products = [Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=100),
                Product(sku="NUT-M8", name="Nut M8", list_price=Decimal("1.00"), on_hand=500),
                Product(sku="VALVE-2", name="Valve", list_price=Decimal("50.00"), on_hand=5, lead_time_days=7)]
    db.session.add_all([customer, *products])
    for username, role in (("desk", "order_desk"), ("carol", "customer_service"), ("cora", "customer_service"),
                           ("walt", "warehouse"), ("lena", "logistics"), ("fiona", "finance"), ("fred", "finance"),
                           ("mia", "manager")):
        create_user(username, username.title(), "secret-pass", [role])
    db.session.commit()
    return customer


class Shop:
    """Drives orders and cases through the runtime, as the web views do."""

    def place(self, *lines, allow_partial=False) -> tuple[Order, ProcessInstance]:
        customer = db.session.scalar(select(Customer).where(Customer.code == "GOOD"))
        order = create_order(customer, "email", [LineInput(sku, qty) for sku, qty in lines],
                             requested_date=(START + timedelta(days=30)).date(), allow_partial=allow_partial,
                             entered_by="desk")
        db.session.commit()
        instance = runtime.start("order_process", order.number, {"order_number": order.number, "entered_by": "desk"})
        return order, instance

    def task(self, business_key: str) -> HumanTask:
        db.session.expire_all()
        return db.session.scalars(select(HumanTask).join(ProcessInstance).where(
            ProcessInstance.business_key == business_key, HumanTask.state.in_(("open", "claimed")))).one()

    def do(self, business_key: str, element_id: str, data: dict, by: str = "tester") -> None:
        task = self.task(business_key)
        assert task.element_id == element_id, f"expected {element_id}, the open task is {task.element_id}"
        done = runtime.complete_task(task.instance_id, task.spiff_task_id, data, actor=by)
        assert done.status != "error", done.error

    def to_stage(self, order: Order, stage: str) -> None:
        """Push the order along the happy path until it stands at `stage` (an element id)."""
        steps = [("review_order", {"approved": True}), ("pick_goods", {"picked": True}),
                 ("pack_goods", {"packages": 1}), ("check_goods", {"goods_match": True}),
                 ("arrange_shipment", {"carrier": "SF Express", "tracking_number": "TRK1"})]
        for element_id, data in steps:
            if element_id == stage:
                return
            self.do(order.number, element_id, data)
        if stage == "goods_received":
            return
        runtime.send_message(order.number, "goods_received", {"signed_by": "Dock"})
        if stage == "await_payment":
            return
        raise AssertionError(f"unknown stage {stage}")

    def report(self, order: Order, type_key: str, **kwargs) -> ExceptionCase:
        with runtime.unit_of_work():
            case = cases.raise_case(order, type_key, source=kwargs.pop("source", "staff"),
                                    reported_by=kwargs.pop("reported_by", "carol"), **kwargs)
        return case

    def handle(self, case: ExceptionCase, action: str, by: str | None = None, approve_by: str | None = None,
               approved: bool = True, **values) -> ExceptionCase:
        """Triage, resolve with `action`, approve a refund if one is asked for; the case is then closed."""
        number = case.number
        self.do(number, "triage", {"summary": "We are on it."}, by="carol")
        task = self.task(number)
        assert task.element_id == f"resolve_{task.role}"
        self.do(number, task.element_id, {"action": action, "resolution": f"done: {action}", **values},
                by=by or "resolver")
        db.session.expire_all()
        found = db.session.scalar(select(ExceptionCase).where(ExceptionCase.number == number))
        if found.status != "closed":
            task = self.task(number)
            assert task.element_id.startswith("approve_refund")
            self.do(number, task.element_id, {"approved": approved}, by=approve_by or "approver")
            db.session.expire_all()
            found = db.session.scalar(select(ExceptionCase).where(ExceptionCase.number == number))
        return found


@pytest.fixture
def drive(shop) -> Shop:
    return Shop()


def messages(order: Order) -> list[str]:
    db.session.expire_all()
    return [m.kind for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.order_id == order.id).order_by(OutboxMessage.id))]


def status_of(business_key: str) -> str:
    db.session.expire_all()
    return db.session.scalars(select(ProcessInstance.status).where(ProcessInstance.business_key == business_key)
                              .order_by(ProcessInstance.id.desc())).first()


def product(sku: str) -> Product:
    db.session.expire_all()
    return db.session.scalar(select(Product).where(Product.sku == sku))


def invoices(order: Order) -> list[tuple[Decimal, Decimal, Decimal, str]]:
    """(amount, paid, credited, status) per invoice, oldest first."""
    db.session.expire_all()
    return [(i.amount, i.paid_amount, i.credited_amount, i.status) for i in db.session.scalars(
        select(Invoice).where(Invoice.order_id == order.id).order_by(Invoice.id))]


def credit_notes(order: Order) -> list[tuple[str, Decimal]]:
    """(invoice number, amount) per credit note."""
    return [(n.invoice.number, n.amount) for n in db.session.scalars(
        select(CreditNote).where(CreditNote.order_id == order.id).order_by(CreditNote.id))]


def refunds(order: Order) -> list[tuple[Decimal, str, str, str]]:
    """(amount, status, requested by, approved by) per refund."""
    return [(r.amount, r.status, r.requested_by, r.approved_by) for r in db.session.scalars(
        select(Refund).where(Refund.order_id == order.id).order_by(Refund.id))]
