"""A shop to import orders into, the order desk logged in, and a CSV file builder."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import clock
from app.catalog.models import Product
from app.customers.models import Customer
from app.extensions import db
from app.numbering import NumberSequence
from app.orders.models import Order, OrderLine
from app.workflow.models import HumanTask, ProcessInstance
from tests.support import login

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HEADER = ["order_ref", "customer_code", "channel", "sku", "quantity", "unit_price", "requested_date",
          "payment_method", "shipping_address", "remarks"]
NOTHING = {"Order": 0, "OrderLine": 0, "ProcessInstance": 0, "HumanTask": 0, "NumberSequence": 0}


@pytest.fixture
def shop(ctx):
    clock.freeze(START)
    db.session.add_all([
        Customer(code="GOOD", name="Good Customer Ltd", email="buy@good.example", shipping_address="1 Harbour Road",
                 credit_limit=Decimal("100000")),
        Customer(code="ACME", name="Acme Retail GmbH", email="einkauf@acme.example", shipping_address="Köln",
                 credit_limit=Decimal("100000")),
        Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=10000),
        Product(sku="VALVE-2", name="Valve", list_price=Decimal("50.00"), on_hand=500),
    ])
    db.session.commit()


@pytest.fixture
def desk(client, shop, deployed, make_user):
    make_user("dana", "order_desk")
    login(client, "dana")
    return client


def csv_file(*rows, header=HEADER, delimiter=",", bom=False) -> bytes:
    """A CSV file: rows are dicts by column name (missing ones empty) or lists of cells."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header] if isinstance(row, dict) else row)
    return ("\ufeff" if bom else "").encode() + text.getvalue().encode()


def line(ref="PO-1", customer="GOOD", sku="BOLT-M8", quantity="10", **more) -> dict:
    return {"order_ref": ref, "customer_code": customer, "sku": sku, "quantity": quantity,
            "requested_date": "2026-04-01", **more}


def written() -> dict:
    db.session.rollback()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Order, OrderLine, ProcessInstance, HumanTask, NumberSequence)}
