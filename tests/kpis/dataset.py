"""A small fixed set of orders, shipments, invoices, exceptions, tasks and escalations around March
2026, with times chosen so that every KPI can be worked out by hand (the tests do it in comments).

    order  entered        promise            shipped (last)   delivered        status now
    SO-1   03-02 08:00    requested 03-10    03-05 10:00      03-09 12:00      completed
    SO-2   03-03 08:00    requested 03-08    03-06 08:00      03-10 08:00      delivered  (late)
    SO-3   03-04 08:00    ships 03-10 (+3)   03-11 12:00      03-12 10:00      delivered  (1 unit back)
    SO-4   03-05 00:00    none               03-14 00:00      03-15 00:00      completed
    SO-5   02-20 10:00    requested 03-03    02-27 10:00      03-02 10:00      completed  (invoice reissued)
    SO-6   03-20 00:00    requested 04-30    —                —                in_review
    SO-7   01-01 00:00    requested 01-15    01-08 00:00      01-10 10:00      delivered
    SO-8   03-25 00:00    requested 04-05    03-30 00:00      04-02 00:00      delivered
    SO-9   03-10 00:00    requested 04-20    03-16 (6 of 10)  —                in_fulfilment
    SO-10  03-28 00:00    requested 04-30    —                —                entered
    SO-11  2025-11-20     requested 12-01    2025-11-28       2025-12-01       delivered
    SO-12  01-20 00:00    requested 02-05    01-30 00:00      02-01 00:00      delivered
"""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from app.billing.models import CreditNote, DunningNotice, Invoice, Payment
from app.customers.models import Customer
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.fulfilment.models import Shipment, ShipmentLine
from app.orders.models import Order, OrderLine
from app.sla.models import Escalation
from app.workflow.models import HumanTask, ProcessDefinition, ProcessInstance

# The clock stands here while the tests run: after March, so March is a period that has ended.
NOW = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    """'03-02 08:00' is 2 March 2026, 08:00 UTC; a leading year ('2025-12-01 00:00') says another year."""
    if text.count("-") == 1:
        text = f"2026-{text}"
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def day(text: str) -> date:
    return at(f"{text} 00:00").date()


class Builder:
    def __init__(self):
        self.customer = Customer(code="KPI", name="KPI Customer Ltd", credit_limit=Decimal("100000"))
        db.session.add(self.customer)
        self.orders: dict[str, Order] = {}
        self.invoices: dict[str, Invoice] = {}
        definition = ProcessDefinition(key="order_process", version=1, bpmn_xml="<definitions/>", sha256="0" * 64)
        self.instance = ProcessInstance(definition=definition, process_key="order_process", business_key="SO-1",
                                        status="running", state=b"", serializer_version="1")
        db.session.add(self.instance)

    def order(self, number: str, entered: str, status: str, quantity: int = 1, shipped: int = 0, returned: int = 0,
              requested: str | None = None, ships: str | None = None) -> Order:
        order = Order(number=number, customer_id=None, customer_name=self.customer.name, channel="web",
                      status=status, created_at=at(entered), requested_date=day(requested) if requested else None,
                      expected_ship_date=day(ships) if ships else None, total=Decimal("100.00") * quantity,
                      lines=[OrderLine(position=1, sku="KPI-1", quantity=quantity, unit_price=Decimal("100.00"),
                                       shipped_qty=shipped, returned_qty=returned)])
        db.session.add(order)
        db.session.flush()
        self.orders[number] = order
        return order

    def shipment(self, number: str, order: str, shipped: str, delivered: str | None = None, quantity: int = 1):
        owner = self.orders[order]
        db.session.add(Shipment(number=number, order_id=owner.id, status="delivered" if delivered else "shipped",
                                created_at=at(shipped), shipped_at=at(shipped),
                                delivered_at=at(delivered) if delivered else None,
                                lines=[ShipmentLine(order_line_id=owner.lines[0].id, sku="KPI-1", quantity=quantity)]))

    def invoice(self, number: str, order: str, amount: str, issued: str, due: str, status: str = "open",
                level: int = 0, paid: str = "0") -> Invoice:
        invoice = Invoice(number=number, order_id=self.orders[order].id, amount=Decimal(amount),
                          paid_amount=Decimal(paid), issued_at=at(issued), due_date=day(due), status=status,
                          dunning_level=level)
        db.session.add(invoice)
        db.session.flush()
        self.invoices[number] = invoice
        return invoice

    def payment(self, invoice: str, amount: str, received: str):
        db.session.add(Payment(invoice_id=self.invoices[invoice].id, amount=Decimal(amount), method="bank_transfer",
                               received_at=at(received)))

    def credit_note(self, number: str, invoice: str, amount: str, created: str):
        owner = self.invoices[invoice]
        owner.credited_amount += Decimal(amount)
        db.session.add(CreditNote(number=number, invoice_id=owner.id, order_id=owner.order_id,
                                  amount=Decimal(amount), reason="test", created_at=at(created)))

    def notice(self, invoice: str, level: int, sent: str):
        db.session.add(DunningNotice(invoice_id=self.invoices[invoice].id, level=level, sent_at=at(sent)))

    def case(self, number: str, order: str, family: str, type_: str, raised: str, status: str = "closed"):
        db.session.add(ExceptionCase(number=number, order_id=self.orders[order].id, family=family, type=type_,
                                     severity="medium", status=status, owner_role="logistics", source="staff",
                                     reported_by="test", stage="in_fulfilment", created_at=at(raised)))

    def task(self, element_id: str, title: str, role: str, created: str, completed: str | None = None,
             due: str | None = None, state: str | None = None):
        db.session.add(HumanTask(instance=self.instance, spiff_task_id=str(uuid.uuid4()), element_id=element_id,
                                 business_key="SO-1", title=title, role=role, created_at=at(created),
                                 completed_at=at(completed) if completed else None, due_at=at(due) if due else None,
                                 state=state or ("completed" if completed else "open")))

    def escalation(self, level: str, role: str, raised: str):
        db.session.add(Escalation(level=level, business_key="SO-1", order_number="SO-1", what="test", role=role,
                                  raised_at=at(raised)))


