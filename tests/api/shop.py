"""What the API tests of this package share: a shop to order from (a customer, products, the shipped
processes deployed, the clock frozen), a client with a token, and ways to drive an order along."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import clock
from app.api import auth
from app.api.models import EVERY_SCOPE
from app.catalog.models import Product
from app.customers.models import Customer
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.orders.models import Order
from app.workflow import runtime
from app.workflow.models import HumanTask, ProcessInstance
from tests.support import HAPPY_PATH

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def shop(ctx, deployed):
    clock.freeze(START)
    db.session.add_all([
        Customer(code="GOOD", name="Good Customer Ltd", email="buy@good.example", shipping_address="1 Harbour Road",
                 credit_limit=Decimal("100000")),
        Customer(code="QUIET", name="Quiet Customer Ltd", email="buy@quiet.example", credit_limit=Decimal("1000")),
        Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=1000),
        Product(sku="VALVE-2", name="Valve", list_price=Decimal("50.00"), on_hand=50),
    ])
    db.session.commit()


class Api:
    def __init__(self, client, token: str):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def post(self, url, body=None, headers: dict | None = None, **kwargs):
        return self.client.post(url, json=body, headers={**self.headers, **(headers or {})}, **kwargs)

    def raw(self, url, data, content_type="application/json"):
        return self.client.post(url, data=data, content_type=content_type, headers=self.headers)

    def get(self, url, **kwargs):
        return self.client.get(url, headers=self.headers, **kwargs)

    def event(self, number: str, kind: str, payload: dict | None = None):
        body = {"type": kind} if payload is None else {"type": kind, "payload": payload}
        return self.post(f"/api/v1/orders/{number}/events", body)


def new_token(name: str = "webshop", scopes: str = EVERY_SCOPE) -> str:
    _client, token = auth.create_client(name, "web", scopes)
    db.session.commit()
    return token


@pytest.fixture
def api(shop, client) -> Api:
    return Api(client, new_token())


def place(api: Api, customer: str = "GOOD") -> str:
    response = api.post("/api/v1/orders", {
        "customer_code": customer, "lines": [{"sku": "BOLT-M8", "quantity": 40}, {"sku": "VALVE-2", "quantity": 2}],
        "requested_date": "2026-04-01", "shipping_address": "Dock 4, 1 Harbour Road"})
    assert response.status_code == 201, response.json
    return response.json["number"]


def open_task(business_key: str) -> HumanTask:
    db.session.expire_all()
    return db.session.scalars(select(HumanTask).join(ProcessInstance).where(
        ProcessInstance.business_key == business_key, HumanTask.state.in_(("open", "claimed")))).one()


def do(business_key: str, element_id: str, data: dict, by: str = "staff") -> None:
    task = open_task(business_key)
    assert task.element_id == element_id, f"expected {element_id}, the open task is {task.element_id}"
    done = runtime.complete_task(task.instance_id, task.spiff_task_id, data, actor=by)
    assert done.status != "error", done.error


def ship(number: str) -> None:
    """The happy path's human tasks: the goods leave with DHL (tracking JD0042)."""
    for element_id, data in HAPPY_PATH:
        do(number, element_id, data)


def triage(case_number: str) -> None:
    do(case_number, "triage", {"summary": "We are on it."}, by="carol")


def case_row(number: str) -> ExceptionCase:
    db.session.expire_all()
    return db.session.scalars(select(ExceptionCase).where(ExceptionCase.number == number)).one()


def order_row(number: str) -> Order:
    db.session.expire_all()
    return db.session.scalars(select(Order).where(Order.number == number)).one()


def counts(*models) -> dict:
    """How many rows each model has: compared before and after a refused request."""
    db.session.expire_all()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in models}
