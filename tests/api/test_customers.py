"""GET /api/v1/customers/<code>/orders: one customer's orders, newest first, a bounded page at a time;
an unknown customer or a bad page is refused in the API's error shape."""

from datetime import timedelta

import pytest

from app import clock
from tests.api.shop import START, Api, new_token, place


def place_several(api: Api, count: int) -> list[str]:
    """Orders a minute apart, so newest first is a strict order."""
    numbers = []
    for n in range(count):
        clock.freeze(START + timedelta(minutes=n))
        numbers.append(place(api))
    return numbers


def test_a_customers_orders_newest_first_with_their_links(api):
    mine = place_several(api, 3)
    place(api, customer="QUIET")
    response = api.get("/api/v1/customers/GOOD/orders")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["customer"] == {"code": "GOOD", "name": "Good Customer Ltd"}
    assert [order["number"] for order in body["orders"]] == mine[::-1]
    assert (body["page"], body["per_page"], body["total"]) == (1, 25, 3)
    assert body["links"] == {"self": "/api/v1/customers/GOOD/orders?per_page=25&page=1"}
    first = body["orders"][0]
    assert first == {
        "number": mine[-1], "statuses": {"order": "in_review", "shipment": "pending", "payment": "not_invoiced"},
        "channel": "web", "total": "200.00", "requested_date": "2026-04-01",
        "created_at": "2026-03-02T08:02:00+00:00", "links": {"self": f"/api/v1/orders/{mine[-1]}"},
    }
    assert api.get(first["links"]["self"]).status_code == 200


def test_pages_are_bounded_and_linked(api):
    numbers = place_several(api, 5)[::-1]
    pages = [api.get(f"/api/v1/customers/GOOD/orders?per_page=2&page={page}").json for page in (1, 2, 3)]
    assert [[order["number"] for order in page["orders"]] for page in pages] == [
        numbers[0:2], numbers[2:4], numbers[4:]]
    assert [page["total"] for page in pages] == [5, 5, 5]
    assert pages[0]["links"] == {"self": "/api/v1/customers/GOOD/orders?per_page=2&page=1",
                                 "next": "/api/v1/customers/GOOD/orders?per_page=2&page=2"}
    assert pages[1]["links"]["prev"] == pages[0]["links"]["self"]
    assert "next" not in pages[2]["links"]
    beyond = api.get("/api/v1/customers/GOOD/orders?per_page=2&page=9").json
    assert beyond["orders"] == [] and beyond["links"]["prev"] == "/api/v1/customers/GOOD/orders?per_page=2&page=3"


def test_a_customer_without_orders_has_an_empty_list(api):
    response = api.get("/api/v1/customers/QUIET/orders")
    assert response.status_code == 200
    assert (response.json["orders"], response.json["total"]) == ([], 0)


def test_unknown_customer_is_404_json(api):
    response = api.get("/api/v1/customers/NOBODY/orders")
    assert response.status_code == 404
    assert response.json == {"error": "not_found", "message": "no customer NOBODY", "details": {}}


@pytest.mark.parametrize(("query", "field"), [
    ("page=0", "page"), ("page=-1", "page"), ("page=x", "page"), ("page=1.5", "page"), ("page=10001", "page"),
    ("page=99999999999999999999", "page"), ("per_page=0", "per_page"), ("per_page=101", "per_page"),
    ("per_page=", "per_page"), ("per_page=%EF%BC%91", "per_page"),  # a full-width digit one
])
def test_a_bad_page_is_422_by_parameter(api, query, field):
    response = api.get(f"/api/v1/customers/GOOD/orders?{query}")
    assert response.status_code == 422, response.json
    assert response.json["error"] == "invalid_request" and field in response.json["details"]


def test_listing_needs_the_orders_read_scope(shop, client):
    writer = Api(client, new_token("writer", scopes="orders:write events:write"))
    response = writer.get("/api/v1/customers/GOOD/orders")
    assert response.status_code == 403
    assert set(response.json) == {"error", "message", "details"}
    reader = Api(client, new_token("reader", scopes="orders:read"))
    assert reader.get("/api/v1/customers/GOOD/orders").status_code == 200
