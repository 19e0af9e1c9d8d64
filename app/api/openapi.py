"""The API's OpenAPI 3.1 description, served at /api/v1/openapi.json, and a page to browse it at
/api/v1/docs (Swagger UI from app/static/vendor). Neither needs a token.

Request bodies are the JSON Schemas the API validates with (app/api/schemas.py): OpenAPI 3.1 speaks
JSON Schema 2020-12, so they go in as they are. The answers' schemas live here, next to the paths;
tests/api/test_schemathesis.py holds every answer against them.
"""

from flask import current_app, jsonify, render_template

from app.api import bp, idempotency, schemas, scopes
from app.api.scopes import public
from app.exceptions import taxonomy
from app.exceptions.intake import CARRIER_EVENTS
from app.exceptions.models import RESOLUTION_CODES, SEVERITIES, SOURCES, STATUSES
from app.orders import states
from app.orders.models import CHANNELS, PAYMENT_METHODS

VERSION = "1.0.0"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: dict) -> dict:
    """A request schema as a component: the `$schema` keyword belongs to a document's root only."""
    return {key: value for key, value in schema.items() if key != "$schema"}


def _payload_name(kind: str) -> str:
    return "".join(part.title() for part in kind.split("_")) + "Payload"


STRING = {"type": "string"}
MONEY = {"type": ["string", "null"], "pattern": r"^-?\d+\.\d{2}$", "description": "an amount with two decimals"}
DATE = {"type": ["string", "null"], "format": "date"}
MOMENT = {"type": "string", "format": "date-time"}
# What order numbers, case numbers and customer codes look like in a path (never a '/').
KEY = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$"}


def _object(properties: dict, optional: tuple[str, ...] = ()) -> dict:
    """An answer's object: these properties and no others, all present unless named optional."""
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": [name for name in properties if name not in optional]}


ORDER_LINKS = _object({"self": STRING, "events": STRING, "exceptions": STRING})
STATUSES_OF_ORDER = _object({"order": {"enum": list(states.ORDER)}, "shipment": {"enum": list(states.SHIPMENT)},
                             "payment": {"enum": list(states.PAYMENT)}})

ANSWERS = {
    "Error": {
        **_object({
            "error": {**STRING, "description": "a code for machines, e.g. invalid_request, not_found, conflict"},
            "message": {**STRING, "description": "what went wrong, for people"},
            "details": {"type": "object", "description": "per field (`lines.1.sku`, `payload.reason`) what is "
                                                        "wrong with it; other facts of the refusal"},
        }),
        "examples": [{"error": "invalid_request", "message": "the request does not fit the schema",
                      "details": {"lines.1.quantity": "0 is less than the minimum of 1"}}],
    },
    "OrderCreated": _object({"number": STRING, "status": {"enum": list(states.ORDER)}, "links": ORDER_LINKS}),
    "Order": _object({
        "number": STRING,
        "customer": _object({"code": {"type": ["string", "null"]}, "name": STRING}),
        "channel": {"enum": list(CHANNELS)},
        "statuses": STATUSES_OF_ORDER,
        "requested_date": DATE,
        "expected_ship_date": DATE,
        "payment_method": {"enum": list(PAYMENT_METHODS)},
        "allow_partial": {"type": "boolean"},
        "shipping_address": {"type": ["string", "null"]},
        "remarks": STRING,
        "created_at": MOMENT,
        "lines": {"type": "array", "items": _object({
            "position": {"type": "integer"}, "sku": STRING, "spec": STRING, "quantity": {"type": "integer"},
            "unit_price": MONEY, "amount": MONEY, "shipped": {"type": "integer"},
        })},
        "totals": _object({"order": MONEY, "invoiced": MONEY, "paid": MONEY, "balance": MONEY}),
        "links": ORDER_LINKS,
    }),
    "OrderSummary": _object({
        "number": STRING, "statuses": STATUSES_OF_ORDER, "channel": {"enum": list(CHANNELS)},
        "total": MONEY, "requested_date": DATE, "created_at": MOMENT, "links": _object({"self": STRING}),
    }),
    "CustomerOrders": _object({
        "customer": _object({"code": STRING, "name": STRING}),
        "orders": {"type": "array", "items": _ref("OrderSummary")},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1},
        "total": {"type": "integer", "minimum": 0, "description": "the customer's orders on every page"},
        "links": _object({"self": STRING, "next": STRING, "prev": STRING}, optional=("next", "prev")),
    }),
    "Exception": _object({
        "number": STRING,
        "type": {"enum": list(taxonomy.TYPES)},
        "family": {"enum": list(taxonomy.FAMILIES)},
        "severity": {"enum": list(SEVERITIES)},
        "status": {"enum": list(STATUSES)},
        "blocking": {"type": "boolean", "description": "whether the case holds the order until it is closed"},
        "source": {"enum": list(SOURCES)},
        "reported_by": STRING,
        "description": STRING,
        "created_at": {**MOMENT, "type": ["string", "null"]},
        "closed_at": {**MOMENT, "type": ["string", "null"]},
        "resolution_code": {"enum": [*RESOLUTION_CODES, None]},
        "links": _object({"self": STRING, "order": STRING}),
    }),
    "ExceptionList": _object({"order": STRING, "exceptions": {"type": "array", "items": _ref("Exception")}}),
    "CarrierEvent": _object({"type": {"enum": list(CARRIER_EVENTS)}, "event_id": STRING,
                             "occurred_at": {**MOMENT, "type": ["string", "null"]}, "recorded_at": MOMENT}),
    "EventOutcome": _object({"order": _ref("Order"), "event": _ref("CarrierEvent"), "exception": _ref("Exception")},
                            optional=("event", "exception")),
}


