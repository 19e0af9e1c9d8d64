"""POST /api/v1/orders/<number>/exceptions/<case>/resolve: an API client resolves a case as the owning
team would, through the case's *Resolve exception* task: the playbook acts on the order, a refund
waits for approval, the case closes and the order's process hears the outcome. A case that is not
waiting for its resolution, an action outside the playbook, or a bad body is refused; nothing is written."""

import json

import pytest
from sqlalchemy import select

from app.accounts.service import create_user
from app.billing.models import CreditNote, Refund
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.notifications.models import OutboxMessage
from app.workflow import inbox
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance
from tests.api.shop import Api, case_row, counts, do, new_token, open_task, order_row, place, ship, triage

TABLES = (ExceptionCase, InstanceEvent, HumanTask, OutboxMessage, CreditNote, Refund)


def resolve_url(number: str, case: str) -> str:
    return f"/api/v1/orders/{number}/exceptions/{case}/resolve"


def raise_case(api: Api, number: str, kind: str = "complaint", payload: dict | None = None) -> str:
    payload = payload or {"text": "The valves arrived scratched."}
    response = api.event(number, kind, payload)
    assert response.status_code == 201, response.json
    return response.json["exception"]["number"]


def state(case: str) -> dict:
    """What a refused request must leave as it was: the rows, the case, its process."""
    instance = db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == case)).one()
    row = case_row(case)
    return {**counts(*TABLES), "case": (row.status, row.action, row.resolution), "version": instance.lock_version}


@pytest.fixture
def complaint(api) -> tuple[str, str]:
    """An order with a complaint the customer service team has triaged: it waits for its resolution."""
    number = place(api)
    case = raise_case(api, number)
    triage(case)
    return number, case


def test_a_complaint_resolved_through_the_api_is_closed_and_audited(api, complaint):
    number, case = complaint
    response = api.post(resolve_url(number, case), {"action": "no_compensation", "resolution": "Scratches are "
                        "cosmetic; the valves work as specified.", "root_cause": "packing"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "closed" and response.json["resolution_code"] == "fixed"
    assert response.json["links"]["self"] == f"/api/v1/orders/{number}/exceptions/{case}"
    row = case_row(case)
    assert (row.action, row.root_cause, row.resolution) == (
        "no_compensation", "packing", "Scratches are cosmetic; the valves work as specified.")
    task = db.session.scalars(select(HumanTask).where(HumanTask.business_key == case,
                                                      HumanTask.form_key == "resolve_exception")).one()
    assert (task.state, task.completed_by) == ("completed", "api:webshop")
    instance = db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == case)).one()
    assert instance.status == "completed"
    assert api.get(f"/api/v1/orders/{number}/exceptions/{case}").json["status"] == "closed"


def test_a_cancellation_resolved_through_the_api_cancels_the_order(api):
    number = place(api)
    case = raise_case(api, number, "cancellation", {"reason": "ordered twice"})
    assert order_row(number).status == "on_hold"
    triage(case)
    response = api.post(resolve_url(number, case), {"action": "cancel_order", "resolution": "Cancelled as asked."})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "closed"
    order = api.get(f"/api/v1/orders/{number}").json
    assert order["statuses"]["order"] == "cancelled"
    order_process = db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == number)).one()
    assert order_process.status == "completed" and order_process.held_by is None


def test_a_refund_waits_for_approval_and_then_the_case_is_not_resolvable_again(api):
    number = place(api)
    ship(number)
    assert api.event(number, "goods_received", {"signed_by": "Dock 4"}).status_code == 200
    assert api.event(number, "payment_received", {"amount": "200.00", "method": "bank_transfer"}).status_code == 200
    case = raise_case(api, number)
    triage(case)
    response = api.post(resolve_url(number, case), {"action": "compensate_refund", "amount": 30,
                                                    "resolution": "We refund 30.00 for the scratches."})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "in_progress"
    refund = db.session.scalars(select(Refund)).one()
    assert (str(refund.amount), refund.status) == ("30.00", "requested")
    assert open_task(case).element_id == "approve_refund_finance"
    again = api.post(resolve_url(number, case), {"action": "no_compensation", "resolution": "twice"})
    assert again.status_code == 409
    assert again.json["error"] == "not_resolvable" and again.json["details"] == {
        "waits_for": ["approve_refund_finance"]}


def test_a_case_still_in_triage_is_409_and_nothing_is_written(api):
    number = place(api)
    case = raise_case(api, number)
    before = state(case)
    response = api.post(resolve_url(number, case), {"action": "no_compensation", "resolution": "done"})
    assert response.status_code == 409
    assert response.json == {"error": "not_resolvable", "details": {"waits_for": ["triage"]},
                             "message": f"{case} cannot be resolved now: it waits for 'Triage exception'"}
    assert state(case) == before


