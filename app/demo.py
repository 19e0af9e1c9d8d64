"""Demo data for `make run`: a user for every role, customers, products with stock, a few dozen
orders pushed by the real engine to every stage of the order process, and open exception cases."""

import os
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app import clock
from app.accounts import service as accounts
from app.accounts.models import User
from app.accounts.roles import ALL
from app.catalog.models import Product
from app.customers.models import Customer
from app.exceptions import service as exceptions
from app.extensions import db
from app.orders.models import Order
from app.orders.service import LineInput, create_order
from app.sla import policies as sla_policies
from app.sla.models import SlaCalendar
from app.workflow import runtime, timers
from app.workflow.models import HumanTask


def _customers() -> list[Customer]:
    return [
        Customer(code="SPP", name="Shanghai Precision Parts Co.", contact_name="Li Wei", email="purchasing@spp.example",
                 phone="+86 21 5555 0101", shipping_address="88 Zhangjiang Rd, Pudong, Shanghai",
                 credit_limit=Decimal("50000"), payment_terms_days=30, agreed_discount_pct=Decimal("5"), locale="zh"),
        Customer(code="NOA", name="Nordic Outdoor AB", contact_name="Sara Lind", email="orders@nordic.example",
                 shipping_address="Hamngatan 4, Göteborg", credit_limit=Decimal("20000"), payment_terms_days=14),
        Customer(code="LKL", name="Lisbon Kitchens Lda", contact_name="Rui Costa", phone="+351 21 555 0199",
                 shipping_address="Rua Augusta 12, Lisboa", credit_limit=Decimal("800"), payment_terms_days=30),
        Customer(code="ACME", name="Acme Retail GmbH", contact_name="Jonas Weber", email="einkauf@acme.example",
                 shipping_address="Industriestr. 7, Köln", credit_limit=Decimal("30000"), payment_terms_days=30),
        Customer(code="HZT", name="Hangzhou Textiles Ltd", contact_name="Chen Jing", shipping_address="",
                 credit_limit=Decimal("10000"), locale="zh"),
    ]


def _products() -> list[Product]:
    return [
        Product(sku="BOLT-M8", name="Hex bolt M8×40, zinc", spec="DIN 933, 8.8", list_price=Decimal("0.45"),
                on_hand=20000),
        Product(sku="VALVE-DN25", name="Ball valve DN25", spec="PN40, stainless", list_price=Decimal("38.00"),
                on_hand=40, lead_time_days=7),
        Product(sku="PUMP-X1", name="Circulation pump X1", spec="230 V, 1.2 kW", list_price=Decimal("420.00"),
                make_to_order=True, lead_time_days=12),
        Product(sku="HOSE-10", name="Hydraulic hose 10 m", spec="DN10, 250 bar", list_price=Decimal("64.00"), on_hand=3,
                lead_time_days=5),
    ]


# (customer code, lines, how far the engine takes it)
STAGES = [
    ("HZT", [("BOLT-M8", 500)], "clarify"),
    ("SPP", [("BOLT-M8", 2000), ("VALVE-DN25", 4)], "review"),
    ("LKL", [("VALVE-DN25", 30)], "credit"),
    ("NOA", [("HOSE-10", 2)], "negotiate"),
    ("ACME", [("PUMP-X1", 2)], "produce"),
    ("SPP", [("VALVE-DN25", 6)], "pick_goods"),
    ("NOA", [("BOLT-M8", 300)], "pack_goods"),
    ("ACME", [("BOLT-M8", 1000), ("VALVE-DN25", 2)], "check_goods"),
    ("SPP", [("VALVE-DN25", 3)], "arrange_shipment"),
    ("NOA", [("BOLT-M8", 150)], "receipt"),
    ("ACME", [("VALVE-DN25", 1)], "payment"),
    ("SPP", [("BOLT-M8", 800)], "collections"),
    ("NOA", [("VALVE-DN25", 2)], "follow_up"),
    ("ACME", [("BOLT-M8", 100)], "completed"),
    ("ACME", [("HOSE-10", 10)], "stockout"),  # review approves it; the process raises a stockout case
]
# Cases staff reported, on the first order standing at that stage: (stage, type, description).
REPORTED = [
    ("review", "data_change", "The customer asks for 2,500 bolts instead of 2,000.", {"line": 1, "quantity": 2500}),
    ("receipt", "damaged", "The carrier reports two cartons crushed in transit.", {}),
    ("completed", "complaint", "Some bolts arrived rusty; the customer wants a credit.", {}),
]
HAPPY = [
    ("review_order", {"approved": True}),
    ("pick_goods", {"picked": True}),
    ("pack_goods", {"packages": 2}),
    ("check_goods", {"goods_match": True}),
    ("arrange_shipment", {"carrier": "SF Express", "tracking_number": "SF1234567890"}),
]
STOP_BEFORE = {"review": 0, "pick_goods": 1, "pack_goods": 2, "check_goods": 3, "arrange_shipment": 4}
# The language of a demo user where it is not English (each can change it on their account page).
LOCALES = {"warehouse": "zh"}

