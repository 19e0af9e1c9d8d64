"""In real Chromium, an exception from the report to the outcome. The order desk opens an order page and
reports a wrong delivery address through the report form; the exception page shows the new case and its
triage task. Customer service triages it from the team inbox, Logistics (the owning team) resolves it
from theirs with the corrected address, and then the exception page shows it closed and the order page
shows the new address."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.catalog.models import Product
from app.clock import now
from app.customers.models import Customer
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.orders.models import Order
from app.orders.service import LineInput, create_order
from app.workflow import runtime
from app.workflow.models import HumanTask

pytestmark = pytest.mark.browser

PASSWORD = "secret-pass"  # make_user's default
STAFF = {"olga": "order_desk", "cass": "customer_service", "lou": "logistics"}


@pytest.fixture
def order_number(ctx, deployed, make_user) -> str:
    """An order waiting for review in its process, and one person per team on the way."""
    customer = Customer(code="HARBOUR", name="Harbour Tools Ltd", contact_name="Pat Buyer", email="ap@harbour.example",
                        shipping_address="1 Harbour Road", credit_limit=Decimal("100000"), payment_terms_days=30)
    db.session.add_all([customer, Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=1000)])
    for username, role in STAFF.items():
        make_user(username, role)
    order = create_order(customer, "phone", [LineInput("BOLT-M8", 40)],
                         requested_date=(now() + timedelta(days=30)).date(), entered_by="olga")
    db.session.commit()
    runtime.start("order_process", order.number, {"order_number": order.number, "entered_by": "olga"})
    return order.number


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/inbox")


def log_out(page: Page, base: str) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{base}/login")


def open_team_task(page: Page, base: str, number: str, title: str) -> None:
    """From the team inbox, open the task `title` of the exception `number`."""
    page.get_by_role("navigation", name="Queues").get_by_role("link", name="My team").click()
    row = page.get_by_role("row").filter(has_text=number).filter(has=page.get_by_role("link", name=title, exact=True))
    expect(row).to_have_count(1)
    row.get_by_role("link", name=title, exact=True).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/tasks/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{title} {number}")
    # The exception the task is about, above the form.
    summary = page.locator("section.exception-summary")
    expect(summary).to_contain_text("Wrong delivery address")
    expect(summary.get_by_role("link", name=number)).to_have_attribute("href", f"/exceptions/{number}")


def test_staff_report_an_exception_and_the_owning_team_resolves_it(live_server, page, order_number):
    base, number = live_server, order_number

    # The order desk reports it from the order page.
    log_in(page, base, "olga")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("^Exceptions"))) \
        .to_contain_text("0")
    page.goto(f"{base}/orders/{number}")
    exceptions = page.locator("section.order-exceptions")
    expect(exceptions).to_contain_text("No exception has been reported on this order.")
    exceptions.get_by_role("link", name="Report exception").click()
    expect(page).to_have_url(f"{base}/orders/{number}/exceptions/new")

    form = page.locator("form[data-report-form]")
    quantity = page.get_by_label("New quantity")
    expect(quantity).to_be_hidden()  # fields of one type appear only for it
    page.get_by_label("Category").select_option(label="Customer")
    page.get_by_role("combobox", name="Type", exact=True).select_option(label="Order data change")
    expect(quantity).to_be_visible()
    expect(form).to_contain_text("Usual for this type: medium.")
    page.get_by_label("Category").select_option(label="Logistics")  # another category: the type is chosen again
    expect(page.get_by_role("combobox", name="Type", exact=True)).to_have_value("")
    expect(quantity).to_be_hidden()
    page.get_by_role("combobox", name="Type", exact=True).select_option(label="Wrong delivery address")
    page.get_by_label("What happened").fill("The customer moved: deliver to 2 Quay Street instead.")
    page.get_by_role("button", name="Report exception").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/exceptions/EX-\d{{4}}-\d{{6}}$"))
    case_number = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("status")).to_have_text(f"Exception {case_number} was reported on {number}.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{case_number} Wrong delivery address")
    expect(page.locator("dl.statuses dd").first).to_have_text("open")
    expect(page.get_by_role("link", name=number, exact=True)).to_have_attribute("href", f"/orders/{number}")
    expect(page.get_by_role("link", name="Triage exception")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("^Exceptions"))) \
        .to_contain_text("1")
    log_out(page, base)

    # Customer service triages it: the customer hears at once.
    log_in(page, base, "cass")
    open_team_task(page, base, case_number, "Triage exception")
    page.get_by_label("What we tell the customer now").fill("We will correct the address and deliver again.")
    page.get_by_role("button", name="Complete task").click()
    expect(page).to_have_url(f"{base}/inbox")
    expect(page.get_by_role("status")).to_have_text(f"Triage exception for {case_number} is done.")
    log_out(page, base)

    # Logistics, the owning team, resolves it with the corrected address.
    log_in(page, base, "lou")
    open_team_task(page, base, case_number, "Resolve exception")
    page.get_by_label("Remedy").select_option(label="Correct the address and deliver again")
    page.get_by_label("Shipping address").fill("2 Quay Street, Harbour City")
    page.get_by_label("What was done (told to the customer)").fill("Address corrected; delivery rebooked.")
    page.get_by_label("Root cause").fill("The customer moved after ordering.")
    page.get_by_role("button", name="Complete task").click()
    expect(page).to_have_url(f"{base}/inbox")
    expect(page.get_by_role("status")).to_have_text(f"Resolve exception for {case_number} is done.")

    # The exception page shows it closed, with what was done; the order page shows the outcome.
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("^Exceptions")).click()
    expect(page).to_have_url(f"{base}/exceptions")
    page.get_by_role("link", name=case_number, exact=True).click()
    expect(page.locator("dl.statuses dd").first).to_have_text("closed")
    resolution = page.locator("section.resolution")
    expect(resolution).to_contain_text("Correct the address and deliver again")
    expect(resolution).to_contain_text("Address corrected; delivery rebooked.")
    expect(resolution).to_contain_text("The customer moved after ordering.")
    expect(page.get_by_text("Nothing is left to do: the exception is closed.")).to_be_visible()
    expect(page.locator("ol.messages > li")).to_have_count(2)  # received, resolved

    page.get_by_role("link", name=number, exact=True).click()
    expect(page).to_have_url(f"{base}/orders/{number}")
    expect(page.locator(".facts dd.text").filter(has_text="Quay")).to_have_text("2 Quay Street, Harbour City")
    row = page.locator(f'tr[data-exception="{case_number}"]')
    expect(row).to_contain_text("Wrong delivery address")
    expect(row).to_contain_text("closed")
    expect(row).to_contain_text("Address corrected; delivery rebooked.")
    log_out(page, base)

    # And so does the database.
    db.session.expire_all()
    case = db.session.scalars(select(ExceptionCase).where(ExceptionCase.number == case_number)).one()
    assert (case.type, case.source, case.reported_by, case.owner_role, case.status, case.action) == (
        "wrong_address", "staff", "olga", "logistics", "closed", "redeliver")
    order = db.session.scalars(select(Order).where(Order.number == number)).one()
    assert (order.shipping_address, order.status) == ("2 Quay Street, Harbour City", "in_review")
    tasks = db.session.scalars(select(HumanTask).where(HumanTask.business_key == case_number).order_by(HumanTask.id))
    assert [(t.element_id, t.completed_by) for t in tasks] == [("triage", "cass"), ("resolve_logistics", "lou")]