def _event_request() -> dict:
    """The event body as one variant per type, each with its own payload (schemas.EVENT + PAYLOADS)."""
    variants = []
    for kind, payload in schemas.PAYLOADS.items():
        variant = {"title": kind, **_object({"type": {"const": kind}, "payload": _ref(_payload_name(kind))},
                                            optional=("payload",))}
        if payload.get("required"):
            variant["required"] = ["type", "payload"]
        variants.append(variant)
    return {"oneOf": variants, "description": "`goods_received` and `payment_received` reach the order's process; "
                                              "the others raise an exception case or are recorded."}


def _components() -> dict:
    requests = {"NewOrder": _body(schemas.NEW_ORDER), "Event": _event_request(),
                "Resolution": _body(schemas.RESOLUTION),
                **{_payload_name(kind): payload for kind, payload in schemas.PAYLOADS.items()}}
    return {
        "schemas": {**requests, **ANSWERS},
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description":
                                       "An API client's token (`flask api-clients create`)."}},
        "parameters": {
            "number": {"name": "number", "in": "path", "required": True, "schema": KEY,
                       "description": "the order number", "example": "SO-2026-000001"},
            "case_number": {"name": "case_number", "in": "path", "required": True, "schema": KEY,
                            "description": "the exception case's number", "example": "EX-2026-000001"},
            "code": {"name": "code", "in": "path", "required": True, "schema": KEY,
                     "description": "the customer's code", "example": "GOOD"},
            "page": {"name": "page", "in": "query", "schema": schemas.PAGE, "description": "which page, from 1"},
            "per_page": {"name": "per_page", "in": "query", "schema": schemas.PER_PAGE},
            "prefer": {"name": "Prefer", "in": "header", "required": False, "schema": STRING,
                       "description": "`respond-async`: answer 202 once the order is recorded; its process "
                                      "starts moments later (RFC 7240)."},
            "idempotency_key": {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "pattern": f"^{idempotency.KEY.pattern}$"},
                "description": "Send the same key when retrying: the first answer comes back (marked "
                               f"`{idempotency.REPLAYED_HEADER}: true`) and nothing is done twice. The same key "
                               "with another request is refused (422); while the first is still being answered, "
                               "a retry gets 409.",
            },
        },
        "responses": {name: {"description": text, "content": {"application/json": {"schema": _ref("Error")}},
                             **({"headers": REFUSAL_HEADERS[name]} if name in REFUSAL_HEADERS else {})}
                      for name, text in REFUSALS.items()},
    }


