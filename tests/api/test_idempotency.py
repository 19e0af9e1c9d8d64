"""Idempotency-Key on POST: a retry gets the first answer byte for byte and creates nothing twice; the
key used for another request is 422; a refusal is kept, a server error is not; keys expire."""

from datetime import timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from app import clock
from app.api import idempotency
from app.api.models import ApiClient, IdempotencyRecord
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.orders import intake
from app.orders.models import Order
from app.scheduler import _add_job
from app.workflow.errors import NotFound
from tests.api.shop import START, new_token, place
from tests.api.shop import Api as PlainApi

ORDER = {"customer_code": "GOOD", "lines": [{"sku": "BOLT-M8", "quantity": 4}], "remarks": "gate 2"}


class Api:
    """A client whose POSTs may carry an Idempotency-Key."""

    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def post(self, url: str, body=None, key: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        if "data" in kwargs:
            return self.client.post(url, headers=headers, content_type="application/json", **kwargs)
        return self.client.post(url, json=body, headers=headers, **kwargs)


@pytest.fixture
def api(shop, client) -> Api:
    return Api(client, new_token())


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_post_without_a_key_is_answered_as_always(api):
    assert api.post("/api/v1/orders", ORDER).status_code == 201
    assert api.post("/api/v1/orders", ORDER).status_code == 201
    assert (count(Order), count(IdempotencyRecord)) == (2, 0)


def test_a_retry_replays_the_first_answer_byte_for_byte(api):
    first = api.post("/api/v1/orders", ORDER, key="order-0001")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    # the same request, its JSON written differently: keys in another order, other spacing
    same = b'{ "remarks": "gate 2",\n  "lines": [{"quantity": 4, "sku": "BOLT-M8"}], "customer_code": "GOOD" }'
    for retry in (api.post("/api/v1/orders", ORDER, key="order-0001"),
                  api.post("/api/v1/orders", data=same, key="order-0001")):
        assert retry.status_code == 201 and retry.data == first.data
        assert retry.headers["Location"] == first.headers["Location"] == "/api/v1/orders/SO-2026-000001"
        assert retry.headers["Content-Type"] == first.headers["Content-Type"] == "application/json"
        assert retry.headers["Idempotent-Replayed"] == "true"
    assert count(Order) == 1
    record = db.session.scalars(select(IdempotencyRecord)).one()
    assert (record.status, record.response_body.encode(), record.completed_at) == (201, first.data, START)
    assert record.response_headers == {"Location": "/api/v1/orders/SO-2026-000001", "Content-Type": "application/json"}


def test_an_event_sent_again_with_its_key_raises_one_case(api):
    number = place(PlainApi(api.client, api.token))
    complaint = {"type": "complaint", "payload": {"text": "Two valves arrived scratched."}}
    first = api.post(f"/api/v1/orders/{number}/events", complaint, key="complaint-1")
    again = api.post(f"/api/v1/orders/{number}/events", complaint, key="complaint-1")
    assert (first.status_code, again.status_code, again.data) == (201, 201, first.data)
    assert again.headers["Location"] == first.headers["Location"] and again.headers["Idempotent-Replayed"] == "true"
    assert count(ExceptionCase) == 1


@pytest.mark.parametrize(("url", "body"), [
    ("/api/v1/orders", {**ORDER, "remarks": "gate 3"}),  # another body
    ("/api/v1/orders/SO-2026-000001/events", ORDER),  # another path
])
def test_the_key_of_another_request_is_refused_and_nothing_is_written(api, url, body):
    first = api.post("/api/v1/orders", ORDER, key="k-1")
    refused = api.post(url, body, key="k-1")
    assert refused.status_code == 422 and "Idempotent-Replayed" not in refused.headers
    assert refused.json == {"error": "idempotency_key_reused",
                            "message": "this Idempotency-Key was used for a different request; use a new key",
                            "details": {"Idempotency-Key": "k-1"}}
    assert (count(Order), count(ExceptionCase)) == (1, 0)
    assert api.post("/api/v1/orders", ORDER, key="k-1").data == first.data  # the first answer still stands


def test_keys_belong_to_their_client(api, client):
    other = Api(client, new_token("other-shop"))
    assert api.post("/api/v1/orders", ORDER, key="same-key").json["number"] == "SO-2026-000001"
    assert other.post("/api/v1/orders", ORDER, key="same-key").json["number"] == "SO-2026-000002"


def test_a_refusal_is_kept_and_replayed(api):
    unknown = {**ORDER, "customer_code": "NEWCO"}
    first = api.post("/api/v1/orders", unknown, key="k-404")
    assert first.status_code == 422 and first.json["error"] == "invalid_order"
    db.session.execute(db.text("UPDATE customer SET code = 'NEWCO' WHERE code = 'QUIET'"))
    db.session.commit()  # the refusal's cause is gone, but the key's answer is the refusal
    again = api.post("/api/v1/orders", unknown, key="k-404")
    assert (again.status_code, again.data, again.headers["Idempotent-Replayed"]) == (422, first.data, "true")
    assert count(Order) == 0
    assert api.post("/api/v1/orders", unknown, key="k-405").status_code == 201  # a new key is a new request


def test_after_a_server_error_the_key_is_free_for_a_retry(api, monkeypatch):
    real = intake.place_order

    def not_deployed(*_args, **_kwargs):
        raise NotFound("no process order_process is deployed")

    monkeypatch.setattr(intake, "place_order", not_deployed)
    failed = api.post("/api/v1/orders", ORDER, key="k-503")
    assert failed.status_code == 503 and count(IdempotencyRecord) == 0
    monkeypatch.setattr(intake, "place_order", real)
    retried = api.post("/api/v1/orders", ORDER, key="k-503")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert count(Order) == 1


def test_after_an_exception_nobody_handled_the_key_is_free_for_a_retry(api, monkeypatch):
    real = intake.place_order

    def crash(*_args, **_kwargs):
        raise RuntimeError("connection reset")

    monkeypatch.setattr(intake, "place_order", crash)
    with pytest.raises(RuntimeError):  # TESTING propagates it; in production the 500 page answers
        api.post("/api/v1/orders", ORDER, key="k-crash")
    assert count(IdempotencyRecord) == 0
    monkeypatch.setattr(intake, "place_order", real)
    assert api.post("/api/v1/orders", ORDER, key="k-crash").status_code == 201


def in_flight(app, client_name: str, key: str, body: dict) -> None:
    """A record as the first request leaves it while it works: committed, no answer yet."""
    with app.test_request_context("/api/v1/orders", method="POST", json=body):
        fingerprint = idempotency.request_hash()
    owner = db.session.scalar(select(ApiClient.id).where(ApiClient.name == client_name))
    db.session.add(IdempotencyRecord(client_id=owner, key=key, request_hash=fingerprint, response_headers={}))
    db.session.commit()


def test_a_retry_while_the_first_is_still_at_work_is_told_to_come_back(api, app):
    in_flight(app, "webshop", "k-busy", ORDER)
    busy = api.post("/api/v1/orders", ORDER, key="k-busy")
    assert (busy.status_code, busy.json["error"], busy.headers["Retry-After"]) == (409, "request_in_progress", "1")
    other = api.post("/api/v1/orders", {**ORDER, "remarks": "other"}, key="k-busy")
    assert other.status_code == 422 and other.json["error"] == "idempotency_key_reused"
    assert count(Order) == 0 and db.session.scalar(select(IdempotencyRecord.status)) is None


@pytest.mark.parametrize("app_config", [{"API_IDEMPOTENCY_ABANDONED_MINUTES": 10}])
def test_a_key_whose_first_request_died_unanswered_is_taken_afresh_later(api, app):
    in_flight(app, "webshop", "k-died", ORDER)  # its worker was killed before it answered
    clock.freeze(START + timedelta(minutes=9, seconds=59))
    assert api.post("/api/v1/orders", ORDER, key="k-died").status_code == 409  # may still be at work
    clock.freeze(START + timedelta(minutes=10, seconds=1))
    retried = api.post("/api/v1/orders", ORDER, key="k-died")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert api.post("/api/v1/orders", ORDER, key="k-died").headers["Idempotent-Replayed"] == "true"
    assert count(Order) == 1 and count(IdempotencyRecord) == 1


@pytest.mark.parametrize("app_config", [{"API_IDEMPOTENCY_ABANDONED_MINUTES": 10}])
def test_an_answered_key_is_never_taken_as_abandoned(api):
    first = api.post("/api/v1/orders", ORDER, key="k-done")
    clock.freeze(START + timedelta(hours=2))
    again = api.post("/api/v1/orders", ORDER, key="k-done")
    assert again.headers["Idempotent-Replayed"] == "true" and again.data == first.data
    assert count(Order) == 1


@pytest.mark.parametrize("app_config", [{"API_IDEMPOTENCY_HOURS": 24}])
def test_a_key_expires_after_the_configured_hours(api, runner):
    assert api.post("/api/v1/orders", ORDER, key="k-old").status_code == 201
    clock.freeze(START + timedelta(hours=23, minutes=59))
    assert api.post("/api/v1/orders", ORDER, key="k-old").headers["Idempotent-Replayed"] == "true"
    clock.freeze(START + timedelta(hours=24, seconds=1))
    fresh = api.post("/api/v1/orders", ORDER, key="k-old")  # an expired key is a new key
    assert fresh.status_code == 201 and fresh.json["number"] == "SO-2026-000002"
    assert "Idempotent-Replayed" not in fresh.headers
    assert count(Order) == 2 and count(IdempotencyRecord) == 1


@pytest.mark.parametrize("app_config", [{"API_IDEMPOTENCY_HOURS": 1}])
def test_purge_keys_deletes_the_expired_records(api, runner):
    api.post("/api/v1/orders", ORDER, key="k-a")
    clock.freeze(START + timedelta(minutes=30))
    api.post("/api/v1/orders", ORDER, key="k-b")
    clock.freeze(START + timedelta(minutes=61))
    result = runner.invoke(args=["api-clients", "purge-keys"])
    assert result.exit_code == 0 and "1 expired Idempotency-Key record(s) deleted" in result.output
    assert list(db.session.scalars(select(IdempotencyRecord.key))) == ["k-b"]


@pytest.mark.parametrize("app_config", [{"API_IDEMPOTENCY_HOURS": 1}])
def test_the_scheduler_deletes_expired_records_every_hour(api, app):
    scheduler = BackgroundScheduler()
    _add_job(scheduler, app)
    job = scheduler.get_job("purge-idempotency-keys")
    assert job is not None and job.trigger.interval == timedelta(hours=1)
    api.post("/api/v1/orders", ORDER, key="k-a")
    clock.freeze(START + timedelta(minutes=30))
    api.post("/api/v1/orders", ORDER, key="k-b")
    clock.freeze(START + timedelta(minutes=61))
    job.func(*job.args)
    db.session.expire_all()
    assert list(db.session.scalars(select(IdempotencyRecord.key))) == ["k-b"]


@pytest.mark.parametrize("key", ["", " ", "two words", "x" * 201, "clé", "tab\there"])
def test_a_malformed_key_is_400_and_nothing_is_written(api, key):
    response = api.post("/api/v1/orders", ORDER, key=key)
    assert response.status_code == 400 and response.json["error"] == "invalid_idempotency_key"
    assert response.json["details"] == {"Idempotency-Key": "1 to 200 visible ASCII characters (no spaces)"}
    assert (count(Order), count(IdempotencyRecord)) == (0, 0)


def test_the_longest_key_is_taken(api):
    key = "k" * 200
    assert api.post("/api/v1/orders", ORDER, key=key).status_code == 201
    assert api.post("/api/v1/orders", ORDER, key=key).headers["Idempotent-Replayed"] == "true"


def test_a_key_on_a_read_is_ignored(api, client):
    response = client.get("/api/v1/orders/SO-1", headers={"Authorization": f"Bearer {api.token}",
                                                          "Idempotency-Key": "two words"})
    assert response.status_code == 404 and count(IdempotencyRecord) == 0
