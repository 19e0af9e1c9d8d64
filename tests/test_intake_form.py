"""/orders/new: the order desk enters phone, fax, e-mail and sales-representative orders."""

import html
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import clock
from app.accounts.roles import ALL
from app.catalog.models import Product
from app.customers.models import Customer
from app.extensions import db
from app.numbering import NumberSequence
from app.orders.models import Order, OrderLine
from app.workflow.models import HumanTask, ProcessInstance
from tests.support import csrf_token, login

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def shop(ctx, deployed):
    clock.freeze(START)
    db.session.add_all([
        Customer(code="GOOD", name="Good Customer Ltd", email="buy@good.example", shipping_address="1 Harbour Road",
                 credit_limit=Decimal("100000")),
        Customer(code="ACME", name="Acme Retail GmbH", email="einkauf@acme.example", shipping_address="Köln"),
        Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=1000),
        Product(sku="VALVE-2", name="Valve", list_price=Decimal("50.00"), on_hand=50),
    ])
    db.session.commit()


@pytest.fixture
def desk(client, shop, make_user):
    make_user("dana", "order_desk")
    login(client, "dana")
    return client


def written() -> dict:
    db.session.expire_all()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Order, OrderLine, ProcessInstance, HumanTask, NumberSequence)}


NOTHING = {"Order": 0, "OrderLine": 0, "ProcessInstance": 0, "HumanTask": 0, "NumberSequence": 0}


def form(client, **changes) -> dict:
    data = {"csrf_token": csrf_token(client.get("/orders/new").text), "customer": "GOOD", "channel": "fax",
            "line_0-sku": "BOLT-M8", "line_0-quantity": "40", "requested_date": "2026-04-01",
            "payment_method": "credit", "remarks": "", "shipping_address": ""}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def field_error(page: str, name: str) -> str:
    """The errors shown after the input called `name` and before the next input."""
    after = page.split(f'name="{name}"', 1)[1].split(' name="', 1)[0]
    shown = re.findall(r'<span class="error">([^<]*)</span>', after)
    assert shown, f"no error shown at {name}"
    return html.unescape(" ".join(shown))


# Access ----------------------------------------------------------------------------------------


def test_the_form_needs_login(client, shop):
    response = client.get("/orders/new")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ALL)
def test_the_form_is_for_the_order_desk_and_admins(client, shop, make_user, role):
    make_user("someone", role)
    login(client, "someone")
    allowed = role in ("order_desk", "admin")
    page = client.get("/orders/new")
    assert page.status_code == (200 if allowed else 403)
    home = client.get("/", follow_redirects=True).text  # the inbox, or the processes overview
    assert ("New order" in home) == allowed  # the link in the header
    token = csrf_token(home)
    response = client.post("/orders/new", data={"csrf_token": token, "customer": "GOOD", "channel": "phone",
                                                "line_0-sku": "BOLT-M8", "line_0-quantity": "1",
                                                "payment_method": "credit"})
    assert response.status_code == (302 if allowed else 403)
    assert written()["Order"] == (1 if allowed else 0)


def test_post_without_csrf_token_is_refused(desk):
    data = form(desk)
    del data["csrf_token"]
    response = desk.post("/orders/new", data=data)
    assert response.status_code == 400
    assert written() == NOTHING


def test_post_with_a_forged_csrf_token_is_refused(desk):
    response = desk.post("/orders/new", data=form(desk, csrf_token="forged"))
    assert response.status_code == 400
    assert written() == NOTHING


# The form --------------------------------------------------------------------------------------


def test_the_form_offers_customers_staff_channels_and_ten_line_rows(desk):
    page = desk.get("/orders/new").text
    assert "Acme Retail GmbH (ACME)" in page and "Good Customer Ltd (GOOD)" in page
    channels = re.findall(r'<option[^>]*value="([a-z_]+)"', page.split('name="channel"')[1].split("</select>")[0])
    assert channels == ["phone", "fax", "email", "sales_rep"]
    assert 'name="line_9-sku"' in page and 'name="line_10-sku"' not in page


