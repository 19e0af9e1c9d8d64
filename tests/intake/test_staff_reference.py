"""/orders/new: the order desk records where a phone, fax, e-mail or sales-representative order came from."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.orders.models import Order
from tests.intake.conftest import NOTHING, written
from tests.support import csrf_token


def form(client, **changes) -> dict:
    data = {"csrf_token": csrf_token(client.get("/orders/new").text), "customer": "GOOD", "channel": "fax",
            "line_0-sku": "BOLT-M8", "line_0-quantity": "40", "requested_date": "2026-04-01",
            "payment_method": "credit", "remarks": "", "shipping_address": "", "reference": ""}
    return data | changes


def test_the_form_asks_for_a_reference(desk):
    page = desk.get("/orders/new").text
    assert 'name="reference"' in page
    assert "Fax number, e-mail subject, sales representative or the customer's order number" in page


@pytest.mark.parametrize(("channel", "reference", "remarks", "stored"), [
    ("fax", "+49 221 555 0100", "", "Reference: +49 221 555 0100"),
    ("email", " Re: spring order ", "call before delivery", "Reference: Re: spring order\ncall before delivery"),
    ("sales_rep", "Maria Jones, PO 4711", "", "Reference: Maria Jones, PO 4711"),
    ("phone", "", "call before delivery", "call before delivery"),
])
def test_the_reference_is_the_first_line_of_the_remarks(desk, channel, reference, remarks, stored):
    response = desk.post("/orders/new", data=form(desk, channel=channel, reference=reference, remarks=remarks))
    assert response.status_code == 302
    order = db.session.scalars(select(Order)).one()
    assert (order.channel, order.remarks) == (channel, stored)
    assert stored.split("\n")[0] in desk.get(f"/orders/{order.number}").text  # the order page shows it


def test_a_reference_too_long_is_refused_at_its_field(desk):
    response = desk.post("/orders/new", data=form(desk, reference="r" * 201))
    assert response.status_code == 422
    after = response.text.split('name="reference"', 1)[1].split(' name="', 1)[0]
    assert "Field cannot be longer than 200 characters." in after
    assert written() == NOTHING
