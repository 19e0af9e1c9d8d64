"""Bad input to any call of the document: malformed JSON, wrong types, unknown fields, huge bodies,
unknown order numbers, events the order cannot take now. Each is answered with a status the document
lists for that call and a body that fits its Error schema, and nothing is written."""

import json

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from app.billing.models import CreditNote, Invoice, Payment, Refund
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.fulfilment.models import CarrierEvent, Shipment
from app.notifications.models import OutboxMessage
from app.numbering import NumberSequence
from app.orders.models import Order, OrderLine
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance
from tests.api.shop import Api, counts, place, triage

TABLES = (Order, OrderLine, ProcessInstance, HumanTask, InstanceEvent, ExceptionCase, CarrierEvent, Shipment,
          OutboxMessage, Invoice, Payment, Refund, CreditNote, NumberSequence)
ORDER, CASE = "SO-2026-000001", "EX-2026-000001"
CREATE, EVENTS = "/api/v1/orders", f"/api/v1/orders/{ORDER}/events"
RESOLVE = f"/api/v1/orders/{ORDER}/exceptions/{CASE}/resolve"
TEMPLATES = {CREATE: "/api/v1/orders", EVENTS: "/api/v1/orders/{number}/events",
             RESOLVE: "/api/v1/orders/{number}/exceptions/{case_number}/resolve"}
VALID = {
    CREATE: {"customer_code": "GOOD", "lines": [{"sku": "BOLT-M8", "quantity": 1}]},
    EVENTS: {"type": "complaint", "payload": {"text": "scratched"}},
    RESOLVE: {"action": "no_compensation", "resolution": "done"},
}
WRONG_TYPES = {
    CREATE: {"customer_code": 5, "lines": "many"},
    EVENTS: {"type": 5, "payload": []},
    RESOLVE: {"action": 5, "resolution": ["done"]},
}


@pytest.fixture
def seeded(api) -> Api:
    """SO-2026-000001 in review, with a triaged complaint (EX-2026-000001) waiting for its resolution."""
    assert place(api) == ORDER
    assert api.event(ORDER, "complaint", {"text": "scratched"}).json["exception"]["number"] == CASE
    triage(CASE)
    return api


@pytest.fixture
def document(client) -> dict:
    return client.get("/api/v1/openapi.json").json


def written() -> dict:
    versions = db.session.scalar(select(func.coalesce(func.sum(ProcessInstance.lock_version), 0)))
    return {**counts(*TABLES), "versions": versions,
            "order": db.session.scalar(select(Order.status).where(Order.number == ORDER))}


def check_refusal(document: dict, method: str, template: str, response, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert str(status) in document["paths"][template][method]["responses"], f"{status} is not documented"
    error = Draft202012Validator({"$ref": "#/components/schemas/Error", "components": document["components"]})
    assert not list(error.iter_errors(response.json)), response.json


BAD_BODIES = [
    ("malformed JSON", lambda url: (b'{"lines": [', "application/json"), 400),
    ("NaN", lambda url: (b'{"amount": NaN}', "application/json"), 400),
    ("not UTF-8", lambda url: (b'{"text": "\xff"}', "application/json"), 400),
    ("a list, not an object", lambda url: (b"[1, 2]", "application/json"), 422),
    ("a bare number", lambda url: (b"42", "application/json"), 422),
    ("wrong types", lambda url: (json.dumps(WRONG_TYPES[url]).encode(), "application/json"), 422),
    ("an unknown field", lambda url: (json.dumps({**VALID[url], "surprise": 1}).encode(), "application/json"), 422),
    ("a form, not JSON", lambda url: (b"customer_code=GOOD", "application/x-www-form-urlencoded"), 415),
    ("a huge body", lambda url: (json.dumps({**VALID[url], "remarks": "x" * 300_000}).encode(), "application/json"),
     413),
]


@pytest.mark.parametrize("url", [CREATE, EVENTS, RESOLVE])
@pytest.mark.parametrize(("what", "make", "status"), BAD_BODIES, ids=[bad[0] for bad in BAD_BODIES])
def test_a_bad_body_is_refused_as_documented_and_writes_nothing(seeded, document, url, what, make, status):
    before = written()
    data, content_type = make(url)
    response = seeded.raw(url, data, content_type)
    check_refusal(document, "post", TEMPLATES[url], response, status)
    if what == "an unknown field":
        assert "surprise" in response.json["details"]
    assert written() == before


@pytest.mark.parametrize(("method", "url", "template"), [
    ("get", "/api/v1/orders/SO-2026-999999", "/api/v1/orders/{number}"),
    ("get", "/api/v1/orders/SO-2026-999999/exceptions", "/api/v1/orders/{number}/exceptions"),
    ("get", f"/api/v1/orders/{ORDER}/exceptions/EX-2026-999999", "/api/v1/orders/{number}/exceptions/{case_number}"),
    ("get", "/api/v1/customers/NOBODY/orders", "/api/v1/customers/{code}/orders"),
    ("post", "/api/v1/orders/SO-2026-999999/events", "/api/v1/orders/{number}/events"),
    ("post", f"/api/v1/orders/SO-2026-999999/exceptions/{CASE}/resolve",
     "/api/v1/orders/{number}/exceptions/{case_number}/resolve"),
])
def test_an_unknown_order_case_or_customer_is_404_and_writes_nothing(seeded, document, method, url, template):
    before = written()
    body = VALID.get(url.replace("SO-2026-999999", ORDER))
    response = seeded.post(url, body) if method == "post" else seeded.get(url)
    check_refusal(document, method, template, response, 404)
    assert written() == before


@pytest.mark.parametrize(("url", "body", "error"), [
    (EVENTS, {"type": "picked_up", "payload": {"event_id": "PU-1"}}, "not_shipped"),
    (EVENTS, {"type": "lost", "payload": {"event_id": "LOST-1", "reason": "gone"}}, "not_shipped"),
    (RESOLVE.replace(CASE, "EX-2026-000002"), VALID[RESOLVE], "not_resolvable"),  # still in triage
])
def test_what_the_order_cannot_take_now_is_409_and_writes_nothing(seeded, document, url, body, error):
    if "EX-2026-000002" in url:
        assert seeded.event(ORDER, "complaint", {"text": "and late"}).status_code == 201
    before = written()
    response = seeded.post(url, body)
    template = TEMPLATES[EVENTS] if url == EVENTS else TEMPLATES[RESOLVE]
    check_refusal(document, "post", template, response, 409)
    assert response.json["error"] == error
    assert written() == before