# SLA targets: a Berlin head office working Mon–Fri 08:00–18:00 (a working day is 10 h) with its public
# holidays, and a calendar for work that runs around the clock (critical exceptions).
HEAD_OFFICE = {"name": "Head office", "zone": "Europe/Berlin",
               "hours": {day: [["08:00", "18:00"]] for day in range(5)},
               "holidays": ["2026-01-01", "2026-04-03", "2026-04-06", "2026-05-01", "2026-05-14", "2026-05-25",
                            "2026-10-03", "2026-12-25", "2026-12-26", "2027-01-01", "2027-03-26", "2027-03-29",
                            "2027-05-06", "2027-05-17", "2027-10-03", "2027-12-25", "2027-12-26"]}
AROUND_THE_CLOCK = {"name": "Around the clock", "zone": "UTC", "hours": {day: [["00:00", "24:00"]] for day in range(7)},
                    "holidays": []}
HOUR, WORKING_DAY = 60, 10 * 60
# User tasks timed by their own policy (head office time): (resolution, first response or None).
# The exception process's triage and resolve tasks count by the exception policies below.
TASK_TARGETS = {
    "clarify_order": (WORKING_DAY, None),
    "review_order": (4 * HOUR, HOUR),
    "credit_review": (8 * HOUR, 2 * HOUR),
    "negotiate_order": (2 * WORKING_DAY, 4 * HOUR),
    "produce_goods": (10 * WORKING_DAY, WORKING_DAY),
    "pick_goods": (4 * HOUR, None),
    "pack_goods": (4 * HOUR, None),
    "check_goods": (2 * HOUR, None),
    "arrange_shipment": (8 * HOUR, None),
    "collections": (2 * WORKING_DAY, 4 * HOUR),
    "follow_up": (3 * WORKING_DAY, None),
    "approve_refund_finance": (8 * HOUR, 2 * HOUR),
    "approve_refund_manager": (WORKING_DAY, 4 * HOUR),
    "*": (WORKING_DAY, None),
}
# Exceptions per family and severity: (resolution, first response). Critical ones run around the clock.
EXCEPTION_TARGETS = {
    "customer": {"low": (3 * WORKING_DAY, 4 * HOUR), "medium": (16 * HOUR, 2 * HOUR), "high": (8 * HOUR, HOUR),
                 "critical": (4 * HOUR, 30)},
    "inventory": {"low": (4 * WORKING_DAY, 4 * HOUR), "medium": (2 * WORKING_DAY, 2 * HOUR),
                  "high": (8 * HOUR, HOUR), "critical": (4 * HOUR, 30)},
    "logistics": {"low": (3 * WORKING_DAY, 4 * HOUR), "medium": (2 * WORKING_DAY, 2 * HOUR),
                  "high": (WORKING_DAY, HOUR), "critical": (4 * HOUR, 30)},
    "payment": {"low": (4 * WORKING_DAY, 4 * HOUR), "medium": (2 * WORKING_DAY, 2 * HOUR),
                "high": (WORKING_DAY, HOUR), "critical": (4 * HOUR, 30)},
    "internal": {"low": (5 * WORKING_DAY, 8 * HOUR), "medium": (3 * WORKING_DAY, 4 * HOUR),
                 "high": (WORKING_DAY, HOUR), "critical": (6 * HOUR, 30)},
    "*": {"": (2 * WORKING_DAY, 2 * HOUR)},
}


