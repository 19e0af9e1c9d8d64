"""API v1 orders: a partner system places an order (which starts its process), reads it, and reports
receipt and payment; tokens are checked; every bad request is refused by field and writes nothing."""

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import clock
from app.api import auth
from app.api.models import ApiClient
from app.catalog.models import Product
from app.customers.models import Customer
from app.extensions import db
from app.numbering import NumberSequence
from app.orders.models import Order, OrderLine
from app.workflow import runtime
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance
from tests.support import HAPPY_PATH

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def shop(ctx, deployed):
    clock.freeze(START)
    db.session.add_all([
        Customer(code="GOOD", name="Good Customer Ltd", email="buy@good.example", shipping_address="1 Harbour Road",
                 credit_limit=Decimal("100000")),
        Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=1000),
        Product(sku="VALVE-2", name="Valve", list_price=Decimal("50.00"), floor_pct=Decimal("90"), on_hand=50),
    ])
    db.session.commit()


@pytest.fixture
def make_client(ctx):
    def make(name: str = "webshop", channel: str = "web") -> str:
        _client, token = auth.create_client(name, channel)
        db.session.commit()
        return token

    return make


@pytest.fixture
def api(client, make_client):
    """The test client with a valid token for a web-channel API client."""
    headers = {"Authorization": f"Bearer {make_client()}"}

    class Api:
        def post(self, url, body=None, **kwargs):
            return client.post(url, json=body, headers=headers, **kwargs)

        def raw(self, url, data, content_type="application/json", **kwargs):
            return client.post(url, data=data, content_type=content_type, headers=headers, **kwargs)

        def get(self, url):
            return client.get(url, headers=headers)

    return Api()


def order_body(**changes) -> dict:
    body = {"customer_code": "GOOD", "lines": [{"sku": "BOLT-M8", "quantity": 40}, {"sku": "VALVE-2", "quantity": 2}],
            "requested_date": "2026-04-01", "payment_method": "credit", "remarks": "ring at gate 2",
            "allow_partial": False, "shipping_address": "Dock 4, 1 Harbour Road"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def written() -> dict:
    db.session.expire_all()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Order, OrderLine, ProcessInstance, HumanTask, InstanceEvent, NumberSequence)}


def place(api) -> str:
    response = api.post("/api/v1/orders", order_body())
    assert response.status_code == 201, response.json
    return response.json["number"]


def instance_of(number: str) -> ProcessInstance:
    db.session.expire_all()
    return db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == number)).one()


def ship(number: str) -> None:
    """Work the human tasks of the happy path, so the order waits for the customer's receipt."""
    for element_id, data in HAPPY_PATH:
        instance = instance_of(number)
        task = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                          HumanTask.state == "open")).one()
        assert task.element_id == element_id
        runtime.complete_task(instance.id, task.spiff_task_id, data, actor="staff")


# Placing and reading -------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["web", "email", "sales_rep"])
def test_order_placed_through_the_api_runs_its_process(shop, client, make_client, channel):
    token = make_client("partner", channel)
    response = client.post("/api/v1/orders", json=order_body(), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.json
    number = response.json["number"]
    assert number == "SO-2026-000001" and response.json["status"] == "in_review"
    assert response.json["links"] == {"self": f"/api/v1/orders/{number}", "events": f"/api/v1/orders/{number}/events",
                                      "exceptions": f"/api/v1/orders/{number}/exceptions"}
    assert response.headers["Location"] == f"/api/v1/orders/{number}"
    order = db.session.scalars(select(Order)).one()
    assert (order.channel, order.entered_by, order.total) == (channel, "api:partner", Decimal("200.00"))
    assert (order.shipping_address, order.remarks, str(order.requested_date)) == (
        "Dock 4, 1 Harbour Road", "ring at gate 2", "2026-04-01")
    instance = instance_of(number)
    assert (instance.process_key, instance.status, instance.started_by) == ("order_process", "running", "api:partner")
    task = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).one()
    assert (task.element_id, task.role, task.state, task.business_key) == ("review_order", "order_desk", "open", number)


def test_a_logged_in_session_is_not_an_api_token(shop, client, make_user):
    from tests.support import login

    make_user("root", "admin")
    login(client, "root")
    response = client.post("/api/v1/orders", json=order_body())
    assert response.status_code == 401 and written()["Order"] == 0


