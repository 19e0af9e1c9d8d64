"""Cancellations of one order reported at the same moment over real HTTP (a threaded server): exactly one
raises a case, every other is refused 409 cancellation_pending. On SQLite and on PostgreSQL."""

import json

import pytest
from sqlalchemy import select

from app.exceptions.models import ExceptionCase
from app.extensions import db
from tests.api.shop import place
from tests.support import all_at_once, http_post

PARALLEL = 8


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


def test_cancellations_reported_at_once_raise_one_case(api, live_server, backend):
    number = place(api)
    headers = {**api.headers, "Content-Type": "application/json"}

    def send(index: int) -> tuple[int, dict, bytes]:
        body = json.dumps({"type": "cancellation", "payload": {"reason": f"sent by till {index}"}}).encode()
        return http_post(live_server, f"/api/v1/orders/{number}/events", headers, body)

    answers = all_at_once(PARALLEL, send)
    assert all(isinstance(answer, tuple) for answer in answers), answers

    raised = [json.loads(data) for status, _headers, data in answers if status == 201]
    refused = [json.loads(data) for status, _headers, data in answers if status == 409]
    assert (len(raised), len(refused)) == (1, PARALLEL - 1), answers
    case_number = raised[0]["exception"]["number"]
    assert all(body["error"] == "cancellation_pending" and case_number in body["message"] for body in refused)

    db.session.expire_all()
    cases = db.session.scalars(select(ExceptionCase.number).where(ExceptionCase.type == "cancellation")).all()
    assert cases == [case_number]
