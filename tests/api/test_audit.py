"""Every API call of a known client leaves an `api_call` row — answered, refused, rolled back or rate
limited — written after the answer in its own transaction; a failure to write it is logged and the
client still gets its answer."""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.api import audit
from app.api.models import ApiCall, ApiClient
from app.extensions import db
from app.orders import intake
from app.orders.models import Order
from tests.api.shop import START, Api, new_token, place

ORDER = {"customer_code": "GOOD", "lines": [{"sku": "BOLT-M8", "quantity": 4}]}


def calls() -> list[tuple]:
    db.session.expire_all()
    rows = db.session.scalars(select(ApiCall).order_by(ApiCall.id))
    return [(row.client_id, row.method, row.path, row.status, row.idempotency_key, row.replayed) for row in rows]


def client_id(name: str = "webshop") -> int:
    return db.session.scalar(select(ApiClient.id).where(ApiClient.name == name))


def test_answered_calls_are_audited_with_client_status_time_and_duration(shop, client):
    api = Api(client, new_token())
    number = place(api)
    assert api.get(f"/api/v1/orders/{number}").status_code == 200
    assert api.get("/api/v1/orders/SO-2026-999999").status_code == 404
    me = client_id()
    assert calls() == [(me, "POST", "/api/v1/orders", 201, None, False),
                       (me, "GET", f"/api/v1/orders/{number}", 200, None, False),
                       (me, "GET", "/api/v1/orders/SO-2026-999999", 404, None, False)]
    rows = db.session.scalars(select(ApiCall)).all()
    assert {row.at for row in rows} == {START} and all(row.duration_ms >= 0 for row in rows)


def test_a_refused_and_rolled_back_request_is_audited_all_the_same(shop, client):
    api = Api(client, new_token())
    response = api.post("/api/v1/orders", {**ORDER, "lines": [{"sku": "NO-SUCH-SKU", "quantity": 1}]})
    assert response.status_code == 422 and response.json["error"] == "invalid_order"
    assert api.raw("/api/v1/orders", b"{not json").status_code == 400
    assert db.session.scalar(select(func.count(Order.id))) == 0  # the work was rolled back…
    assert [(status, path) for _c, _m, path, status, _k, _r in calls()] == [
        (422, "/api/v1/orders"), (400, "/api/v1/orders")]  # …the audit was not


def test_refusals_before_the_view_are_audited_under_the_client_the_token_names(shop, client, runner):
    reader = Api(client, new_token("reader", "orders:read"))
    assert reader.post("/api/v1/orders", ORDER).status_code == 403
    too_big = reader.raw("/api/v1/orders", b"{}" + b" " * (300 * 1024))
    assert too_big.status_code == 403  # the scope is checked before the body is looked at
    assert runner.invoke(args=["api-clients", "revoke", "reader"]).exit_code == 0
    assert reader.get("/api/v1/orders/SO-1").status_code == 401  # revoked: still known, so audited
    assert Api(client, "not-a-token-of-anyone").get("/api/v1/orders/SO-1").status_code == 401  # unknown: not
    assert client.get("/api/v1/orders/SO-1").status_code == 401
    assert [(c, m, status) for c, m, _p, status, _k, _r in calls()] == [
        (client_id("reader"), "POST", 403), (client_id("reader"), "POST", 403), (client_id("reader"), "GET", 401)]


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "2 per minute"}])
def test_a_rate_limited_call_is_audited(shop, client):
    api = Api(client, new_token())
    statuses = [api.get("/api/v1/orders/SO-1").status_code for _ in range(3)]
    assert statuses == [404, 404, 429]
    assert [status for _c, _m, _p, status, _k, _r in calls()] == [404, 404, 429]


def test_public_pages_are_not_audited(shop, client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert calls() == []


def test_idempotency_keys_and_replays_are_audited(shop, client):
    headers = {"Authorization": f"Bearer {new_token()}", "Idempotency-Key": "order-7"}
    assert client.post("/api/v1/orders", json=ORDER, headers=headers).status_code == 201
    assert client.post("/api/v1/orders", json=ORDER, headers=headers).status_code == 201
    assert client.post("/api/v1/orders", json={**ORDER, "remarks": "x"}, headers=headers).status_code == 422
    assert [(status, key, replayed) for _c, _m, _p, status, key, replayed in calls()] == [
        (201, "order-7", False), (201, "order-7", True), (422, "order-7", False)]


def test_a_failing_audit_is_logged_and_the_answer_stands(shop, client, caplog):
    api = Api(client, new_token())
    ApiCall.__table__.drop(db.engine)  # every audit write fails from here on
    try:
        with caplog.at_level(logging.ERROR):
            response = api.post("/api/v1/orders", ORDER)
        assert response.status_code == 201 and response.json["number"] == "SO-2026-000001"
        assert db.session.scalar(select(func.count(Order.id))) == 1
        assert "could not audit API call POST /api/v1/orders" in caplog.text
        assert api.get("/api/v1/orders/SO-2026-000001").status_code == 200
    finally:
        ApiCall.__table__.create(db.engine)


def test_a_failing_audit_keeps_the_answer_stored_for_the_idempotency_key(shop, client, caplog):
    api = Api(client, new_token())
    headers = {"Idempotency-Key": "k-audit-down"}
    ApiCall.__table__.drop(db.engine)  # every audit write fails from here on
    try:
        with caplog.at_level(logging.ERROR):
            first = api.post("/api/v1/orders", ORDER, headers=headers)
        again = api.post("/api/v1/orders", ORDER, headers=headers)
    finally:
        ApiCall.__table__.create(db.engine)
    assert first.status_code == 201 and "could not audit API call POST /api/v1/orders" in caplog.text
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"  # not 409, not a new order
    assert again.data == first.data and db.session.scalar(select(func.count(Order.id))) == 1


def test_an_exception_nobody_handled_is_audited_as_500(shop, client, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(intake, "place_order", broken)
    api = Api(client, new_token())
    with pytest.raises(RuntimeError):  # TESTING propagates it; in production the 500 page answers
        api.post("/api/v1/orders", ORDER)
    assert [status for _c, _m, _p, status, _k, _r in calls()] == [500]


def test_calls_of_the_last_day_are_counted_per_client(shop, client):
    api, other = Api(client, new_token()), Api(client, new_token("other"))
    api.get("/api/v1/orders/SO-1")
    clock.freeze(START + timedelta(hours=23))
    api.get("/api/v1/orders/SO-1")
    other.get("/api/v1/orders/SO-1")
    assert audit.calls_since(24) == {client_id(): 2, client_id("other"): 1}
    clock.freeze(START + timedelta(hours=24, minutes=1))
    assert audit.calls_since(24) == {client_id(): 1, client_id("other"): 1}
    assert audit.calls_since(24, client_id("other")) == {client_id("other"): 1}