def test_order_is_entered_and_its_process_started(desk):
    response = desk.post("/orders/new", data=form(
        desk, channel="sales_rep", **{"line_2-sku": "valve-2", "line_2-quantity": "3",
                                      "line_2-unit_price": "45.00", "line_2-spec": "stainless"},
        allow_partial="y", remarks="call before delivery", shipping_address="Gate 4, 1 Harbour Road"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/orders/SO-2026-000001"
    assert "Order SO-2026-000001 was entered." in desk.get("/", follow_redirects=True).text
    order = db.session.scalars(select(Order)).one()
    assert (order.channel, order.entered_by, order.customer_name) == ("sales_rep", "dana", "Good Customer Ltd")
    assert (order.allow_partial, order.remarks, order.shipping_address) == (
        True, "call before delivery", "Gate 4, 1 Harbour Road")
    assert [(line.position, line.sku, line.quantity, line.unit_price, line.spec) for line in order.lines] == [
        (1, "BOLT-M8", 40, Decimal("2.50"), ""), (2, "VALVE-2", 3, Decimal("45.00"), "stainless")]
    assert str(order.requested_date) == "2026-04-01" and order.total == Decimal("235.00")
    instance = db.session.scalars(select(ProcessInstance)).one()
    assert (instance.business_key, instance.status, instance.started_by) == (order.number, "running", "dana")
    task = db.session.scalars(select(HumanTask)).one()
    assert task.element_id == "review_order"


def test_empty_ship_to_takes_the_customers_address(desk):
    assert desk.post("/orders/new", data=form(desk, channel="phone")).status_code == 302
    assert db.session.scalars(select(Order)).one().shipping_address == "1 Harbour Road"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"customer": ""}, "customer", "Choose the customer."),
    ({"customer": "NOBODY"}, "customer", "Not a valid choice."),
    ({"channel": "web"}, "channel", "Not a valid choice."),
    ({"payment_method": "barter"}, "payment_method", "Not a valid choice."),
    ({"line_0-quantity": ""}, "line_0-quantity", "Enter a quantity."),
    ({"line_0-sku": "", "line_0-unit_price": "2.00"}, "line_0-sku", "Enter a SKU."),
    ({"line_0-quantity": "0"}, "line_0-quantity", "must be between 1 and 1,000,000"),
    ({"line_0-quantity": "-3"}, "line_0-quantity", "must be between 1 and 1,000,000"),
    ({"line_0-quantity": "two"}, "line_0-quantity", "'two' is not a whole number"),
    ({"line_0-sku": "NOPE-1"}, "line_0-sku", "unknown SKU 'NOPE-1'"),
    ({"line_0-unit_price": "1.00"}, "line_0-unit_price", "1.00 is outside the price policy for BOLT-M8"),
    ({"line_0-unit_price": "2.75"}, "line_0-unit_price", "2.75 is outside the price policy for BOLT-M8"),
    ({"line_0-unit_price": "cheap"}, "line_0-unit_price", "'cheap' is not an amount"),
    ({"line_0-spec": "s" * 2001}, "line_0-spec", "Field cannot be longer than 2000 characters."),
    ({"requested_date": "2026-13-45"}, "requested_date", "Not a valid date value."),
    ({"requested_date": "2026-03-01"}, "requested_date", "lies in the past"),
    ({"remarks": "r" * 2001}, "remarks", "Field cannot be longer than 2000 characters."),
    ({"shipping_address": "a" * 2001}, "shipping_address", "Field cannot be longer than 2000 characters."),
])
def test_bad_input_is_shown_at_its_field_and_writes_nothing(desk, changes, field, message):
    response = desk.post("/orders/new", data=form(desk, **changes))
    assert response.status_code == 422
    assert "The order was not saved" in response.text
    assert message in field_error(response.text, field)
    assert written() == NOTHING


def test_an_order_without_lines_is_refused(desk):
    response = desk.post("/orders/new", data=form(desk, **{"line_0-sku": "", "line_0-quantity": ""}))
    assert response.status_code == 422 and "Enter at least one line." in response.text
    assert written() == NOTHING


def test_errors_land_on_the_row_they_belong_to_and_input_is_kept(desk):
    response = desk.post("/orders/new", data=form(desk, **{"line_4-sku": "NOPE-9", "line_4-quantity": "2"}))
    assert response.status_code == 422
    assert "unknown SKU 'NOPE-9'" in field_error(response.text, "line_4-sku")
    assert re.search(r'name="line_0-sku"[^>]*value="BOLT-M8"', response.text)
    assert re.search(r'<option selected value="fax">|<option value="fax" selected>', response.text)
    assert written() == NOTHING


def test_more_than_ten_rows_are_not_taken(desk):
    extra = {f"line_{i}-sku": "BOLT-M8" for i in range(12)} | {f"line_{i}-quantity": "1" for i in range(12)}
    assert desk.post("/orders/new", data=form(desk, **extra)).status_code == 302
    assert len(db.session.scalars(select(Order)).one().lines) == 10
