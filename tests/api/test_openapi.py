"""The OpenAPI 3.1 document at /api/v1/openapi.json and its page at /api/v1/docs: open without a token,
describing every route of the API and nothing else, with the request schemas the API validates with,
the scope each route's @requires names, and the refusals every call can meet."""

import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from app.api import schemas, scopes
from app.api.openapi import paths
from tests.api.shop import new_token

STATIC = Path(__file__).resolve().parents[2] / "app" / "static"


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.json


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield method, path, rule.endpoint


def test_the_document_needs_no_token_and_is_openapi_3_1(client, document):
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "Orderly API"
    assert document["components"]["securitySchemes"] == {"bearer": {
        "type": "http", "scheme": "bearer", "description": "An API client's token (`flask api-clients create`)."}}
    bad_token = client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer nonsense"})
    assert bad_token.status_code == 200


def test_every_route_is_described_and_nothing_else(app, document):
    routes = {(method, path) for method, path, _endpoint in api_rules(app)}
    described = {(method, path) for method, path, _operation in operations(document)}
    assert routes == described
    endpoints = {(method, path): endpoint for method, path, endpoint in api_rules(app)}
    for method, path, operation in operations(document):
        assert endpoints[(method, path)] == f"api.{operation['operationId']}"


def test_each_operation_names_the_scope_its_view_requires(app, document):
    for method, path, operation in operations(document):
        view = app.view_functions[f"api.{operation['operationId']}"]
        assert scopes.is_declared(view), f"{method} {path} names no scope"
        needed = scopes.required(view)
        if needed is None:
            assert operation["security"] == [], path
        else:
            assert operation["security"] == [{"bearer": [needed]}], path
            assert f"`{needed}`" in operation["description"]
    public = {path for _method, path, operation in operations(document) if operation["security"] == []}
    assert public == {"/api/v1/openapi.json", "/api/v1/docs"}


def test_request_bodies_are_the_schemas_the_api_validates_with(document):
    found = document["components"]["schemas"]
    assert found["NewOrder"] == {k: v for k, v in schemas.NEW_ORDER.items() if k != "$schema"}
    assert found["Resolution"] == {k: v for k, v in schemas.RESOLUTION.items() if k != "$schema"}
    variants = {variant["properties"]["type"]["const"]: variant for variant in found["Event"]["oneOf"]}
    assert set(variants) == set(schemas.PAYLOADS) == set(schemas.EVENT["properties"]["type"]["enum"])
    for kind, payload in schemas.PAYLOADS.items():
        name = variants[kind]["properties"]["payload"]["$ref"].rsplit("/", 1)[1]
        assert found[name] == payload
        assert ("payload" in variants[kind]["required"]) == bool(payload.get("required"))
    bodies = {path: operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
              for _method, path, operation in operations(document) if "requestBody" in operation}
    assert bodies == {"/api/v1/orders": "#/components/schemas/NewOrder",
                      "/api/v1/orders/{number}/events": "#/components/schemas/Event",
                      "/api/v1/orders/{number}/exceptions/{case_number}/resolve": "#/components/schemas/Resolution"}


def test_every_schema_is_valid_json_schema_2020_12(document):
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for parameter in document["components"]["parameters"].values():
        Draft202012Validator.check_schema(parameter["schema"])


def test_every_call_documents_its_refusals_and_every_post_its_idempotency_key(document):
    for method, path, operation in operations(document):
        answers = set(operation["responses"])
        assert "429" in answers, path
        if operation["security"]:
            assert {"401", "403"} <= answers, path
        if "{" in path:
            assert "404" in answers, path
        if method == "POST":
            assert {"400", "409", "413", "415", "422"} <= answers, path
            assert {"$ref": "#/components/parameters/idempotency_key"} in operation["parameters"], path
    refusal = document["components"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert refusal == {"$ref": "#/components/schemas/Error"}
    assert document["components"]["schemas"]["Error"]["required"] == ["error", "message", "details"]


def test_the_described_paths_are_the_ones_served(document):
    assert set(paths()) == set(document["paths"])


def test_the_docs_page_needs_no_token_and_loads_nothing_from_elsewhere(client, shop):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/api/v1/openapi.json" in page.text
    assert sources and not [source for source in sources if "//" in source], sources
    for source in sources:
        if source.startswith("/static/"):
            assert (STATIC / source.removeprefix("/static/")).is_file(), f"{source} is not in app/static"
            with client.get(source) as served:
                assert served.status_code == 200
    script = (STATIC / "js" / "api_docs.js").read_text()
    assert "validatorUrl: null" in script  # the default sends the document to an outside validator


def test_a_token_does_not_change_the_document(client, shop, document):
    with_token = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {new_token()}"})
    assert with_token.json == document
