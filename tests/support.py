"""Helpers shared by the tests: database back-ends, BPMN snippets, logging in, requests sent at once."""

import http.client
import os
import re
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
BPMN_DIR = Path(__file__).resolve().parent / "bpmn"
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("ORDERLY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def unavailable(reason: str):
    """Skip with a visible reason; under CI a missing service is a failure, never a skip."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


_postgres_checked: dict[str, str | None] = {}


def postgres_problem() -> str | None:
    if POSTGRES_URL not in _postgres_checked:
        try:
            engine = create_engine(POSTGRES_URL)
            with engine.connect() as connection:
                connection.execute(text("select 1"))
            engine.dispose()
            _postgres_checked[POSTGRES_URL] = None
        except Exception as error:  # any failure to connect means: no server here
            reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {error.__class__.__name__}"
            _postgres_checked[POSTGRES_URL] = reason
    return _postgres_checked[POSTGRES_URL]


class PostgresSchema:
    """A fresh schema per test: every connection of the URL it gives searches only that schema."""

    def __init__(self, url: str = POSTGRES_URL, prefix: str = "t"):
        self.base_url = url
        self.name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> str:
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.name}"'))
        separator = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{separator}options={quote(f'-csearch_path={self.name}')}"

    def __exit__(self, *exc):
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


def bpmn(name: str) -> bytes:
    return (BPMN_DIR / name).read_bytes()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = "secret-pass") -> None:
    page = client.get("/login")
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 302, f"login as {username} failed"


def simple_order(customer_name: str = "ACME Ltd", channel: str = "web", total: str = "100.00",
                 entered_by: str = "desk"):
    """A complete one-line order for a customer on good credit; creates the customer and product once."""
    from datetime import timedelta
    from decimal import Decimal

    from sqlalchemy import select

    from app.catalog.models import Product
    from app.clock import now
    from app.customers.models import Customer
    from app.extensions import db
    from app.orders.service import LineInput, create_order

    code = re.sub(r"[^A-Z0-9]", "", customer_name.upper())[:20] or "CUSTOMER"
    customer = db.session.scalar(select(Customer).where(Customer.code == code))
    if customer is None:
        customer = Customer(code=code, name=customer_name, contact_name="Pat Buyer", email="buyer@example.com",
                            shipping_address="1 Dock Road, Harbour City", credit_limit=Decimal("1000000"))
        db.session.add(customer)
    sku = f"TEST-{Decimal(total):.2f}".replace(".", "-")
    if db.session.scalar(select(Product).where(Product.sku == sku)) is None:
        db.session.add(Product(sku=sku, name="Test item", list_price=Decimal(total), on_hand=1000))
    db.session.flush()
    return create_order(customer, channel, [LineInput(sku, 1)], requested_date=now().date() + timedelta(days=30),
                        entered_by=entered_by)


# The order process's human tasks on the happy path, in order, with what the user submits.
HAPPY_PATH = [
    ("review_order", {"approved": True}),
    ("pick_goods", {"picked": True}),
    ("pack_goods", {"packages": 2}),
    ("check_goods", {"goods_match": True}),
    ("arrange_shipment", {"carrier": "DHL", "tracking_number": "JD0042"}),
]


def all_at_once(count: int, send: Callable[[int], object], timeout: float = 180) -> list:
    """Call send(0) … send(count - 1), each in its own thread, all released together; what each
    returned, or the exception it raised (judged by the caller, with the others' answers)."""
    start = threading.Barrier(count, timeout=timeout)
    answers: list = [None] * count

    def run(index: int) -> None:
        try:
            start.wait()
            answers[index] = send(index)
        except Exception as error:  # noqa: BLE001 - recorded, judged by the caller
            answers[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a sender never finished"
    return answers


def http_post(base: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
    """POST over a connection of its own to a live server; the status, headers and body."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()
