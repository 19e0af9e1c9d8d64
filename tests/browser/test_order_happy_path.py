"""In real Chromium, one order along the whole happy path, role by role. The order desk enters a phone
order on the intake form; for each human task a member of the lane's team logs in through the login page,
opens the team inbox, opens the task, claims it, fills in the form with its real controls, submits it and
sees it leave the inbox, then logs out. The customer's receipt and payment arrive through API v1 as the
web shop's system sends them. At the end the order page and the database say: completed, delivered, paid."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.api import auth
from app.billing.models import Invoice
from app.catalog.models import Product
from app.clock import now
from app.customers.models import Customer
from app.extensions import db
from app.fulfilment.models import Shipment
from app.orders.models import Order
from app.workflow.models import HumanTask, ProcessInstance

pytestmark = pytest.mark.browser

PASSWORD = "secret-pass"  # make_user's default
STAFF = {"olga": "order_desk", "dana": "order_desk", "wes": "warehouse", "lou": "logistics",
         "cass": "customer_service"}


@pytest.fixture
def shop(ctx, deployed, make_user) -> str:
    """A customer on good credit, a stocked product, one person per lane on the way, and the web shop's
    API token (the partner system that reports receipt and payment)."""
    db.session.add_all([
        Customer(code="HARBOUR", name="Harbour Tools Ltd", contact_name="Pat Buyer", email="ap@harbour.example",
                 shipping_address="1 Harbour Road", credit_limit=Decimal("100000"), payment_terms_days=30),
        Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=1000),
    ])
    for username, role in STAFF.items():
        make_user(username, role)
    _client, token = auth.create_client("webshop", "web")
    db.session.commit()
    return token


# --- a person at the browser ------------------------------------------------------------------------------


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/inbox")  # staff land in their inbox


def log_out(page: Page, base: str) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{base}/login")


def fill_in(page: Page, answers: dict) -> None:
    """Answer the task form as a person would: tick boxes, type into fields, each found by its label (a
    label that fits more than one control fails the test: Playwright's locators are strict)."""
    for label, value in answers.items():
        control = page.get_by_label(label)
        if isinstance(value, bool):
            control.set_checked(value)
        else:
            control.fill(str(value))


def do_task(page: Page, base: str, username: str, number: str, title: str, answers: dict) -> None:
    """Log in as `username`, find the task `title` of order `number` in the team inbox, open it, claim it,
    fill in and submit its form, check it has left the inbox, log out."""
    log_in(page, base, username)
    page.get_by_role("navigation", name="Queues").get_by_role("link", name="My team").click()
    expect(page).to_have_url(f"{base}/inbox?queue=team")
    row = page.get_by_role("row").filter(has_text=number).filter(
        has=page.get_by_role("link", name=title, exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("nobody")
    row.get_by_role("link", name=title, exact=True).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/tasks/\d+$"))
    task_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{title} {number}")

    page.get_by_role("button", name=f"Claim {title} for {number}").click()
    expect(page.get_by_role("status")).to_have_text(f"You claimed {title} for {number}.")
    expect(page).to_have_url(f"{base}/tasks/{task_id}")  # back on the task, now ours

    fill_in(page, answers)
    page.get_by_role("button", name="Complete task").click()
    expect(page).to_have_url(f"{base}/inbox")
    expect(page.get_by_role("status")).to_have_text(f"{title} for {number} is done.")
    # Gone from the team's queue (where the inbox lands when nothing is assigned to me) and from mine.
    expect(page.get_by_role("link", name="My team")).to_have_attribute("aria-current", "page")
    expect(page.locator(f'tr[data-task="{task_id}"]')).to_have_count(0)
    expect(page.locator('.badge[data-queue="mine"]')).to_have_text("0")
    log_out(page, base)

    db.session.expire_all()
    done = db.session.get(HumanTask, int(task_id))
    assert (done.title, done.business_key, done.state, done.completed_by) == (title, number, "completed", username)


# --- the test ---------------------------------------------------------------------------------------------


def test_an_order_goes_along_the_happy_path_through_the_browser(live_server, page, browser, shop):
    base = live_server
    today = now().date()
    wanted = (today + timedelta(days=30)).isoformat()

    # The order desk takes an order on the phone and enters it.
    log_in(page, base, "olga")
    page.get_by_role("link", name="New order").click()
    expect(page).to_have_url(f"{base}/orders/new")
    page.get_by_role("combobox", name="Customer", exact=True).select_option(label="Harbour Tools Ltd (HARBOUR)")
    page.get_by_role("combobox", name="Received by").select_option(label="Phone")
    page.get_by_role("textbox", name="Requested delivery date").fill(wanted)
    page.get_by_role("combobox", name="Payment", exact=True).select_option(label="On credit")
    page.get_by_role("textbox", name="SKU, line 1", exact=True).fill("BOLT-M8")
    page.get_by_role("textbox", name="Quantity, line 1", exact=True).fill("40")
    page.get_by_role("textbox", name="Remarks").fill("Deliver to dock 4")
    page.get_by_role("button", name="Enter order").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/orders/SO-\d{{4}}-\d{{6}}$"))
    number = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("status")).to_have_text(f"Order {number} was entered.")
    expect(page.get_by_role("link", name="Review order")).to_be_visible()  # its open task
    log_out(page, base)

    # Each lane does its part.
    do_task(page, base, "dana", number, "Review order", {"Approve the order": True})
    do_task(page, base, "wes", number, "Pick", {"Every line is picked": True})
    do_task(page, base, "wes", number, "Pack", {"Packages": 2, "Note": "Two boxes"})
    do_task(page, base, "lou", number, "Check goods against order", {"The goods match the order": True})
    do_task(page, base, "lou", number, "Arrange shipment", {"Carrier": "DHL", "Tracking number": "JD0042"})

    # The web shop's system reports the customer's receipt, then the payment.
    partner = browser.new_context(base_url=base, extra_http_headers={"Authorization": f"Bearer {shop}"})
    try:
        events = f"/api/v1/orders/{number}/events"
        received = partner.request.post(events, data={"type": "goods_received", "payload": {
            "signed_by": "Dock 4", "received_on": today.isoformat()}})
        assert received.status == 200, received.text()
        assert received.json()["statuses"] == {"order": "delivered", "shipment": "delivered", "payment": "invoiced"}
        paid = partner.request.post(events, data={"type": "payment_received", "payload": {
            "amount": "100.00", "method": "bank_transfer", "reference": "BT-1"}})
        assert paid.status == 200, paid.text()
        assert paid.json()["statuses"] == {"order": "completed", "shipment": "delivered", "payment": "paid"}
    finally:
        partner.close()

    # Customer service follows up: the last task.
    do_task(page, base, "cass", number, "Follow up with customer",
            {"Satisfaction (1 to 5)": 5, "The customer has a complaint": False})

    # The order page shows it finished.
    log_in(page, base, "olga")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders").click()
    expect(page).to_have_url(f"{base}/orders")
    page.get_by_role("link", name=number, exact=True).click()
    expect(page).to_have_url(f"{base}/orders/{number}")
    expect(page.locator("dl.statuses dt")).to_have_text(["Order", "Shipment", "Payment"])
    expect(page.locator("dl.statuses dd")).to_have_text(["completed", "delivered", "paid"])
    expect(page.get_by_text("Nobody has a task on this order right now.")).to_be_visible()
    process = page.locator("section").filter(has=page.get_by_role("heading", name="Process", exact=True))
    expect(process.locator(".status")).to_have_text("completed")
    log_out(page, base)

    # And so does the database.
    db.session.expire_all()
    order = db.session.scalars(select(Order).where(Order.number == number)).one()
    assert (order.status, order.shipment_status, order.payment_status) == ("completed", "delivered", "paid")
    assert (order.channel, order.entered_by, order.total) == ("phone", "olga", Decimal("100.00"))
    assert order.archived_at is not None
    shipment = db.session.scalars(select(Shipment).where(Shipment.order_id == order.id)).one()
    assert (shipment.status, shipment.carrier, shipment.tracking_number) == ("delivered", "DHL", "JD0042")
    invoice = db.session.scalars(select(Invoice).where(Invoice.order_id == order.id)).one()
    assert (invoice.status, invoice.amount, invoice.paid_amount) == ("paid", Decimal("100.00"), Decimal("100.00"))
    instance = db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == number)).one()
    assert instance.status == "completed"
    tasks = db.session.scalars(select(HumanTask).where(HumanTask.business_key == number).order_by(HumanTask.id))
    assert [(t.element_id, t.state, t.completed_by) for t in tasks] == [
        ("review_order", "completed", "dana"), ("pick_goods", "completed", "wes"),
        ("pack_goods", "completed", "wes"), ("check_goods", "completed", "lou"),
        ("arrange_shipment", "completed", "lou"), ("follow_up", "completed", "cass")]