def test_get_order_shows_statuses_lines_and_totals(shop, api):
    number = place(api)
    response = api.get(f"/api/v1/orders/{number}")
    assert response.status_code == 200
    body = response.json
    assert body["number"] == number and body["channel"] == "web"
    assert body["customer"] == {"code": "GOOD", "name": "Good Customer Ltd"}
    assert body["statuses"] == {"order": "in_review", "shipment": "pending", "payment": "not_invoiced"}
    assert body["lines"] == [
        {"position": 1, "sku": "BOLT-M8", "spec": "", "quantity": 40, "unit_price": "2.50", "amount": "100.00",
         "shipped": 0},
        {"position": 2, "sku": "VALVE-2", "spec": "", "quantity": 2, "unit_price": "50.00", "amount": "100.00",
         "shipped": 0},
    ]
    assert body["totals"] == {"order": "200.00", "invoiced": None, "paid": None, "balance": None}
    assert body["requested_date"] == "2026-04-01" and body["links"]["self"] == f"/api/v1/orders/{number}"


def test_unknown_order_is_404_json(shop, api):
    for response in (api.get("/api/v1/orders/SO-2026-999999"),
                     api.post("/api/v1/orders/SO-2026-999999/events", {"type": "goods_received"})):
        assert response.status_code == 404
        assert response.json["error"] == "not_found" and "SO-2026-999999" in response.json["message"]


def test_orders_cannot_be_taken_while_the_process_is_not_deployed(ctx, api):
    db.session.add_all([Customer(code="GOOD", name="Good", email="g@x", shipping_address="x"),
                        Product(sku="BOLT-M8", name="Bolt", list_price=Decimal("2.50"), on_hand=10)])
    db.session.commit()
    before = written()
    response = api.post("/api/v1/orders", order_body(lines=[{"sku": "BOLT-M8", "quantity": 1}],
                                                     requested_date=None))
    assert response.status_code == 503 and response.json["error"] == "unavailable"
    assert written() == before


# Events ----------------------------------------------------------------------------------------


def test_receipt_and_payment_drive_the_order_to_completion(shop, api):
    number = place(api)
    ship(number)
    received = api.post(f"/api/v1/orders/{number}/events",
                        {"type": "goods_received", "payload": {"signed_by": "Dock 4", "received_on": "2026-03-04"}})
    assert received.status_code == 200, received.json
    assert received.json["statuses"] == {"order": "delivered", "shipment": "delivered", "payment": "invoiced"}
    assert received.json["totals"] == {"order": "200.00", "invoiced": "200.00", "paid": "0.00", "balance": "200.00"}
    part = api.post(f"/api/v1/orders/{number}/events",
                    {"type": "payment_received", "payload": {"amount": 50, "method": "bank_transfer"}})
    assert part.status_code == 200 and part.json["statuses"]["payment"] == "partly_paid"
    paid = api.post(f"/api/v1/orders/{number}/events",
                    {"type": "payment_received",
                     "payload": {"amount": "150.00", "method": "card", "reference": "TX-9"}})
    assert paid.status_code == 200
    assert paid.json["statuses"] == {"order": "completed", "shipment": "delivered", "payment": "paid"}
    assert paid.json["totals"]["balance"] == "0.00"
    delivered = db.session.scalars(select(InstanceEvent).where(InstanceEvent.kind == "message_received")
                                   .order_by(InstanceEvent.id)).all()
    assert [(e.actor, e.detail["message"]) for e in delivered] == [
        ("api:webshop", "goods_received"), ("api:webshop", "payment_received"), ("api:webshop", "payment_received")]
    assert delivered[1].detail["payload"] == {"amount": "50.00", "method": "bank_transfer"}


@pytest.mark.parametrize("event", [
    {"type": "goods_received", "payload": {}},
    {"type": "goods_received"},
    {"type": "payment_received", "payload": {"amount": "10.00", "method": "card"}},
])
def test_event_at_the_wrong_stage_is_409_and_recorded(shop, api, event):
    number = place(api)  # waiting for review, not for goods or money
    response = api.post(f"/api/v1/orders/{number}/events", event)
    assert response.status_code == 409
    assert response.json["error"] == "not_waiting"
    assert f"{number} is not waiting for '{event['type']}'" in response.json["message"]
    refused = db.session.scalars(select(InstanceEvent).where(InstanceEvent.kind == "message_refused")).one()
    assert (refused.actor, refused.detail["message"]) == ("api:webshop", event["type"])
    assert instance_of(number).status == "running"


