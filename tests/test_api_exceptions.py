"""API v1 exception events: partners report change requests, cancellations, carrier events, failed
payments, refund requests and complaints; each raises the right case (or reaches the order's process,
or is only recorded), a carrier's event id counts once however often and however concurrently it
arrives, and every refusal answers by field or by code and writes nothing."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import clock, create_app
from app.api import auth
from app.billing.models import Invoice, Payment, Refund
from app.catalog.models import Product, StockMove
from app.customers.models import Customer
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.fulfilment.models import CarrierEvent, Shipment
from app.notifications.models import OutboxMessage
from app.numbering import NumberSequence
from app.orders.models import Order, OrderLine
from app.workflow import runtime
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance
from tests.api.shop import do, open_task, ship
from tests.support import all_at_once

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
THREADS = 10


@pytest.fixture
def shop(ctx, deployed):
    clock.freeze(START)
    db.session.add_all([
        Customer(code="GOOD", name="Good Customer Ltd", email="buy@good.example", shipping_address="1 Harbour Road",
                 credit_limit=Decimal("100000")),
        Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=1000),
        Product(sku="NUT-M8", name="Nut M8", list_price=Decimal("1.00"), on_hand=1000),
        Product(sku="VALVE-2", name="Valve", list_price=Decimal("50.00"), on_hand=50),
        Product(sku="OLD-1", name="Discontinued", list_price=Decimal("1.00"), on_hand=5, active=False),
    ])
    db.session.commit()


def new_token(name: str) -> str:
    _client, token = auth.create_client(name, "web")
    db.session.commit()
    return token


class Api:
    def __init__(self, client, token: str):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def post(self, url, body=None, **kwargs):
        return self.client.post(url, json=body, headers=self.headers, **kwargs)

    def raw(self, url, data, content_type="application/json"):
        return self.client.post(url, data=data, content_type=content_type, headers=self.headers)

    def get(self, url):
        return self.client.get(url, headers=self.headers)

    def event(self, number: str, kind: str, payload: dict | None = None):
        body = {"type": kind} if payload is None else {"type": kind, "payload": payload}
        return self.post(f"/api/v1/orders/{number}/events", body)


@pytest.fixture
def api(shop, client) -> Api:
    return Api(client, new_token("webshop"))


# Driving an order --------------------------------------------------------------------------------

def place(api: Api) -> str:
    response = api.post("/api/v1/orders", {
        "customer_code": "GOOD", "lines": [{"sku": "BOLT-M8", "quantity": 40}, {"sku": "VALVE-2", "quantity": 2}],
        "requested_date": "2026-04-01", "shipping_address": "Dock 4, 1 Harbour Road"})
    assert response.status_code == 201, response.json
    return response.json["number"]


def order_of(number: str) -> Order:
    db.session.expire_all()
    return db.session.scalars(select(Order).where(Order.number == number)).one()


def instance_of(business_key: str) -> ProcessInstance:
    db.session.expire_all()
    return db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == business_key)
                              .order_by(ProcessInstance.id.desc())).first()


def receive(api: Api, number: str) -> None:
    assert api.event(number, "goods_received", {"signed_by": "Dock 4"}).status_code == 200


def pay(api: Api, number: str, amount: str = "200.00") -> None:
    response = api.event(number, "payment_received", {"amount": amount, "method": "bank_transfer"})
    assert response.status_code == 200, response.json


def handle(case_number: str, action: str, **values) -> None:
    do(case_number, "triage", {"summary": "We are on it."}, by="carol")
    task = open_task(case_number)
    do(case_number, task.element_id, {"action": action, "resolution": f"done: {action}", **values}, by="rita")


def case_row(number: str) -> ExceptionCase:
    db.session.expire_all()
    return db.session.scalars(select(ExceptionCase).where(ExceptionCase.number == number)).one()


def cases_of(number: str) -> list[ExceptionCase]:
    db.session.expire_all()
    return list(db.session.scalars(select(ExceptionCase).join(Order).where(Order.number == number)
                                   .order_by(ExceptionCase.id)))


MODELS = (Order, OrderLine, ProcessInstance, HumanTask, InstanceEvent, NumberSequence, ExceptionCase, CarrierEvent,
          OutboxMessage, StockMove, Invoice, Payment, Refund, Shipment)


def written() -> dict:
    """Every row count, and the state of every order and instance: what a refusal must leave alone."""
    db.session.expire_all()
    state = {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in MODELS}
    state["orders"] = [(o.number, o.status, o.shipment_status, o.payment_status, o.held_from, o.shipping_address,
                        [(line.sku, line.quantity) for line in o.lines])
                       for o in db.session.scalars(select(Order).order_by(Order.id))]
    state["instances"] = [(i.business_key, i.status, i.held_by, i.lock_version)
                          for i in db.session.scalars(select(ProcessInstance).order_by(ProcessInstance.id))]
    return state


def assert_raised(response, number: str, type_key: str, *, blocking: bool,
                  started_by: str = "api:webshop") -> ExceptionCase:
    assert response.status_code == 201, response.json
    body = response.json
    exception = body["exception"]
    case = case_row(exception["number"])
    assert (exception["type"], exception["status"], exception["blocking"]) == (type_key, "open", blocking)
    assert exception["links"] == {"self": f"/api/v1/orders/{number}/exceptions/{case.number}",
                                  "order": f"/api/v1/orders/{number}"}
    assert response.headers["Location"] == exception["links"]["self"]
    assert body["order"]["number"] == number
    assert (case.type, case.blocking, case.source, case.reported_by) == (type_key, blocking, "api", "api:webshop")
    assert case.order.number == number and case.customer_id == case.order.customer_id
    started = instance_of(case.number)
    assert (started.process_key, started.started_by) == ("exception_handling", started_by)
    assert open_task(case.number).element_id == "triage"
    held = instance_of(number).held_by
    assert held == (case.number if blocking else None)
    assert (order_of(number).status == "on_hold") == blocking
    return case


# Customer events -------------------------------------------------------------------------------


def test_change_request_raises_a_blocking_data_change_with_what_was_asked(api):
    number = place(api)
    response = api.event(number, "change_request", {
        "lines": [{"position": 1, "quantity": 60}], "shipping_address": "Gate 7, 1 Harbour Road",
        "reason": "the customer needs more bolts"})
    case = assert_raised(response, number, "data_change", blocking=True)
    assert case.description == "the customer needs more bolts" and case.stage == "in_review"
    assert case.details == {"reason": "the customer needs more bolts", "lines": [{"position": 1, "quantity": 60}],
                            "line": 1, "quantity": 60, "shipping_address": "Gate 7, 1 Harbour Road"}
    assert response.json["order"]["statuses"]["order"] == "on_hold"
    # The order's own data changes only when the case is resolved.
    assert [line.quantity for line in order_of(number).lines] == [40, 2]


def test_a_change_of_several_lines_is_applied_whole_when_resolved(api):
    number = place(api)
    response = api.event(number, "change_request", {
        "lines": [{"position": 1, "quantity": 60}, {"position": 2, "sku": "nut-m8", "quantity": 3}],
        "reason": "new bill of materials"})
    case = assert_raised(response, number, "data_change", blocking=True)
    assert case.details["lines"] == [{"position": 1, "quantity": 60}, {"position": 2, "quantity": 3, "sku": "NUT-M8"}]
    assert "line" not in case.details  # several lines: only the list
    handle(case.number, "apply_change")
    assert case_row(case.number).status == "closed"
    order = order_of(number)
    assert [(line.sku, line.quantity) for line in order.lines] == [("BOLT-M8", 60), ("NUT-M8", 3)]
    assert order.status == "in_review" and order.total == sum(line.amount for line in order.lines)
    assert instance_of(number).held_by is None and open_task(number).element_id == "review_order"


def test_cancellation_raises_a_blocking_case_and_a_second_one_is_refused(api):
    number = place(api)
    case = assert_raised(api.event(number, "cancellation", {"reason": "ordered twice"}), number, "cancellation",
                         blocking=True)
    assert (case.description, case.details) == ("ordered twice", {"reason": "ordered twice"})
    before = written()
    again = api.event(number, "cancellation", {"reason": "really"})
    assert again.status_code == 409
    assert again.json["error"] == "cancellation_pending" and case.number in again.json["message"]
    assert written() == before


def test_refund_request_on_a_completed_order(api):
    number = place(api)
    ship(number)
    receive(api, number)
    pay(api, number)
    assert order_of(number).status == "completed"
    response = api.event(number, "refund_request", {"amount": "30.50", "reason": "two valves arrived scratched"})
    case = assert_raised(response, number, "refund", blocking=False)
    assert case.details == {"amount": "30.50", "reason": "two valves arrived scratched"}
    assert case.owner_role == "finance" and case.stage == "completed"


def test_complaint_after_delivery(api):
    number = place(api)
    ship(number)
    receive(api, number)
    case = assert_raised(api.event(number, "complaint", {"text": "  The driver was rude.  "}), number, "complaint",
                         blocking=False)
    assert (case.description, case.details, case.stage) == ("The driver was rude.", {}, "delivered")


def test_payment_failure_while_awaiting_payment_goes_to_the_order_process(api):
    number = place(api)
    ship(number)
    receive(api, number)
    response = api.event(number, "payment_failed", {"reason": "card declined", "reference": "PSP-77"})
    # The order process raised it (and started its process); the partner is its reporter.
    case = assert_raised(response, number, "payment_failure", blocking=False, started_by="process")
    assert case.details == {"payment_status_before": "invoiced", "reason": "card declined", "reference": "PSP-77"}
    assert case.description == "card declined"
    assert order_of(number).payment_status == "failed"
    delivered = db.session.scalars(select(InstanceEvent).where(InstanceEvent.kind == "message_received")
                                   .order_by(InstanceEvent.id.desc())).first()
    assert (delivered.actor, delivered.detail["message"]) == ("api:webshop", "payment_failed")
    # The order still waits for its money, and takes it.
    assert runtime.waits_for(number, "payment_received")
    pay(api, number)
    assert order_of(number).status == "completed"


def test_payment_failure_before_invoicing_raises_the_case_directly(api):
    number = place(api)
    response = api.event(number, "payment_failed", {"reason": "card pre-authorisation refused"})
    case = assert_raised(response, number, "payment_failure", blocking=False)
    assert case.details == {"reason": "card pre-authorisation refused", "payment_status_before": "not_invoiced"}
    assert order_of(number).payment_status == "failed"
    refused = db.session.scalar(select(func.count()).select_from(InstanceEvent).where(
        InstanceEvent.kind == "message_refused"))
    assert refused == 0  # never offered to a process that does not wait for it


# Carrier events --------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "type_key", "extra", "says"), [
    ("delayed", "delivery_delay", {"new_date": "2026-03-12", "reason": "storm"},
     "DHL reports the delivery delayed (tracking JD0042); new expected date 2026-03-12: storm"),
    ("lost", "lost", {}, "DHL reports the goods lost (tracking JD0042)"),
    ("damaged", "damaged", {"note": "two cartons crushed"}, "DHL reports the goods damaged (tracking JD0042): "
                                                            "two cartons crushed"),
    ("wrong_address", "wrong_address", {"reason": "no such street"}, "DHL cannot deliver to the address given "
                                                                     "(tracking JD0042): no such street"),
    ("refused", "refused", {}, "DHL reports the delivery refused by the customer (tracking JD0042)"),
])
def test_carrier_event_raises_its_logistics_case(api, kind, type_key, extra, says):
    number = place(api)
    ship(number)
    payload = {"event_id": f"dhl-{kind}-1", "occurred_at": "2026-03-03T09:15:00+01:00", "carrier": "DHL",
               "tracking_number": "JD0042", **extra}
    case = assert_raised(api.event(number, kind, payload), number, type_key, blocking=False)
    assert case.family == "logistics" and case.owner_role == "logistics" and case.description == says
    shipment = db.session.scalars(select(Shipment)).one()
    assert case.details == {**payload, "shipment": shipment.number}
    assert case.external_ref == f"api:webshop:dhl-{kind}-1"
    record = db.session.scalars(select(CarrierEvent)).one()
    assert (record.type, record.event_id, record.reported_by, record.exception_id, record.shipment_id) == (
        kind, f"dhl-{kind}-1", "api:webshop", case.id, shipment.id)
    assert record.occurred_at == datetime(2026, 3, 3, 8, 15, tzinfo=UTC)
    assert order_of(number).status == "in_fulfilment"  # the receipt is still awaited
    assert runtime.waits_for(number, "goods_received")


def test_pick_up_is_recorded_only(api):
    number = place(api)
    ship(number)
    before = written()
    response = api.event(number, "picked_up", {"event_id": "P-1", "carrier": "DHL"})
    assert response.status_code == 202, response.json
    assert "exception" not in response.json
    assert response.json["event"] == {"type": "picked_up", "event_id": "P-1", "occurred_at": None,
                                      "recorded_at": START.isoformat()}
    after = written()
    assert after.pop("CarrierEvent") == before.pop("CarrierEvent") + 1 and after == before
    again = api.event(number, "picked_up", {"event_id": "P-1", "carrier": "DHL"})
    assert again.status_code == 200 and again.json["event"] == response.json["event"]
    assert db.session.scalar(select(func.count()).select_from(CarrierEvent)) == 1


def test_delivered_is_the_customers_receipt_once(api):
    number = place(api)
    ship(number)
    response = api.event(number, "delivered", {"event_id": "D-1", "signed_by": "J. Smith", "received_on": "2026-03-04"})
    assert response.status_code == 200, response.json
    assert response.json["order"]["statuses"] == {"order": "delivered", "shipment": "delivered",
                                                  "payment": "invoiced"}
    assert response.json["event"]["event_id"] == "D-1" and "exception" not in response.json
    received = db.session.scalars(select(InstanceEvent).where(InstanceEvent.kind == "message_received")).one()
    assert received.actor == "api:webshop" and received.detail == {
        "message": "goods_received",
        "payload": {"signed_by": "J. Smith", "received_on": "2026-03-04", "carrier_event": "D-1"}}
    before = written()
    again = api.event(number, "delivered", {"event_id": "D-1", "signed_by": "J. Smith"})
    assert again.status_code == 200 and again.json["event"] == response.json["event"]
    assert written() == before
    # Another delivery report for goods already received is a message nobody waits for: recorded, refused.
    other = api.event(number, "delivered", {"event_id": "D-2"})
    assert other.status_code == 409 and other.json["error"] == "not_waiting"
    after = written()
    assert after.pop("InstanceEvent") == before.pop("InstanceEvent") + 1 and after == before
    refused = db.session.scalars(select(InstanceEvent).where(InstanceEvent.kind == "message_refused")).one()
    assert (refused.actor, refused.detail["message"]) == ("api:webshop", "goods_received")


def test_the_same_event_id_is_one_case(api, client):
    number = place(api)
    ship(number)
    payload = {"event_id": "LOST-9", "carrier": "DHL", "tracking_number": "JD0042"}
    first = api.event(number, "lost", payload)
    assert first.status_code == 201
    before = written()
    again = api.event(number, "lost", {**payload, "reason": "sent again by a retry"})
    assert again.status_code == 200, again.json
    assert again.json["exception"] == first.json["exception"] and "Location" not in again.headers
    assert written() == before
    # The id under another kind of event is a partner's mistake, refused.
    reused = api.event(number, "damaged", payload)
    assert reused.status_code == 409 and reused.json["error"] == "event_id_reused"
    assert written() == before
    # Event ids are the partner's own: another partner's LOST-9 is another event.
    other = Api(client, new_token("carrier-gateway")).event(number, "lost", payload)
    assert other.status_code == 201 and other.json["exception"]["number"] != first.json["exception"]["number"]
    assert [c.external_ref for c in cases_of(number)] == ["api:webshop:LOST-9", "api:carrier-gateway:LOST-9"]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("kind", ["lost", "delivered"])
def test_ten_concurrent_reports_of_one_event_act_once(api, database_url, kind):
    number = place(api)
    ship(number)
    token = api.headers["Authorization"].removeprefix("Bearer ")
    # A second app with a connection for every sender, so none of them queues for the pool.
    race_app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": database_url,
                           "SCHEDULER_ENABLED": False,
                           "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS, "max_overflow": 0}})

    def send(_index: int) -> tuple[int, dict]:
        response = Api(race_app.test_client(), token).event(number, kind, {"event_id": "EVT-1", "carrier": "DHL"})
        return response.status_code, response.json

    answers = all_at_once(THREADS, send, timeout=60)
    with race_app.app_context():
        db.engine.dispose()
    assert all(isinstance(answer, tuple) for answer in answers), answers
    codes = sorted(code for code, _body in answers)
    assert len(codes) == THREADS
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(CarrierEvent)) == 1
    if kind == "lost":
        assert codes == [200] * (THREADS - 1) + [201], answers
        assert len({body["exception"]["number"] for _code, body in answers}) == 1
        assert len(cases_of(number)) == 1
        assert db.session.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.process_key == "exception_handling")) == 1
    else:
        assert codes == [200] * THREADS, answers
        kinds = [e.kind for e in db.session.scalars(select(InstanceEvent).where(
            InstanceEvent.kind.in_(("message_received", "message_refused"))))]
        assert kinds == ["message_received"]  # delivered once; the repeats left no refusal behind
        assert order_of(number).status == "delivered"


# Refusals: the order cannot take it now ----------------------------------------------------------


def _cancelled(api: Api) -> str:
    number = place(api)
    case = api.event(number, "cancellation", {"reason": "no longer needed"}).json["exception"]["number"]
    handle(case, "cancel_order")
    assert order_of(number).status == "cancelled"
    return number


def _completed(api: Api) -> str:
    number = place(api)
    ship(number)
    receive(api, number)
    pay(api, number)
    assert order_of(number).status == "completed"
    return number


SHIPPED = {"event_id": "E-1", "carrier": "DHL"}


@pytest.mark.parametrize(("stage", "kind", "payload", "error"), [
    ("cancelled", "cancellation", {"reason": "again"}, "order_closed"),
    ("cancelled", "change_request", {"shipping_address": "elsewhere", "reason": "moved"}, "order_closed"),
    ("cancelled", "payment_failed", {"reason": "declined"}, "order_closed"),
    ("cancelled", "lost", SHIPPED, "order_closed"),
    ("completed", "cancellation", {"reason": "too late"}, "order_closed"),
    ("completed", "change_request", {"lines": [{"position": 1, "quantity": 50}], "reason": "more"}, "order_closed"),
    ("completed", "payment_failed", {"reason": "charge-back"}, "order_closed"),
    ("completed", "delayed", SHIPPED, "order_closed"),
    ("completed", "picked_up", SHIPPED, "order_closed"),
    ("review", "lost", SHIPPED, "not_shipped"),
    ("review", "picked_up", SHIPPED, "not_shipped"),
    ("review", "refused", SHIPPED, "not_shipped"),
])
def test_event_the_order_cannot_take_is_409_and_writes_nothing(api, stage, kind, payload, error):
    number = {"cancelled": _cancelled, "completed": _completed, "review": place}[stage](api)
    before = written()
    response = api.event(number, kind, payload)
    assert response.status_code == 409, response.json
    assert response.json["error"] == error and number in response.json["message"]
    assert response.json["details"] == {}
    assert written() == before


@pytest.mark.parametrize("stage", ["review", "completed", "cancelled"])
def test_delivery_the_process_does_not_wait_for_is_409_recorded_and_nothing_else(api, stage):
    number = {"cancelled": _cancelled, "completed": _completed, "review": place}[stage](api)
    before = written()
    response = api.event(number, "delivered", {"event_id": "D-9"})
    assert response.status_code == 409 and response.json["error"] == "not_waiting"
    after = written()
    assert after.pop("InstanceEvent") == before.pop("InstanceEvent") + 1 and after == before
    refused = db.session.scalars(select(InstanceEvent).where(InstanceEvent.kind == "message_refused")).one()
    assert (refused.actor, refused.detail["message"]) == ("api:webshop", "goods_received")


# Bad input ---------------------------------------------------------------------------------------

CHANGE = {"lines": [{"position": 1, "quantity": 50}], "reason": "more"}


@pytest.mark.parametrize(("kind", "payload", "field"), [
    ("change_request", {"reason": "nothing asked"}, "payload.lines"),
    ("change_request", {"lines": [], "reason": "x"}, "payload.lines"),
    ("change_request", {"lines": [{"position": 1}], "reason": "x"}, "payload.lines.1"),
    ("change_request", {"lines": [{"position": 1, "quantity": 5}, {"position": 1, "sku": "NUT-M8"}], "reason": "x"},
     "payload.lines.2.position"),
    ("change_request", {"lines": [{"quantity": 5}], "reason": "x"}, "payload.lines.1.position"),
    ("change_request", {"lines": [{"position": 0, "quantity": 5}], "reason": "x"}, "payload.lines.1.position"),
    ("change_request", {"lines": [{"position": 1, "quantity": 0}], "reason": "x"}, "payload.lines.1.quantity"),
    ("change_request", {"lines": [{"position": 1, "quantity": "5"}], "reason": "x"}, "payload.lines.1.quantity"),
    ("change_request", {"lines": [{"position": 1, "quantity": 5.5}], "reason": "x"}, "payload.lines.1.quantity"),
    ("change_request", {"lines": [{"position": 1, "quantity": True}], "reason": "x"}, "payload.lines.1.quantity"),
    ("change_request", {"lines": [{"position": 1, "quantity": 10**7}], "reason": "x"}, "payload.lines.1.quantity"),
    ("change_request", {"lines": [{"position": 1, "sku": "S" * 41}], "reason": "x"}, "payload.lines.1.sku"),
    ("change_request", {"lines": [{"position": 1, "quantity": 5, "price": 1}], "reason": "x"},
     "payload.lines.1.price"),
    ("change_request", {"lines": [{"position": n, "quantity": 1} for n in range(1, 202)], "reason": "x"},
     "payload.lines"),
    ("change_request", {"lines": [{"position": 1, "quantity": 5}]}, "payload.reason"),
    ("change_request", {**CHANGE, "reason": "   "}, "payload.reason"),
    ("change_request", {**CHANGE, "shipping_address": "a" * 2001}, "payload.shipping_address"),
    ("change_request", {**CHANGE, "customer_code": "EVIL"}, "payload.customer_code"),
    ("cancellation", {}, "payload.reason"),
    ("cancellation", {"reason": 42}, "payload.reason"),
    ("cancellation", {"reason": "r" * 2001}, "payload.reason"),
    ("delayed", {"carrier": "DHL"}, "payload.event_id"),
    ("delayed", {"event_id": ""}, "payload.event_id"),
    ("delayed", {"event_id": "has space"}, "payload.event_id"),
    ("delayed", {"event_id": "E" * 51}, "payload.event_id"),
    ("delayed", {"event_id": 17}, "payload.event_id"),
    ("delayed", {"event_id": "E-1", "new_date": "next Tuesday"}, "payload.new_date"),
    ("delayed", {"event_id": "E-1", "new_date": "2026-02-30"}, "payload.new_date"),
    ("delayed", {"event_id": "E-1", "occurred_at": "2026-03-03T09:15:00"}, "payload.occurred_at"),
    ("delayed", {"event_id": "E-1", "occurred_at": "2026-03-03"}, "payload.occurred_at"),
    ("delayed", {"event_id": "E-1", "occurred_at": "yesterday at noon, roughly"}, "payload.occurred_at"),
    ("lost", {"event_id": "E-1", "carrier": "C" * 81}, "payload.carrier"),
    ("lost", {"event_id": "E-1", "weight": 3}, "payload.weight"),
    ("picked_up", {"event_id": "E-1", "reason": "not for a pick-up"}, "payload.reason"),
    ("delivered", {"event_id": "E-1", "received_on": "03/04/2026"}, "payload.received_on"),
    ("payment_failed", {"reference": "PSP-1"}, "payload.reason"),
    ("payment_failed", {"reason": "declined", "reference": "R" * 81}, "payload.reference"),
    ("refund_request", {"reason": "scratched"}, "payload.amount"),
    ("refund_request", {"amount": "-5", "reason": "scratched"}, "payload.amount"),
    ("refund_request", {"amount": "1.234", "reason": "scratched"}, "payload.amount"),
    ("refund_request", {"amount": "lots", "reason": "scratched"}, "payload.amount"),
    ("complaint", {}, "payload.text"),
    ("complaint", {"text": "t" * 4001}, "payload.text"),
    ("complaint", {"text": ["rude"]}, "payload.text"),
])
def test_payload_that_does_not_fit_the_schema_is_422_and_writes_nothing(api, kind, payload, field):
    number = place(api)
    before = written()
    response = api.event(number, kind, payload)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "invalid_request" and field in response.json["details"], response.json
    assert written() == before


@pytest.mark.parametrize("body", [
    {"type": "parcel_eaten"}, {"type": "lost", "payload": "lost"}, {"type": "lost", "payload": None},
    {"type": "complaint", "payload": {"text": "x"}, "severity": "critical"}, {"payload": {"text": "x"}},
    {"type": ["complaint"]},
])
def test_event_body_that_does_not_fit_is_422(api, body):
    number = place(api)
    before = written()
    response = api.post(f"/api/v1/orders/{number}/events", body)
    assert response.status_code == 422 and response.json["error"] == "invalid_request", response.json
    assert written() == before


@pytest.mark.parametrize(("stage", "kind", "payload", "field"), [
    ("review", "change_request", {"lines": [{"position": 3, "quantity": 5}], "reason": "x"},
     "payload.lines.1.position"),
    ("review", "change_request", {"lines": [{"position": 1, "sku": "NOPE-1"}], "reason": "x"}, "payload.lines.1.sku"),
    ("review", "change_request", {"lines": [{"position": 1, "sku": "OLD-1"}], "reason": "x"}, "payload.lines.1.sku"),
    ("shipped", "change_request", {"lines": [{"position": 1, "quantity": 39}], "reason": "x"},
     "payload.lines.1.quantity"),
    ("shipped", "change_request", {"lines": [{"position": 2, "sku": "NUT-M8"}], "reason": "x"},
     "payload.lines.1.sku"),
    ("review", "refund_request", {"amount": "0.01", "reason": "nothing was paid"}, "payload.amount"),
    ("completed", "refund_request", {"amount": "0.00", "reason": "nothing at all"}, "payload.amount"),
    ("completed", "refund_request", {"amount": "200.01", "reason": "more than paid"}, "payload.amount"),
    ("shipped", "lost", {"event_id": "E-1", "tracking_number": "NOT-OURS"}, "payload.tracking_number"),
    ("shipped", "delivered", {"event_id": "E-1", "tracking_number": "NOT-OURS"}, "payload.tracking_number"),
])
def test_payload_the_order_refuses_is_422_by_field_and_writes_nothing(api, stage, kind, payload, field):
    number = place(api)
    if stage in ("shipped", "completed"):
        ship(number)
    if stage == "completed":
        receive(api, number)
        pay(api, number)
    before = written()
    response = api.event(number, kind, payload)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "invalid_order" and field in response.json["details"], response.json
    assert written() == before


@pytest.mark.parametrize(("data", "content_type", "status", "error"), [
    ('{"type": "complaint", ', "application/json", 400, "malformed_json"),
    ('{"type": "complaint", "payload": {"text": NaN}}', "application/json", 400, "malformed_json"),
    (b'{"type": "complaint", "payload": {"text": "\xff"}}', "application/json", 400, "malformed_json"),
    ("{" * 50_000, "application/json", 400, "malformed_json"),
    ("", "application/json", 400, "malformed_json"),
    ("type=complaint", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ('{"type": "complaint", "payload": {"text": "' + "x" * (300 * 1024) + '"}}', "application/json", 413,
     "payload_too_large"),
])
def test_unreadable_event_is_refused_and_writes_nothing(api, data, content_type, status, error):
    number = place(api)
    before = written()
    response = api.raw(f"/api/v1/orders/{number}/events", data, content_type)
    assert response.status_code == status
    assert response.json["error"] == error and response.json["details"] == {}
    assert written() == before


def test_unknown_order_is_404_and_writes_nothing(api):
    before = written()
    for response in (api.event("SO-2026-999999", "complaint", {"text": "where is it?"}),
                     api.event("SO-2026-999999", "lost", SHIPPED),
                     api.get("/api/v1/orders/SO-2026-999999/exceptions"),
                     api.get("/api/v1/orders/SO-2026-999999/exceptions/EX-2026-000001")):
        assert response.status_code == 404
        assert response.json["error"] == "not_found" and "SO-2026-999999" in response.json["message"]
    assert written() == before


@pytest.mark.parametrize(("method", "url"), [("get", "/api/v1/orders/SO-2026-000001/exceptions"),
                                             ("get", "/api/v1/orders/SO-2026-000001/exceptions/EX-2026-000001"),
                                             ("post", "/api/v1/orders/SO-2026-000001/events")])
def test_exception_endpoints_need_a_token(shop, client, method, url):
    response = getattr(client, method)(url, json={"type": "complaint", "payload": {"text": "x"}})
    assert response.status_code == 401 and response.json["error"] == "unauthorized"


# Reading an order's cases ------------------------------------------------------------------------


def test_an_orders_exceptions_are_listed_whoever_raised_them(api):
    number = place(api)
    other = place(api)
    api.event(other, "complaint", {"text": "not this order"})
    # The order process raises a stockout itself when stock runs short at reservation.
    db.session.scalars(select(Product).where(Product.sku == "VALVE-2")).one().on_hand = 1
    db.session.commit()
    do(number, "review_order", {"approved": True})
    complaint = api.event(number, "complaint", {"text": "slow answers"}).json["exception"]
    response = api.get(f"/api/v1/orders/{number}/exceptions")
    assert response.status_code == 200
    listed = response.json["exceptions"]
    assert response.json["order"] == number
    assert [(c["type"], c["source"], c["reported_by"], c["blocking"]) for c in listed] == [
        ("stockout", "process", "process", True), ("complaint", "api", "api:webshop", False)]
    assert listed[1] == complaint
    assert set(listed[0]) == {"number", "type", "family", "severity", "status", "blocking", "source", "reported_by",
                              "description", "created_at", "closed_at", "resolution_code", "links"}
    one = api.get(listed[0]["links"]["self"])
    assert one.status_code == 200 and one.json == listed[0]
    elsewhere = api.get(f"/api/v1/orders/{other}/exceptions/{listed[0]['number']}")
    assert elsewhere.status_code == 404 and elsewhere.json["error"] == "not_found"
    assert api.get(f"/api/v1/orders/{other}/exceptions").json["exceptions"][0]["type"] == "complaint"


def test_a_closed_case_shows_its_outcome(api):
    number = place(api)
    case = api.event(number, "cancellation", {"reason": "ordered twice"}).json["exception"]["number"]
    handle(case, "cancel_order")
    listed = api.get(f"/api/v1/orders/{number}/exceptions").json["exceptions"]
    assert [(c["number"], c["status"], c["resolution_code"], c["closed_at"]) for c in listed] == [
        (case, "closed", "fixed", START.isoformat())]


def test_every_event_type_has_a_payload_schema_and_a_handler():
    from app.api import schemas
    from app.exceptions import intake as partner_events
    from app.orders import intake

    assert set(schemas.PAYLOADS) == set(intake.EVENTS) | set(partner_events.EVENTS)
    assert not set(intake.EVENTS) & set(partner_events.EVENTS)
    assert all(schema["additionalProperties"] is False for schema in schemas.PAYLOADS.values())
