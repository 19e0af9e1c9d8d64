"""Cancellations of one order reported at the same moment over real HTTP (a threaded server): exactly one
raises a case, every other is refused 409 cancellation_pending. On SQLite and on PostgreSQL."""

import http.client
import json
import threading
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.exceptions.models import ExceptionCase
from app.extensions import db
from tests.api.shop import place

PARALLEL = 8


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


def post(base: str, path: str, headers: dict, body: bytes) -> tuple[int, bytes]:
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_cancellations_reported_at_once_raise_one_case(api, live_server, backend):
    number = place(api)
    headers = {**api.headers, "Content-Type": "application/json"}
    start = threading.Barrier(PARALLEL)
    answers: list = [None] * PARALLEL

    def send(index: int) -> None:
        body = json.dumps({"type": "cancellation", "payload": {"reason": f"sent by till {index}"}}).encode()
        start.wait()  # all of them leave together
        try:
            answers[index] = post(live_server, f"/api/v1/orders/{number}/events", headers, body)
        except Exception as error:  # noqa: BLE001 - reported below, with the others' answers
            answers[index] = error

    threads = [threading.Thread(target=send, args=(index,)) for index in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert all(isinstance(answer, tuple) for answer in answers), answers

    raised = [json.loads(data) for status, data in answers if status == 201]
    refused = [json.loads(data) for status, data in answers if status == 409]
    assert (len(raised), len(refused)) == (1, PARALLEL - 1), answers
    case_number = raised[0]["exception"]["number"]
    assert all(body["error"] == "cancellation_pending" and case_number in body["message"] for body in refused)

    db.session.expire_all()
    cases = db.session.scalars(select(ExceptionCase.number).where(ExceptionCase.type == "cancellation")).all()
    assert cases == [case_number]