def test_event_for_an_order_whose_process_ended_is_409(shop, api):
    number = place(api)
    runtime.cancel(instance_of(number).id, reason="test")
    response = api.post(f"/api/v1/orders/{number}/events", {"type": "goods_received"})
    assert response.status_code == 409 and "no open process" in response.json["message"]


@pytest.mark.parametrize(("event", "field"), [
    ({"type": "goods_lost"}, "type"),
    ({"payload": {}}, "type"),
    ({"type": "goods_received", "payload": [], }, "payload"),
    ({"type": "goods_received", "extra": 1}, "extra"),
    ({"type": "goods_received", "payload": {"signed_by": 7}}, "payload.signed_by"),
    ({"type": "goods_received", "payload": {"received_on": "yesterday"}}, "payload.received_on"),
    ({"type": "goods_received", "payload": {"colour": "red"}}, "payload.colour"),
    ({"type": "payment_received", "payload": {"method": "card"}}, "payload.amount"),
    ({"type": "payment_received", "payload": {"amount": "-5", "method": "card"}}, "payload.amount"),
    ({"type": "payment_received", "payload": {"amount": "1.234", "method": "card"}}, "payload.amount"),
    ({"type": "payment_received", "payload": {"amount": "5", "method": "shells"}}, "payload.method"),
])
def test_malformed_event_is_422_and_delivers_nothing(shop, api, event, field):
    number = place(api)
    ship(number)
    before = written()
    response = api.post(f"/api/v1/orders/{number}/events", event)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "invalid_request" and field in response.json["details"]
    assert written() == before


def test_payment_over_the_balance_is_refused_before_it_reaches_the_process(shop, api):
    number = place(api)
    ship(number)
    api.post(f"/api/v1/orders/{number}/events", {"type": "goods_received"})
    before = written()
    response = api.post(f"/api/v1/orders/{number}/events",
                        {"type": "payment_received", "payload": {"amount": "200.01", "method": "card"}})
    assert response.status_code == 422
    assert "more than the 200.00 still due" in response.json["details"]["payload.amount"]
    assert written() == before and instance_of(number).status == "waiting"


# Tokens ----------------------------------------------------------------------------------------

ENDPOINTS = [("post", "/api/v1/orders"), ("get", "/api/v1/orders/SO-2026-000001"),
             ("post", "/api/v1/orders/SO-2026-000001/events")]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-token", "Basic d2ViOnNob3A=", "revoked"])
def test_requests_without_a_valid_token_are_401(shop, client, make_client, method, url, authorization):
    if authorization == "revoked":
        authorization = f"Bearer {make_client('old-shop')}"
        auth.revoke_client("old-shop")
        db.session.commit()
    headers = {"Authorization": authorization} if authorization else {}
    before = written()
    response = getattr(client, method)(url, json=order_body(), headers=headers)
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="orderly-api"')
    presented = authorization not in (None, "Bearer", "Basic d2ViOnNob3A=")
    assert ('error="invalid_token"' in response.headers["WWW-Authenticate"]) == presented
    assert written() == before


def test_token_use_is_recorded_at_most_once_a_minute(shop, client, make_client):
    from datetime import timedelta

    headers = {"Authorization": f"Bearer {make_client()}"}
    client.get("/api/v1/orders/SO-1", headers=headers)
    first = db.session.scalars(select(ApiClient)).one()
    assert first.last_used_at == START
    clock.advance(timedelta(seconds=30))
    client.get("/api/v1/orders/SO-1", headers=headers)
    db.session.expire_all()
    assert first.last_used_at == START
    clock.advance(timedelta(seconds=31))
    client.get("/api/v1/orders/SO-1", headers=headers)
    db.session.expire_all()
    assert first.last_used_at == START + timedelta(seconds=61)


def test_only_the_hash_of_a_token_is_stored(ctx, make_client):
    token = make_client()
    row = db.session.scalars(select(ApiClient)).one()
    assert token not in row.token_hash and row.token_hash == auth.hash_token(token) and len(row.token_hash) == 64


# Bad input -------------------------------------------------------------------------------------

LINE = {"sku": "BOLT-M8", "quantity": 1}