def test_a_closed_case_is_409(api, complaint):
    number, case = complaint
    body = {"action": "no_compensation", "resolution": "done"}
    assert api.post(resolve_url(number, case), body).status_code == 200
    before = state(case)
    response = api.post(resolve_url(number, case), body)
    assert response.status_code == 409
    assert response.json["error"] == "exception_closed"
    assert state(case) == before


def test_a_case_a_member_of_staff_claimed_is_409(api, complaint):
    number, case = complaint
    carol = create_user("carol", "Carol", "secret-pass", ["customer_service"])
    inbox.claim(open_task(case).id, carol)
    db.session.commit()
    before = state(case)
    response = api.post(resolve_url(number, case), {"action": "no_compensation", "resolution": "done"})
    assert response.status_code == 409 and response.json["error"] == "claimed"
    assert state(case) == before


@pytest.mark.parametrize(("body", "error", "field"), [
    ({"action": "reship", "resolution": "sent again"}, "invalid_resolution", "action"),  # not a complaint's remedy
    ({"action": "compensate_credit", "amount": "20.00", "resolution": "credited"}, "invalid_resolution", "amount"),
    ({"action": "no_compensation"}, "invalid_request", "resolution"),
    ({"action": "no_compensation", "resolution": "   "}, "invalid_request", "resolution"),
    ({"action": "fly_away", "resolution": "done"}, "invalid_request", "action"),
    ({"action": "no_compensation", "resolution": "done", "mood": "grumpy"}, "invalid_request", "mood"),
    ({"action": "no_compensation", "resolution": "done", "line": "two"}, "invalid_request", "line"),
    ({"action": "no_compensation", "resolution": "done", "resolution_code": "gone"}, "invalid_request",
     "resolution_code"),
    ({"action": "no_compensation", "resolution": "done", "amount": -5}, "invalid_request", "amount"),
    (["no_compensation"], "invalid_request", "body"),
])
def test_a_resolution_that_does_not_fit_is_422_by_field_and_writes_nothing(api, complaint, body, error, field):
    number, case = complaint
    before = state(case)
    response = api.post(resolve_url(number, case), body)
    assert response.status_code == 422, response.json
    assert response.json["error"] == error and field in response.json["details"], response.json
    assert state(case) == before


@pytest.mark.parametrize(("data", "content_type", "status", "error"), [
    (b'{"action": "no_compensation", "resolution": ', "application/json", 400, "malformed_json"),
    (b'{"action": "no_compensation", "resolution": NaN}', "application/json", 400, "malformed_json"),
    (b"action=no_compensation", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (json.dumps({"action": "no_compensation", "resolution": "x" * 300_000}).encode(), "application/json", 413,
     "payload_too_large"),
])
def test_an_unreadable_resolution_is_refused_and_writes_nothing(api, complaint, data, content_type, status, error):
    number, case = complaint
    before = state(case)
    response = api.raw(resolve_url(number, case), data, content_type)
    assert (response.status_code, response.json["error"]) == (status, error)
    assert state(case) == before


@pytest.mark.parametrize("path", ["SO-2026-999999/exceptions/EX-2026-000001", "SO-2026-000001/exceptions/EX-2026-9",
                                  "SO-2026-000002/exceptions/EX-2026-000001"])
def test_an_unknown_order_or_case_or_anothers_case_is_404(api, complaint, path):
    place(api)  # SO-2026-000002, which has no case
    _number, case = complaint
    before = state(case)
    response = api.post(f"/api/v1/orders/{path}/resolve", {"action": "no_compensation", "resolution": "done"})
    assert response.status_code == 404 and response.json["error"] == "not_found"
    assert state(case) == before


def test_resolving_needs_the_exceptions_write_scope(api, complaint, client):
    number, case = complaint
    reader = Api(client, new_token("reader", scopes="orders:read exceptions:read"))
    before = state(case)
    response = reader.post(resolve_url(number, case), {"action": "no_compensation", "resolution": "done"})
    assert response.status_code == 403
    assert state(case) == before


def test_the_api_and_staff_resolve_through_the_same_task(api, complaint):
    """After the API refused a bad resolution, a member of staff still finds the task open and can do it."""
    number, case = complaint
    assert api.post(resolve_url(number, case), {"action": "reship", "resolution": "no"}).status_code == 422
    do(case, "resolve_customer_service", {"action": "no_compensation", "resolution": "done by staff"}, by="rita")
    assert case_row(case).status == "closed"