REFUSALS = {
    "400": "The body is not JSON, or the Idempotency-Key header is not a valid key.",
    "401": "No token, an unknown one, or a revoked one (see WWW-Authenticate).",
    "403": "The client's scopes do not include the one this call needs.",
    "404": "No such order, customer or exception case.",
    "409": "The order or case cannot take this now, or the first request with this Idempotency-Key is still "
           "being answered.",
    "413": "The body is larger than the limit.",
    "415": "The body is not sent as application/json.",
    "422": "The request does not fit the schema or the domain's rules (`details` says which field), or its "
           "Idempotency-Key was used for another request.",
    "429": "Too many requests from this client or address; see Retry-After.",
    "503": "The order process is not deployed, so orders cannot be taken now.",
}

REFUSAL_HEADERS = {
    "401": {"WWW-Authenticate": {"description": "`Bearer realm=\"orderly-api\"`, with `error=\"invalid_token\"` "
                                                "when a token was sent", "schema": STRING}},
    "403": {"WWW-Authenticate": {"description": "`Bearer error=\"insufficient_scope\"` and the scope needed",
                                 "schema": STRING}},
    "409": {"Retry-After": {"description": "seconds, when the first request with the key is still at work",
                            "schema": {"type": "integer"}}},
    "429": {"Retry-After": {"description": "seconds until the limit allows another call",
                            "schema": {"type": "integer"}}},
}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    answer = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _refusals(*codes: str) -> dict:
    return {code: {"$ref": f"#/components/responses/{code}"} for code in ("401", "403", "429", *codes)}


def _operation(view: str, tag: str, summary: str, answers: dict, *, refusals: tuple[str, ...],
               body: str | None = None, description: str = "", parameters: tuple[str, ...] = ()) -> dict:
    """An operation of the view function `view` (its operationId); the scope it needs comes from the view's
    own @requires, when the document is made."""
    params = [{"$ref": f"#/components/parameters/{name}"} for name in parameters]
    operation = {"operationId": view, "tags": [tag], "summary": summary, "description": description}
    if body is not None:  # every POST takes an Idempotency-Key and may be refused for its body
        params.append({"$ref": "#/components/parameters/idempotency_key"})
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
        refusals = ("400", "409", "413", "415", "422", *refusals)
    if params:
        operation["parameters"] = params
    operation["responses"] = {**answers, **_refusals(*sorted(set(refusals)))}
    return operation


TAGS = {
    "orders": "Place orders and read them, one at a time or a customer's all.",
    "events": "Report what happened to an order: receipt, payment, changes, cancellations, carrier events.",
    "exceptions": "Read an order's exception cases and resolve them.",
    "description": "This description of the API, as JSON and as a page.",
}
LOCATION = {"Location": {"description": "where to read what was created", "schema": STRING}}