@pytest.mark.parametrize(("body", "status", "error", "field"), [
    # wrong types
    (order_body(customer_code=5), 422, "invalid_request", "customer_code"),
    (order_body(lines={"sku": "BOLT-M8"}), 422, "invalid_request", "lines"),
    (order_body(lines=[{"sku": "BOLT-M8", "quantity": "two"}]), 422, "invalid_request", "lines.1.quantity"),
    (order_body(lines=[{"sku": "BOLT-M8", "quantity": 1.5}]), 422, "invalid_request", "lines.1.quantity"),
    (order_body(lines=[{"sku": "BOLT-M8", "quantity": True}]), 422, "invalid_request", "lines.1.quantity"),
    (order_body(lines=[LINE, {"sku": ["BOLT-M8"], "quantity": 1}]), 422, "invalid_request", "lines.2.sku"),
    (order_body(lines=[{**LINE, "unit_price": "cheap"}]), 422, "invalid_request", "lines.1.unit_price"),
    (order_body(allow_partial="yes"), 422, "invalid_request", "allow_partial"),
    (order_body(remarks=None), 422, "invalid_request", "remarks"),
    ([order_body()], 422, "invalid_request", "body"),
    # unknown and missing fields
    (order_body(channel="fax"), 422, "invalid_request", "channel"),
    (order_body(lines=[{**LINE, "discount": 10}]), 422, "invalid_request", "lines.1.discount"),
    (order_body(customer_code=...), 422, "invalid_request", "customer_code"),
    (order_body(lines=...), 422, "invalid_request", "lines"),
    (order_body(lines=[{"sku": "BOLT-M8"}]), 422, "invalid_request", "lines.1.quantity"),
    (order_body(lines=[]), 422, "invalid_request", "lines"),
    (order_body(lines=[LINE] * 201), 422, "invalid_request", "lines"),
    (order_body(remarks="r" * 2001), 422, "invalid_request", "remarks"),
    (order_body(payment_method="barter"), 422, "invalid_request", "payment_method"),
    # quantities, SKUs, prices, dates, customers: the order's own rules
    (order_body(lines=[{"sku": "BOLT-M8", "quantity": 0}]), 422, "invalid_request", "lines.1.quantity"),
    (order_body(lines=[{"sku": "BOLT-M8", "quantity": -3}]), 422, "invalid_request", "lines.1.quantity"),
    (order_body(lines=[{"sku": "NOPE-1", "quantity": 1}]), 422, "invalid_order", "lines.1.sku"),
    (order_body(lines=[LINE, {"sku": "VALVE-2", "quantity": 1, "unit_price": "40.00"}]), 422, "invalid_order",
     "lines.2.unit_price"),
    (order_body(lines=[{**LINE, "unit_price": 2.51}]), 422, "invalid_order", "lines.1.unit_price"),
    (order_body(lines=[{**LINE, "unit_price": "0"}]), 422, "invalid_order", "lines.1.unit_price"),
    (order_body(requested_date="2026-13-45"), 422, "invalid_request", "requested_date"),
    (order_body(requested_date="next week"), 422, "invalid_request", "requested_date"),
    (order_body(requested_date="2026-03-01"), 422, "invalid_order", "requested_date"),
    (order_body(customer_code="NOBODY"), 422, "invalid_order", "customer_code"),
])
def test_bad_order_is_refused_by_field_and_writes_nothing(shop, api, body, status, error, field):
    before = written()
    response = api.post("/api/v1/orders", body)
    assert response.status_code == status, response.json
    assert response.json["error"] == error
    assert field in response.json["details"], response.json
    assert isinstance(response.json["message"], str) and response.json["message"]
    assert written() == before


@pytest.mark.parametrize(("data", "content_type", "status", "error"), [
    ('{"customer_code": "GOOD", ', "application/json", 400, "malformed_json"),
    ('{"customer_code": NaN}', "application/json", 400, "malformed_json"),
    (b'{"customer_code": "\xff"}', "application/json", 400, "malformed_json"),
    ("[" * 100_000, "application/json", 400, "malformed_json"),
    ("", "application/json", 400, "malformed_json"),
    ("customer_code=GOOD", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ('{"customer_code": "' + "x" * (300 * 1024) + '"}', "application/json", 413, "payload_too_large"),
])
def test_unreadable_body_is_refused_and_writes_nothing(shop, api, data, content_type, status, error):
    before = written()
    response = api.raw("/api/v1/orders", data, content_type)
    assert response.status_code == status
    assert response.json["error"] == error and response.json["details"] == {}
    assert written() == before


def test_streamed_body_over_the_limit_is_413(shop, api):
    body = io.BytesIO(b'{"remarks": "' + b"x" * (300 * 1024) + b'"}')
    response = api.raw("/api/v1/orders", None, input_stream=body,
                       environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413 and response.json["error"] == "payload_too_large"
    assert written()["Order"] == 0
