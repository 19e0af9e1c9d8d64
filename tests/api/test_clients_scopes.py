"""Scopes: every /api/v1 route names the scope it needs, a client without it gets 403 insufficient_scope
(and nothing is written), and a route that names none is open to nobody."""

import pytest
from flask import url_for
from sqlalchemy import func, select

from app.api import scopes
from app.api.models import EVERY_SCOPE, ApiCall
from app.extensions import db
from app.orders.models import Order
from tests.api.shop import Api, new_token, place

PUBLIC = {"/api/v1/openapi.json", "/api/v1/docs"}
SAMPLE = {"number": "SO-2026-000001", "case_number": "EX-2026-000001", "code": "GOOD"}


def api_routes(app) -> list[tuple[str, str, str, object]]:
    """(method, URL, rule, view) for every route under /api/v1, with sample values in its placeholders."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/api/v1/"):
                continue
            url = url_for(rule.endpoint, **{name: SAMPLE.get(name, "X1") for name in rule.arguments})
            view = app.view_functions[rule.endpoint]
            found += [(method, url, rule.rule, view) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


def all_but(scope: str) -> str:
    return " ".join(held for held in scopes.SCOPES if held != scope)


def test_the_scopes_are_the_models_every_scope():
    assert " ".join(scopes.SCOPES) == EVERY_SCOPE


def test_every_api_route_names_a_scope_except_the_description(app):
    routes = api_routes(app)
    assert {"/api/v1/orders", "/api/v1/orders/<number>/events"} <= {rule for _m, _u, rule, _v in routes}
    for _method, _url, rule, view in routes:
        assert scopes.is_declared(view), f"{rule} names no scope: add @requires(...) under its @bp route"
        if rule in PUBLIC:
            assert scopes.required(view) is None, f"{rule} should need no token"
        else:
            assert scopes.required(view) in scopes.SCOPES, f"{rule} needs a scope"


def test_each_route_refuses_a_client_without_its_scope_and_admits_one_with_only_that(shop, client, app):
    without, only = {}, {}
    for method, url, rule, view in api_routes(app):
        if rule in PUBLIC:
            continue
        needed = scopes.required(view)
        if needed not in without:
            without[needed] = new_token(f"without-{needed.replace(':', '-')}", all_but(needed))
            only[needed] = new_token(f"only-{needed.replace(':', '-')}", needed)
        token = without[needed]
        response = client.open(url, method=method, json={}, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403, (method, url, response.json)
        assert response.json == {"error": "insufficient_scope", "message": f"this API client lacks the scope {needed}",
                                  "details": {"scope": needed}}
        challenge = response.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge and f'scope="{needed}"' in challenge
        response = client.open(url, method=method, json={}, headers={"Authorization": f"Bearer {only[needed]}"})
        assert response.status_code != 403, (method, url, response.json)  # 404 or 422: past the scope check
    assert set(without) == set(scopes.SCOPES)  # every scope guards at least one route


@pytest.mark.parametrize(("scope", "method", "path", "body"), [
    ("orders:write", "POST", "/api/v1/orders", {"customer_code": "GOOD", "lines": [{"sku": "BOLT-M8", "quantity": 1}]}),
    ("orders:read", "GET", "/api/v1/orders/{number}", None),
    ("events:write", "POST", "/api/v1/orders/{number}/events", {"type": "complaint", "payload": {"text": "Late."}}),
    ("exceptions:read", "GET", "/api/v1/orders/{number}/exceptions", None),
])
def test_a_real_call_without_its_scope_is_refused_and_writes_nothing(shop, client, scope, method, path, body):
    number = place(Api(client, new_token("full")))
    token = new_token("partial", all_but(scope))
    before = db.session.scalar(select(func.count(Order.id)))
    response = client.open(path.format(number=number), method=method, json=body,
                           headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.json["error"], response.json["details"]) == (
        403, "insufficient_scope", {"scope": scope})
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Order.id))) == before
    granted = Api(client, new_token("granted", scope))
    answer = granted.post(path.format(number=number), body) if method == "POST" else granted.get(
        path.format(number=number))
    assert answer.status_code in (200, 201), answer.json


def test_a_route_naming_no_scope_is_open_to_nobody(shop, app, client):
    app.add_url_rule("/api/v1/forgotten", "api.forgotten", lambda: "the secret")
    response = client.get("/api/v1/forgotten", headers={"Authorization": f"Bearer {new_token()}"})
    assert response.status_code == 403 and b"the secret" not in response.data
    assert response.json["error"] == "insufficient_scope" and response.json["details"] == {"scope": None}
    assert db.session.scalar(select(ApiCall.status)) == 403  # audited like any refusal


def test_requires_refuses_an_unknown_scope():
    with pytest.raises(ValueError, match="unknown scope 'orders:delete'"):
        scopes.requires("orders:delete")


def test_scopes_parse_in_canonical_order_and_name_unknown_ones():
    assert scopes.parse("exceptions:read,orders:read  orders:read") == ["orders:read", "exceptions:read"]
    with pytest.raises(ValueError, match="unknown scope admin, orders:delete"):
        scopes.parse("orders:read orders:delete admin")
