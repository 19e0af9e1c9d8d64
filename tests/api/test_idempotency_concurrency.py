"""Must show: 20 identical POST /api/v1/orders with one Idempotency-Key, sent at the same moment over
real HTTP to a threaded server, make exactly one order. Every answer is that order (201, the first or a
replay of it) or 409 request_in_progress. On SQLite and on PostgreSQL."""

import json

import pytest
from sqlalchemy import func, select

from app.api.models import ApiCall, IdempotencyRecord
from app.extensions import db
from app.orders.models import Order
from app.workflow.models import ProcessInstance
from tests.api.shop import new_token
from tests.support import all_at_once, http_post

PARALLEL = 20
ORDER = {"customer_code": "GOOD", "lines": [{"sku": "BOLT-M8", "quantity": 40}, {"sku": "VALVE-2", "quantity": 2}],
         "requested_date": "2026-04-01"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


def post(base: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
    return http_post(base, "/api/v1/orders", headers, body)


def test_twenty_identical_posts_with_one_key_make_one_order(shop, live_server, backend):
    headers = {"Authorization": f"Bearer {new_token()}", "Content-Type": "application/json",
               "Idempotency-Key": f"checkout-{backend}-7f3a"}
    body = json.dumps(ORDER).encode()
    answers = all_at_once(PARALLEL, lambda _index: post(live_server, headers, body))
    assert all(isinstance(answer, tuple) for answer in answers), answers

    created = [a for a in answers if a[0] == 201]
    waiting = [a for a in answers if a[0] == 409]
    assert len(created) + len(waiting) == PARALLEL, [(status, data) for status, _h, data in answers]
    firsts = [a for a in created if "Idempotent-Replayed" not in a[1]]
    assert len(firsts) == 1, "exactly one request did the work"
    number = json.loads(firsts[0][2])["number"]
    assert all(data == firsts[0][2] and h["Location"] == f"/api/v1/orders/{number}" for _s, h, data in created)
    assert all(answer[1]["Idempotent-Replayed"] == "true" for answer in created if answer is not firsts[0])
    for _status, response_headers, data in waiting:
        assert json.loads(data)["error"] == "request_in_progress" and response_headers["Retry-After"] == "1"

    db.session.expire_all()
    assert db.session.scalars(select(Order.number)).all() == [number]
    assert db.session.scalar(select(func.count(ProcessInstance.id)).where(ProcessInstance.business_key == number)) == 1
    record = db.session.scalars(select(IdempotencyRecord)).one()
    assert record.status == 201 and record.response_body.encode() == firsts[0][2]
    assert db.session.scalar(select(func.count(ApiCall.id))) == PARALLEL  # every one of them audited

    late = post(live_server, headers, body)  # a retry after the storm: the order, replayed
    assert (late[0], late[2], late[1]["Idempotent-Replayed"]) == (201, firsts[0][2], "true")