def build() -> None:
    b = Builder()
    # --- orders and what was shipped and delivered --------------------------------------------------------
    b.order("SO-1", "03-02 08:00", "completed", quantity=10, shipped=10, requested="03-10")
    b.shipment("SH-1", "SO-1", shipped="03-05 10:00", delivered="03-09 12:00", quantity=10)
    b.order("SO-2", "03-03 08:00", "delivered", quantity=5, shipped=5, requested="03-08")
    b.shipment("SH-2", "SO-2", shipped="03-06 08:00", delivered="03-10 08:00", quantity=5)
    b.order("SO-3", "03-04 08:00", "delivered", quantity=4, shipped=4, returned=1, ships="03-10")
    b.shipment("SH-3a", "SO-3", shipped="03-06 08:00", delivered="03-12 10:00", quantity=2)  # a backorder first
    b.shipment("SH-3b", "SO-3", shipped="03-11 12:00", delivered="03-12 10:00", quantity=2)
    b.order("SO-4", "03-05 00:00", "completed", shipped=1)
    b.shipment("SH-4", "SO-4", shipped="03-14 00:00", delivered="03-15 00:00")
    b.order("SO-5", "02-20 10:00", "completed", shipped=1, requested="03-03")
    b.shipment("SH-5", "SO-5", shipped="02-27 10:00", delivered="03-02 10:00")
    b.order("SO-6", "03-20 00:00", "in_review", requested="04-30")
    b.order("SO-7", "01-01 00:00", "delivered", shipped=1, requested="01-15")
    b.shipment("SH-7", "SO-7", shipped="01-08 00:00", delivered="01-10 10:00")
    b.order("SO-8", "03-25 00:00", "delivered", shipped=1, requested="04-05")
    b.shipment("SH-8", "SO-8", shipped="03-30 00:00", delivered="04-02 00:00")
    b.order("SO-9", "03-10 00:00", "in_fulfilment", quantity=10, shipped=6, requested="04-20")
    b.shipment("SH-9", "SO-9", shipped="03-16 00:00", quantity=6)
    b.order("SO-10", "03-28 00:00", "entered", requested="04-30")
    b.order("SO-11", "2025-11-20 00:00", "delivered", shipped=1, requested="2025-12-01")
    b.shipment("SH-11", "SO-11", shipped="2025-11-28 00:00", delivered="2025-12-01 00:00")
    b.order("SO-12", "01-20 00:00", "delivered", shipped=1, requested="02-05")
    b.shipment("SH-12", "SO-12", shipped="01-30 00:00", delivered="02-01 00:00")

    # --- invoices, payments, credit notes, reminders --------------------------------------------------------
    b.invoice("INV-1", "SO-1", "100.00", "03-09 12:00", due="04-08")
    b.invoice("INV-2", "SO-2", "200.00", "03-10 08:00", due="03-20", status="paid", level=1, paid="200.00")
    b.payment("INV-2", "50.00", "03-25 00:00")
    b.notice("INV-2", 1, "03-30 09:00")
    b.payment("INV-2", "150.00", "04-05 00:00")  # after March: still owed at its end
    b.invoice("INV-3", "SO-3", "300.00", "03-12 10:00", due="04-11")
    b.credit_note("CN-1", "INV-3", "50.00", "03-20 00:00")  # compensation for the unit that came back
    b.invoice("INV-4", "SO-4", "400.00", "03-15 00:00", due="03-25", paid="100.00")
    b.payment("INV-4", "100.00", "03-20 00:00")
    b.invoice("INV-5a", "SO-5", "500.00", "03-02 10:00", due="04-01", status="credited")
    b.credit_note("CN-2", "INV-5a", "500.00", "03-06 00:00")  # the invoice was wrong …
    b.invoice("INV-5b", "SO-5", "450.00", "03-06 00:00", due="04-05", status="paid", paid="450.00")  # … reissued
    b.payment("INV-5b", "450.00", "03-25 00:00")
    b.invoice("INV-7", "SO-7", "700.00", "01-10 10:00", due="01-20", status="overdue", level=3)
    for level, sent in ((1, "01-30 09:00"), (2, "02-19 09:00"), (3, "03-06 09:00")):
        b.notice("INV-7", level, sent)
    b.invoice("INV-7w", "SO-7", "70.00", "01-10 10:00", due="01-20", status="cancelled", level=3)  # written off
    b.invoice("INV-8", "SO-8", "800.00", "04-02 00:00", due="05-02")
    b.invoice("INV-11", "SO-11", "1000.00", "2025-12-01 00:00", due="2025-12-15", status="overdue", level=3)
    for level, sent in ((1, "2025-12-25 09:00"), (2, "01-14 09:00"), (3, "01-29 09:00")):
        b.notice("INV-11", level, sent)
    b.invoice("INV-12", "SO-12", "600.00", "02-01 00:00", due="02-15", status="overdue", level=3)
    for level, sent in ((1, "02-25 09:00"), (2, "03-17 09:00"), (3, "04-02 09:00")):  # level 3 after March
        b.notice("INV-12", level, sent)

    # --- exception cases --------------------------------------------------------------------------------------
    b.case("EX-1", "SO-2", "logistics", "delivery_delay", "03-09 01:00")
    b.case("EX-2", "SO-3", "logistics", "damaged", "03-13 00:00")
    b.case("EX-3", "SO-7", "payment", "payment_failure", "03-15 00:00", status="open")
    b.case("EX-4", "SO-6", "customer", "data_change", "03-21 00:00", status="in_progress")
    b.case("EX-5", "SO-1", "customer", "complaint", "03-10 00:00", status="cancelled")  # withdrawn: raised in error
    b.case("EX-6", "SO-5", "inventory", "stockout", "02-25 00:00")  # before March

    # --- human tasks: completed in March, one withdrawn, one completed after March, some still open ------------
    b.task("review_order", "Review order", "order_desk", "03-02 08:00", "03-02 10:00", due="03-02 12:00")
    b.task("review_order", "Review order", "order_desk", "03-03 08:00", "03-03 12:00", due="03-03 12:00")
    b.task("review_order", "Review order", "order_desk", "03-04 08:00", "03-04 17:00", due="03-04 12:00")
    b.task("review_order", "Review order", "order_desk", "03-10 08:00", "03-10 20:00", due="03-10 12:00",
           state="cancelled")
    b.task("pick_goods", "Pick", "warehouse", "03-05 08:00", "03-05 09:00")
    b.task("pick_goods", "Pick", "warehouse", "03-06 08:00", "03-06 11:00", due="03-06 16:00")
    b.task("arrange_shipment", "Arrange shipment", "logistics", "02-28 20:00", "03-01 02:00", due="02-28 22:00")
    b.task("arrange_shipment", "Arrange shipment", "logistics", "03-31 20:00", "04-01 01:00", due="04-01 00:00")
    b.task("pick_goods", "Pick", "warehouse", "04-09 08:00")
    b.task("pick_goods", "Pick", "warehouse", "04-09 09:00", state="claimed")
    b.task("review_order", "Review order", "order_desk", "04-09 10:00")
    b.task("triage", "Triage exception", "customer_service", "04-09 11:00")

    # --- escalations ---------------------------------------------------------------------------------------------
    b.escalation("at_risk", "order_desk", "03-04 11:00")
    b.escalation("breached", "order_desk", "03-04 12:00")
    b.escalation("breached", "logistics", "02-28 22:00")  # before March
    b.escalation("breached_long", "logistics", "03-01 00:30")
    b.escalation("breached", "finance", "03-18 09:00")
    b.escalation("at_risk", "", "03-20 00:00")  # an order-level promise: no team
    db.session.commit()
