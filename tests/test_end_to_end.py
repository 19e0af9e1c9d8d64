"""End to end: an order a partner's web shop places through API v1 goes all the way to completion through
the HTTP views alone. Each member of staff logs in, finds the task in the team inbox, claims it, fills in the
form on the task page as a browser would and logs out; the web shop reports receipt and payments through the
API; the one timer on the way fires as the scheduler fires it. After every step the database and the order
page agree on every status, stock figure, shipment, invoice and customer message.

The path: the order takes the customer over its credit limit (Credit overrides), the order desk approves it,
Production makes the made-to-order pump, the warehouse picks and packs, logistics checks and ships, the
customer confirms receipt (invoice), pays part, gets the first reminder, pays the rest, and customer service
follows up. Finance, who has no task on this path (only collections after the third reminder), follows the
invoice on the order page: overdue after the reminder, then paid."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import lxml.html
import pytest
from sqlalchemy import select

from app import clock
from app.api import auth
from app.billing.models import DunningNotice, Invoice, Payment
from app.catalog.models import Product, StockMove
from app.customers.models import Customer
from app.extensions import db
from app.fulfilment.models import Shipment
from app.notifications.models import OutboxMessage
from app.orders.models import Order
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance, Wakeup
from app.workflow.timers import fire_due
from tests.support import login

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning
AT_RISK = timedelta(hours=18)  # no SLA policy: a task is due a day after it opens, at risk at 75%
NUMBER = "SO-2026-000001"
SHIPMENT = "SH-2026-000001"
INVOICE = "INV-2026-000001"
EMAIL = "ap@harbour.example"
# One person per lane on the way, and Finance.
STAFF = {"dana": "order_desk", "cara": "credit", "pete": "production", "wes": "warehouse", "lou": "logistics",
         "fiona": "finance", "cass": "customer_service"}


# --- a browser ----------------------------------------------------------------------------------------------


def parse(response) -> lxml.html.HtmlElement:
    assert response.status_code == 200, (response.status_code, response.text[:500])
    return lxml.html.fromstring(response.text)


def text(element) -> str:
    return " ".join(element.text_content().split())


def fill(form, answers: dict) -> dict:
    """What a browser posts for the form once a person has filled in `answers`: hidden inputs and
    defaults as rendered, boxes ticked or not, every other field typed in."""
    for area in form.xpath(".//textarea"):
        if area.value.startswith("\n"):  # a browser drops the line break that follows <textarea>
            area.value = area.value[1:]
    for name, value in answers.items():
        field = form.inputs[name]
        if getattr(field, "type", None) == "checkbox":
            field.checked = bool(value)
        else:
            field.value = str(value)
    return dict(form.form_values())


class Staff:
    """One member of staff at a browser: logs in over HTTP, works tasks from the team inbox, logs out."""

    def __init__(self, client, username: str):
        self.client, self.username, self.role = client, username, STAFF[username]

    def __enter__(self) -> "Staff":
        login(self.client, self.username)
        return self

    def __exit__(self, kind, *_exc) -> None:
        if kind is None:  # on a failure, leave the browser as it is: the assertion says what went wrong
            page = self.page("/orders")
            logout = page.xpath('//form[@action="/logout"]')[0]
            response = self.client.post(logout.action, data=dict(logout.form_values()))
            assert (response.status_code, response.headers["Location"]) == (302, "/login")

    def page(self, url: str) -> lxml.html.HtmlElement:
        return parse(self.client.get(url))

    def queue(self, queue: str = "team", **filters) -> dict[int, list[str]]:
        """The rows of an inbox queue: task id → its cells (task, order, team, due, with)."""
        page = self.page("/inbox?" + urlencode({"queue": queue, **filters}))
        return {int(row.get("data-task")): [text(cell) for cell in row.xpath("td")][:5]
                for row in page.xpath("//tr[@data-task]")}

    def work(self, element_id: str, answers: dict) -> dict:
        """Find the order's task of this kind in the team inbox, claim it, complete its form. Returns what
        the inbox row showed (the task id and its due time)."""
        here = "/inbox?" + urlencode({"queue": "team", "type": element_id, "q": NUMBER})
        rows = self.page(here).xpath("//tr[@data-task]")
        assert len(rows) == 1, f"{self.username} should find one {element_id} for {NUMBER}"
        row = rows[0]
        task_id = int(row.get("data-task"))
        task, order, team, _due, who = (text(cell) for cell in row.xpath("td")[:5])
        assert (order, team, who) == (NUMBER, self.role.replace("_", " "), "nobody")
        due = row.xpath('.//span[contains(@class, "due")]/@title')
        assert task_id in self.queue("team")  # the unfiltered queue holds it too

        claim = row.xpath(".//form")[0]
        assert claim.action == f"/tasks/{task_id}/claim"
        claimed = self.client.post(claim.action, data=dict(claim.form_values()))
        assert (claimed.status_code, claimed.headers["Location"]) == (302, here)
        assert self.queue("mine")[task_id][4] == "you"

        page = self.page(f"/tasks/{task_id}")
        form = page.xpath('//form[@class="task-form"]')[0]
        assert form.action == f"/tasks/{task_id}"
        done = self.client.post(form.action, data=fill(form, answers))
        assert (done.status_code, done.headers.get("Location")) == (302, "/inbox"), done.text[:2000]
        assert task_id not in self.queue("team") and task_id not in self.queue("mine")

        db.session.expire_all()
        stored = db.session.get(HumanTask, task_id)
        assert (stored.element_id, stored.business_key, stored.role, stored.state, stored.completed_by) == (
            element_id, NUMBER, self.role, "completed", self.username)
        completed = db.session.scalars(select(InstanceEvent).where(
            InstanceEvent.spiff_task_id == stored.spiff_task_id, InstanceEvent.kind == "task_completed")).one()
        assert completed.actor == self.username
        assert {name: completed.detail["data"].get(name) for name in answers} == answers  # typed as the form says
        return {"task": task_id, "title": task, "due": due[0] if due else None}

    def order(self) -> dict:
        """What the order page shows, as data."""
        page = self.page(f"/orders/{NUMBER}")

        def rows(heading: str, which: str = "tr") -> list[list[str]]:
            return [[text(cell) for cell in row.xpath("td")]
                    for row in page.xpath(f'//section[h2="{heading}"]//tbody/{which}')]

        return {
            "statuses": tuple(span.get("class").split()[1] for span in page.xpath('//dl[@class="statuses"]//span')),
            # sku → (quantity, reserved, shipped)
            "lines": {row[1].split()[0]: tuple(int(row[i]) for i in (3, 6, 7)) for row in rows("Lines")},
            "tasks": [(a.get("href"), text(a)) for a in page.xpath('//section[h2="Open tasks"]//tbody//a')],
            # number, status, carrier, tracking
            "shipments": [tuple(row[:4]) for row in rows("Shipments")],
            # number, amount, paid, due date, status, dunning level
            "invoices": [tuple(row) for row in rows("Invoices and payments", 'tr[not(@class="payment")]')],
            "payments": [tuple(row[:2]) for row in rows("Invoices and payments", 'tr[@class="payment"]')],
            "messages": [text(h3) for h3 in page.xpath('//ol[@class="messages"]/li/h3')],
            "process": page.xpath('//section[h2="Process"]//span[contains(@class, "status")]/text()'),
        }


# --- what the database says ---------------------------------------------------------------------------------


def order() -> Order:
    db.session.expire_all()
    return db.session.scalars(select(Order).where(Order.number == NUMBER)).one()


def statuses() -> tuple[str, str, str]:
    found = order()
    return found.status, found.shipment_status, found.payment_status


def stock() -> dict[str, tuple[int, int]]:
    """sku → (on hand, reserved)."""
    db.session.expire_all()
    return {p.sku: (p.on_hand, p.reserved) for p in db.session.scalars(select(Product).order_by(Product.sku))}


def moves() -> list[tuple[str, str, int]]:
    db.session.expire_all()
    return [(m.product.sku, m.kind, m.quantity) for m in db.session.scalars(
        select(StockMove).where(StockMove.order_number == NUMBER).order_by(StockMove.id))]


def messages() -> list[tuple[str, str, str]]:
    """(kind, subject, body) of every message to the customer, oldest first; all go to the customer."""
    db.session.expire_all()
    found = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.order_id == order().id)
                                    .order_by(OutboxMessage.id)))
    assert {(m.to_address, m.status, m.locale) for m in found} <= {(EMAIL, "queued", "en")}
    return [(m.kind, m.subject, m.body) for m in found]


def instance() -> ProcessInstance:
    db.session.expire_all()
    return db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == NUMBER)).one()


def open_tasks() -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(t.element_id, t.role) for t in db.session.scalars(
        select(HumanTask).where(HumanTask.business_key == NUMBER, HumanTask.state.in_(("open", "claimed"))))]


def wakeup() -> datetime | None:
    db.session.expire_all()
    row = db.session.get(Wakeup, instance().id)
    return row.due_at if row else None


def dear(body: str) -> str:
    return f"Dear Harbour Tools Ltd,\n\n{body}"


CONFIRMATION = ("confirmation", f"Order {NUMBER} confirmed",
                dear(f"we confirm order {NUMBER} for 600.00. Expected ship date: 2026-03-13."))
SHIPPED = ("shipped", f"Order {NUMBER} is on its way",
           dear(f"shipment {SHIPMENT} of order {NUMBER} left with DHL. Tracking number: JD0042."))
INVOICED = ("invoice", f"Invoice {INVOICE} for order {NUMBER}",
            dear(f"please find invoice {INVOICE} for 600.00, due on 2026-04-15."))
REMINDED = ("reminder", f"Reminder 1: invoice {INVOICE} is overdue",
            dear(f"invoice {INVOICE} over 400.00 was due on 2026-04-15. Please pay it promptly."))
FOLLOW_UP = ("follow_up", f"How was your order {NUMBER}?", dear(f"thank you for order {NUMBER}. How did we do?"))


# --- the shop -----------------------------------------------------------------------------------------------


@pytest.fixture
def shop(ctx, deployed, make_user) -> dict:
    """A customer on a 500.00 credit limit with 30 days to pay, three products (a pump made to order), one
    person per role on the way, and the web shop's API token."""
    clock.freeze(START)
    db.session.add_all([
        Customer(code="HARBOUR", name="Harbour Tools Ltd", contact_name="Pat Buyer", email=EMAIL,
                 shipping_address="1 Harbour Road", credit_limit=Decimal("500.00"), payment_terms_days=30),
        Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=1000),
        Product(sku="VALVE-2", name="Valve", list_price=Decimal("50.00"), on_hand=50, lead_time_days=7),
        Product(sku="PUMP-X1", name="Pump", list_price=Decimal("400.00"), make_to_order=True, lead_time_days=10),
    ])
    for username, role in STAFF.items():
        make_user(username, role)
    _client, token = auth.create_client("webshop", "web")
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_an_api_order_goes_to_completion_through_the_http_views(shop, client):
    api = shop

    # --- The web shop places the order -------------------------------------------------------------------
    body = {"customer_code": "HARBOUR", "requested_date": "2026-04-01", "payment_method": "credit",
            "shipping_address": "Dock 4, 1 Harbour Road",
            "lines": [{"sku": "BOLT-M8", "quantity": 40}, {"sku": "VALVE-2", "quantity": 2},
                      {"sku": "PUMP-X1", "quantity": 1}]}
    placed = client.post("/api/v1/orders", json=body, headers=api)
    assert placed.status_code == 201, placed.json
    assert placed.json == {"number": NUMBER, "status": "in_review",
                           "links": {"self": f"/api/v1/orders/{NUMBER}", "events": f"/api/v1/orders/{NUMBER}/events",
                                     "exceptions": f"/api/v1/orders/{NUMBER}/exceptions"}}
    assert placed.headers["Location"] == f"/api/v1/orders/{NUMBER}"
    placed_order = order()
    assert (placed_order.channel, placed_order.entered_by, placed_order.total) == ("web", "api:webshop",
                                                                                  Decimal("600.00"))
    assert statuses() == ("in_review", "pending", "not_invoiced")
    assert (instance().status, instance().started_by) == ("running", "api:webshop")
    # 600.00 on a 500.00 limit: Credit decides first.
    assert open_tasks() == [("credit_review", "credit")]
    assert stock() == {"BOLT-M8": (1000, 0), "PUMP-X1": (0, 0), "VALVE-2": (50, 0)}
    assert moves() == [] and messages() == []

    # --- Credit overrides the limit -----------------------------------------------------------------------
    clock.advance(timedelta(minutes=30))
    with Staff(client, "cara") as cara:
        page = cara.order()
        assert page["statuses"] == ("in_review", "pending", "not_invoiced")
        assert page["lines"] == {"BOLT-M8": (40, 0, 0), "VALVE-2": (2, 0, 0), "PUMP-X1": (1, 0, 0)}
        assert [title for _href, title in page["tasks"]] == ["Review credit"]
        assert page["shipments"] == page["invoices"] == page["messages"] == []
        assert page["process"] == ["running"]
        credit = cara.work("credit_review", {"credit_override": True, "credit_note": "Pays on time for years"})
        assert credit["due"] == "2026-03-03 08:00 UTC"  # no SLA policy: due a day after it opened
    assert statuses() == ("in_review", "pending", "not_invoiced")
    assert open_tasks() == [("review_order", "order_desk")]
    assert wakeup() == START + timedelta(minutes=30) + AT_RISK  # the review's SLA clock

    # --- The order desk approves: confirmation, reservation; the pump goes to production ----------------------
    clock.advance(timedelta(minutes=30))
    with Staff(client, "dana") as dana:
        review = dana.work("review_order", {"approved": True})
        assert review["due"] == "2026-03-03 08:30 UTC"
        page = dana.order()
    assert statuses() == ("confirmed", "pending", "not_invoiced")
    assert order().expected_ship_date == date(2026, 3, 13)  # the pump's 10 days' lead time and a day to ship
    assert open_tasks() == [("produce_goods", "production")]
    assert wakeup() == START + timedelta(hours=1) + AT_RISK
    assert stock() == {"BOLT-M8": (1000, 40), "PUMP-X1": (0, 0), "VALVE-2": (50, 2)}
    assert moves() == [("BOLT-M8", "reserve", 40), ("VALVE-2", "reserve", 2)]
    assert messages() == [CONFIRMATION]
    assert page["statuses"] == ("confirmed", "pending", "not_invoiced")
    assert page["lines"] == {"BOLT-M8": (40, 40, 0), "VALVE-2": (2, 2, 0), "PUMP-X1": (1, 0, 0)}
    assert [title for _href, title in page["tasks"]] == ["Schedule and report completion"]
    assert page["messages"] == [CONFIRMATION[1]]

    # --- Ten days later Production reports the pump made: into stock, reserved, a pick list -------------------
    clock.advance(timedelta(days=10))  # 2026-03-12 09:00
    with Staff(client, "pete") as pete:
        pete.work("produce_goods", {"production_done": True, "production_note": "Pump X1, serial 4711"})
        page = pete.order()
    assert statuses() == ("in_fulfilment", "pending", "not_invoiced")
    assert open_tasks() == [("pick_goods", "warehouse")]
    assert stock() == {"BOLT-M8": (1000, 40), "PUMP-X1": (1, 1), "VALVE-2": (50, 2)}
    assert moves()[2:] == [("PUMP-X1", "receipt", 1), ("PUMP-X1", "reserve", 1)]
    db.session.expire_all()
    shipment = db.session.scalars(select(Shipment).where(Shipment.order_id == order().id)).one()
    assert (shipment.number, shipment.status, shipment.backorder) == (SHIPMENT, "picking", False)
    assert sorted((line.sku, line.quantity) for line in shipment.lines) == [
        ("BOLT-M8", 40), ("PUMP-X1", 1), ("VALVE-2", 2)]
    assert messages() == [CONFIRMATION]
    assert page["statuses"] == ("in_fulfilment", "pending", "not_invoiced")
    assert page["lines"] == {"BOLT-M8": (40, 40, 0), "VALVE-2": (2, 2, 0), "PUMP-X1": (1, 1, 0)}
    assert [title for _href, title in page["tasks"]] == ["Pick"]
    assert page["shipments"] == [(SHIPMENT, "picking", "—", "—")]

    # --- The warehouse picks and packs ------------------------------------------------------------------------
    clock.advance(timedelta(hours=1))
    with Staff(client, "wes") as wes:
        wes.work("pick_goods", {"picked": True})
        db.session.expire_all()
        assert (db.session.get(Shipment, shipment.id).status, open_tasks()) == (
            "picking", [("pack_goods", "warehouse")])
        clock.advance(timedelta(minutes=30))
        wes.work("pack_goods", {"packages": 3, "pack_note": "two boxes and the pump on a pallet"})
        page = wes.order()
    db.session.expire_all()
    assert db.session.get(Shipment, shipment.id).status == "packed"
    assert open_tasks() == [("check_goods", "logistics")]
    assert page["shipments"] == [(SHIPMENT, "packed", "—", "—")]
    assert page["lines"] == {"BOLT-M8": (40, 40, 0), "VALVE-2": (2, 2, 0), "PUMP-X1": (1, 1, 0)}
    assert stock() == {"BOLT-M8": (1000, 40), "PUMP-X1": (1, 1), "VALVE-2": (50, 2)}  # nothing left the shelf yet

    # --- Logistics checks the goods and ships them: stock leaves, the customer gets the tracking number --------
    clock.advance(timedelta(minutes=30))
    with Staff(client, "lou") as lou:
        lou.work("check_goods", {"goods_match": True})
        db.session.expire_all()
        assert (db.session.get(Shipment, shipment.id).status, open_tasks()) == (
            "checked", [("arrange_shipment", "logistics")])
        clock.advance(timedelta(minutes=30))  # 2026-03-12 11:30
        lou.work("arrange_shipment", {"carrier": "DHL", "tracking_number": "JD0042"})
        page = lou.order()
    assert statuses() == ("in_fulfilment", "shipped", "not_invoiced")
    assert open_tasks() == []
    assert instance().status == "waiting"  # for the customer's receipt
    assert stock() == {"BOLT-M8": (960, 0), "PUMP-X1": (0, 0), "VALVE-2": (48, 0)}
    assert moves()[4:] == [("BOLT-M8", "issue", 40), ("VALVE-2", "issue", 2), ("PUMP-X1", "issue", 1)]
    db.session.expire_all()
    shipment = db.session.get(Shipment, shipment.id)
    assert (shipment.status, shipment.carrier, shipment.tracking_number, shipment.shipped_at) == (
        "shipped", "DHL", "JD0042", datetime(2026, 3, 12, 11, 30, tzinfo=UTC))
    assert messages() == [CONFIRMATION, SHIPPED]
    assert page["statuses"] == ("in_fulfilment", "shipped", "not_invoiced")
    assert page["lines"] == {"BOLT-M8": (40, 0, 40), "VALVE-2": (2, 0, 2), "PUMP-X1": (1, 0, 1)}
    assert page["shipments"] == [(SHIPMENT, "shipped", "DHL", "JD0042")]
    assert page["tasks"] == [] and page["invoices"] == []
    assert page["messages"] == [CONFIRMATION[1], SHIPPED[1]]
    assert page["process"] == ["waiting"]

    # --- The customer confirms receipt through the web shop: delivered, invoiced on 30 days' terms --------------
    clock.advance(timedelta(days=4))  # 2026-03-16 11:30
    received = client.post(f"/api/v1/orders/{NUMBER}/events", headers=api, json={
        "type": "goods_received", "payload": {"signed_by": "Dock 4", "received_on": "2026-03-16"}})
    assert received.status_code == 200, received.json
    assert received.json["statuses"] == {"order": "delivered", "shipment": "delivered", "payment": "invoiced"}
    assert received.json["totals"] == {"order": "600.00", "invoiced": "600.00", "paid": "0.00", "balance": "600.00"}
    assert [line["shipped"] for line in received.json["lines"]] == [40, 2, 1]
    assert statuses() == ("delivered", "delivered", "invoiced")
    db.session.expire_all()
    shipment = db.session.get(Shipment, shipment.id)
    assert (shipment.status, shipment.delivered_at) == ("delivered", datetime(2026, 3, 16, 11, 30, tzinfo=UTC))
    invoice = db.session.scalars(select(Invoice).where(Invoice.order_id == order().id)).one()
    assert (invoice.number, invoice.amount, invoice.paid_amount, invoice.due_date, invoice.status,
            invoice.dunning_level) == (INVOICE, Decimal("600.00"), Decimal("0.00"), date(2026, 4, 15), "open", 0)
    assert messages() == [CONFIRMATION, SHIPPED, INVOICED]
    assert (instance().status, open_tasks()) == ("waiting", [])
    assert wakeup() == datetime(2026, 4, 25, 9, 0, tzinfo=UTC)  # the first reminder: 10 days after due

    # --- A part payment ---------------------------------------------------------------------------------------
    clock.advance(timedelta(days=25))  # 2026-04-10
    part = client.post(f"/api/v1/orders/{NUMBER}/events", headers=api, json={
        "type": "payment_received", "payload": {"amount": "200.00", "method": "bank_transfer", "reference": "BT-1"}})
    assert part.status_code == 200, part.json
    assert part.json["statuses"] == {"order": "delivered", "shipment": "delivered", "payment": "partly_paid"}
    assert part.json["totals"] == {"order": "600.00", "invoiced": "600.00", "paid": "200.00", "balance": "400.00"}
    assert statuses() == ("delivered", "delivered", "partly_paid")
    assert wakeup() == datetime(2026, 4, 25, 9, 0, tzinfo=UTC)  # still owed: the reminder stays planned

    # --- Nothing more by the reminder date: the scheduler sends the first reminder -------------------------------
    clock.freeze(datetime(2026, 4, 25, 9, 0, tzinfo=UTC))
    assert fire_due() == 0  # not before its time
    clock.advance(timedelta(seconds=1))
    assert fire_due() == 1
    assert statuses() == ("delivered", "delivered", "overdue")
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    assert (invoice.status, invoice.dunning_level, invoice.paid_amount) == ("overdue", 1, Decimal("200.00"))
    assert [n.level for n in db.session.scalars(select(DunningNotice).where(DunningNotice.invoice_id == invoice.id))
            ] == [1]
    assert messages() == [CONFIRMATION, SHIPPED, INVOICED, REMINDED]
    assert (instance().status, open_tasks()) == ("waiting", [])
    assert wakeup() == datetime(2026, 5, 15, 9, 0, tzinfo=UTC)  # the second reminder, 30 days after due
    with Staff(client, "fiona") as fiona:  # Finance looks at the overdue invoice; no task is theirs yet
        assert fiona.queue("team") == {}
        page = fiona.order()
    assert page["statuses"] == ("delivered", "delivered", "overdue")
    assert page["invoices"] == [(INVOICE, "600.00", "200.00", "2026-04-15", "overdue", "1")]
    assert page["payments"] == [("Payment bank transfer BT-1", "200.00")]
    assert page["shipments"] == [(SHIPMENT, "delivered", "DHL", "JD0042")]
    assert page["messages"] == [m[1] for m in (CONFIRMATION, SHIPPED, INVOICED, REMINDED)]
    assert page["tasks"] == [] and page["process"] == ["waiting"]

    # --- The rest is paid: the order is completed and archived, customer service is asked to follow up ---------
    clock.advance(timedelta(days=3))  # 2026-04-28 09:00:01
    paid = client.post(f"/api/v1/orders/{NUMBER}/events", headers=api, json={
        "type": "payment_received", "payload": {"amount": "400.00", "method": "card", "reference": "TX-9"}})
    assert paid.status_code == 200, paid.json
    assert paid.json["statuses"] == {"order": "completed", "shipment": "delivered", "payment": "paid"}
    assert paid.json["totals"] == {"order": "600.00", "invoiced": "600.00", "paid": "600.00", "balance": "0.00"}
    assert statuses() == ("completed", "delivered", "paid")
    assert order().archived_at == datetime(2026, 4, 28, 9, 0, 1, tzinfo=UTC)
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    assert (invoice.status, invoice.paid_amount, invoice.balance) == ("paid", Decimal("600.00"), Decimal("0.00"))
    assert [(p.amount, p.method, p.reference) for p in db.session.scalars(
        select(Payment).where(Payment.invoice_id == invoice.id).order_by(Payment.id))] == [
        (Decimal("200.00"), "bank_transfer", "BT-1"), (Decimal("400.00"), "card", "TX-9")]
    assert messages() == [CONFIRMATION, SHIPPED, INVOICED, REMINDED, FOLLOW_UP]
    assert open_tasks() == [("follow_up", "customer_service")]
    assert wakeup() == datetime(2026, 4, 28, 9, 0, 1, tzinfo=UTC) + AT_RISK  # the follow-up's clock, no reminder

    # --- Customer service follows up: the process ends ---------------------------------------------------------
    clock.advance(timedelta(days=1))
    with Staff(client, "cass") as cass:
        cass.work("follow_up", {"satisfaction": 5, "complaint": False})
        page = cass.order()
    assert (instance().status, open_tasks()) == ("completed", [])
    assert statuses() == ("completed", "delivered", "paid")
    assert page["statuses"] == ("completed", "delivered", "paid")
    assert page["tasks"] == [] and page["process"] == ["completed"]

    # --- Finance finds the invoice settled on the order page; nothing waits in its inbox -------------------------
    with Staff(client, "fiona") as fiona:
        assert fiona.queue("team") == {} and fiona.queue("mine") == {}
        page = fiona.order()
    assert page["invoices"] == [(INVOICE, "600.00", "600.00", "2026-04-15", "paid", "1")]
    assert page["payments"] == [("Payment bank transfer BT-1", "200.00"), ("Payment card TX-9", "400.00")]
    assert page["shipments"] == [(SHIPMENT, "delivered", "DHL", "JD0042")]
    assert page["lines"] == {"BOLT-M8": (40, 0, 40), "VALVE-2": (2, 0, 2), "PUMP-X1": (1, 0, 1)}
    assert page["messages"] == [m[1] for m in (CONFIRMATION, SHIPPED, INVOICED, REMINDED, FOLLOW_UP)]

    # What the web shop reads at the end; stock as it was less what was sold (the pump was made for the order).
    final = client.get(f"/api/v1/orders/{NUMBER}", headers=api).json
    assert final["statuses"] == {"order": "completed", "shipment": "delivered", "payment": "paid"}
    assert final["totals"] == {"order": "600.00", "invoiced": "600.00", "paid": "600.00", "balance": "0.00"}
    assert stock() == {"BOLT-M8": (960, 0), "PUMP-X1": (0, 0), "VALVE-2": (48, 0)}
    assert moves() == [("BOLT-M8", "reserve", 40), ("VALVE-2", "reserve", 2), ("PUMP-X1", "receipt", 1),
                       ("PUMP-X1", "reserve", 1), ("BOLT-M8", "issue", 40), ("VALVE-2", "issue", 2),
                       ("PUMP-X1", "issue", 1)]