def paths() -> dict:
    """Every operation of API v1, without its security (that comes from the views, see _secure)."""
    return {
        "/api/v1/orders": {"post": _operation(
            "create_order", "orders", "Place an order",
            {"201": _json(_ref("OrderCreated"), "Placed; its process started.", LOCATION),
             "202": _json(_ref("OrderCreated"), "Placed and numbered (`Prefer: respond-async`); its process "
                          "starts within about a second, the order is `entered` until then.",
                          {**LOCATION, "Preference-Applied": {"description": "`respond-async`", "schema": STRING}})},
            body="NewOrder", refusals=("503",), parameters=("prefer",),
            description="The order is recorded with the client's channel and starts its order process: "
                        "intake and review checks run before the answer (201). With `Prefer: respond-async` "
                        "the answer comes as soon as the order is recorded (202) and the scheduler starts "
                        "the process at its next poll; an event sent meanwhile starts it first. For systems "
                        "that send many orders at once.")},
        "/api/v1/orders/{number}": {"get": _operation(
            "get_order", "orders", "Read an order", {"200": _json(_ref("Order"), "The order, its lines and totals.")},
            refusals=("404",), parameters=("number",))},
        "/api/v1/orders/{number}/events": {"post": _operation(
            "post_event", "events", "Report what happened to an order", {
                "200": _json({"anyOf": [_ref("Order"), _ref("EventOutcome")]},
                             "`goods_received`, `payment_received`: the order. `delivered`, or a carrier event "
                             "sent again: the outcome (the first one, for a repeat)."),
                "201": _json(_ref("EventOutcome"), "An exception case was raised (under `exception`).", LOCATION),
                "202": _json(_ref("EventOutcome"), "Recorded only (a pick-up)."),
            },
            body="Event", refusals=("404",), parameters=("number",),
            description="A carrier's event carries its own `event_id`: the same id again is the same event, "
                        "acted on once. An event the order cannot take now is refused with 409.")},
        "/api/v1/orders/{number}/exceptions": {"get": _operation(
            "list_exceptions", "exceptions", "List an order's exception cases",
            {"200": _json(_ref("ExceptionList"), "The cases, oldest first.")},
            refusals=("404",), parameters=("number",))},
        "/api/v1/orders/{number}/exceptions/{case_number}": {"get": _operation(
            "get_exception", "exceptions", "Read an exception case", {"200": _json(_ref("Exception"), "The case.")},
            refusals=("404",), parameters=("number", "case_number"))},
        "/api/v1/orders/{number}/exceptions/{case_number}/resolve": {"post": _operation(
            "resolve_exception", "exceptions", "Resolve an exception case",
            {"200": _json(_ref("Exception"), "Resolved: closed, or `in_progress` while a refund waits for "
                                             "approval.")},
            body="Resolution", refusals=("404",), parameters=("number", "case_number"),
            description="Does what the owning team's *Resolve exception* task does: the action must be in the "
                        "playbook of the case's type. Refused with 409 while the case is being triaged, waits "
                        "for something else, is claimed by a member of staff, or is closed.")},
        "/api/v1/customers/{code}/orders": {"get": _operation(
            "customer_orders", "orders", "List a customer's orders",
            {"200": _json(_ref("CustomerOrders"), "One page of the customer's orders, newest first.")},
            refusals=("404", "422"), parameters=("code", "page", "per_page"))},
        "/api/v1/openapi.json": {"get": {
            "operationId": "openapi_document", "tags": ["description"], "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 description of API v1."),
                          "429": {"$ref": "#/components/responses/429"}}}},
        "/api/v1/docs": {"get": {
            "operationId": "docs", "tags": ["description"], "summary": "This document as a page to browse",
            "responses": {"200": {"description": "An HTML page.", "content": {"text/html": {"schema": STRING}}},
                          "429": {"$ref": "#/components/responses/429"}}}},
    }


def _secure(described: dict) -> dict:
    """Each operation's security from its view: the scope its @requires names, or none when @public."""
    for operations in described.values():
        for operation in operations.values():
            view = current_app.view_functions[f"{bp.name}.{operation['operationId']}"]
            scope = scopes.required(view)
            is_public = scopes.is_declared(view) and scope is None
            operation["security"] = [] if is_public else [{"bearer": [scope] if scope else []}]
            if scope:
                operation["description"] = f"{operation.get('description', '')}\n\nNeeds the scope `{scope}`.".strip()
    return described


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Orderly API", "version": VERSION,
            "description": "Partner systems place orders, read them, report what happened to them, and read and "
                           "resolve their exception cases. Every refusal is JSON: "
                           "`{\"error\": code, \"message\": text, \"details\": {field: message}}`; "
                           "nothing is written when a request is refused.",
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "security": [{"bearer": []}],
        "paths": _secure(paths()),
        "components": _components(),
    }


@bp.get("/openapi.json")
@public
def openapi_document():
    return jsonify(document())


@bp.get("/docs")
@public
def docs():
    return render_template("api/docs.html")