def _sla_targets() -> bool:
    """The calendars and policies, through the same checks and audit as a manager's changes. Loaded
    once: before the orders on a new database, or on one whose demo predates SLA targets."""
    if db.session.scalar(select(func.count(SlaCalendar.id))):
        return False
    office = sla_policies.create_calendar(**HEAD_OFFICE, by="demo")
    always = sla_policies.create_calendar(**AROUND_THE_CLOCK, by="demo")
    for key, (resolution, response) in TASK_TARGETS.items():
        sla_policies.create_policy(scope="task", key=key, resolution_minutes=resolution, response_minutes=response,
                                   calendar_id=office.id, by="demo")
    for key, by_severity in EXCEPTION_TARGETS.items():
        for severity, (resolution, response) in by_severity.items():
            critical = severity == "critical"
            sla_policies.create_policy(scope="exception", key=key, severity=severity, resolution_minutes=resolution,
                                       response_minutes=response, at_risk_pct=50 if critical else 75,
                                       calendar_id=(always if critical else office).id, by="demo")
    db.session.commit()
    return True


def _open_task(instance_id: int) -> HumanTask:
    return db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
    ).one()


def _do(instance_id: int, data: dict) -> None:
    runtime.complete_task(instance_id, _open_task(instance_id).spiff_task_id, data, actor="demo")


def _advance(order, instance_id: int, stage: str) -> None:
    if stage in ("clarify", "credit"):
        return
    if stage in ("produce", "stockout"):
        _do(instance_id, {"approved": True})
        return
    if stage == "negotiate":
        _do(instance_id, {"approved": False, "review_note": "the hoses are short; we offer a later date"})
        return
    for _element_id, data in HAPPY[: STOP_BEFORE.get(stage, len(HAPPY))]:
        _do(instance_id, data)
    if stage in STOP_BEFORE or stage == "receipt":
        return
    runtime.send_message(order.number, "goods_received", {"signed_by": "Receiving dock"}, actor="demo")
    if stage in ("payment", "collections"):
        return
    runtime.send_message(order.number, "payment_received", {"amount": str(order.total), "method": "bank_transfer"},
                         actor="demo")
    if stage == "completed":
        _do(instance_id, {"satisfaction": 5})


def load() -> str:
    if db.session.scalar(select(func.count(User.id))):
        if _sla_targets():
            return "demo data already loaded; SLA calendars and policies added"
        return "demo data already loaded; nothing changed"
    _sla_targets()  # before the orders, so that their tasks are timed by the demo's policies
    password = os.environ.get("ORDERLY_DEMO_PASSWORD", "orderly-demo")
    for role in ALL:
        username = role.replace("_", "-")
        user = accounts.create_user(username, role.replace("_", " ").title(), password, [role])
        accounts.set_locale(user, LOCALES.get(role, "en"))
        accounts.set_email(user, f"{username}@orderly.example")
        accounts.set_team_lead(user, role)  # one person per team: each leads it
    db.session.add_all(_customers() + _products())
    db.session.commit()
    customers = {c.code: c for c in db.session.scalars(select(Customer))}

    real_now = clock.now()
    count = 0
    first_at: dict[str, Order] = {}
    for round_no in range(2):
        for code, lines, stage in STAGES:
            # The collections order is placed months ago so that its reminders have all gone out.
            clock.freeze(real_now - timedelta(days=100 if stage == "collections" else 2 - round_no))
            try:
                order = create_order(customers[code], "email" if count % 3 else "web",
                                     [LineInput(sku, qty) for sku, qty in lines],
                                     requested_date=(clock.now() + timedelta(days=21)).date()
                                     if code != "HZT" else None, entered_by="order-desk")
                db.session.commit()
                instance = runtime.start("order_process", order.number,
                                         {"order_number": order.number, "entered_by": "order-desk"}, actor="demo")
                _advance(order, instance.id, stage)
                first_at.setdefault(stage, order)
            finally:
                clock.unfreeze()
            count += 1
    while timers.fire_due():  # reminders of the old invoices
        pass
    for stage, type_key, description, details in REPORTED:
        with runtime.unit_of_work():
            exceptions.raise_case(first_at[stage], type_key, source="staff", reported_by="customer-service",
                                  description=description, details=details)
    return f"demo data loaded: {len(ALL)} users (password '{password}'), {count} orders"
