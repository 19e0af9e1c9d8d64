"""/api/v1/orders: place an order and read it; the helpers every API module reads requests and orders with."""

import json

from flask import g, jsonify, request
from sqlalchemy import select

from app.api import ApiError, bp, schemas
from app.api.scopes import requires
from app.billing import service as billing
from app.extensions import db
from app.orders import intake
from app.orders.models import Order
from app.orders.service import LineInput
from app.workflow import runtime
from app.workflow.errors import NotFound


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_body():
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        return json.loads(request.get_data(), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {str(error)[:200]}") from None


def valid(problems: dict[str, str]) -> None:
    if problems:
        raise ApiError(422, "invalid_request", "the request does not fit the schema", problems)


def order_or_404(number: str) -> Order:
    order = db.session.scalar(select(Order).where(Order.number == number[:20]))
    if order is None:
        raise ApiError(404, "not_found", f"no order {number[:20]}")
    return order


def order_links(order: Order) -> dict:
    return {"self": f"/api/v1/orders/{order.number}", "events": f"/api/v1/orders/{order.number}/events",
            "exceptions": f"/api/v1/orders/{order.number}/exceptions"}


def money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def order_json(order: Order) -> dict:
    invoice = billing.invoice_for(order)
    return {
        "number": order.number,
        "customer": {"code": order.customer.code if order.customer else None, "name": order.customer_name},
        "channel": order.channel,
        "statuses": {"order": order.status, "shipment": order.shipment_status, "payment": order.payment_status},
        "requested_date": order.requested_date.isoformat() if order.requested_date else None,
        "expected_ship_date": order.expected_ship_date.isoformat() if order.expected_ship_date else None,
        "payment_method": order.payment_method,
        "allow_partial": order.allow_partial,
        "shipping_address": order.shipping_address,
        "remarks": order.remarks,
        "created_at": order.created_at.isoformat(),
        "lines": [
            {"position": line.position, "sku": line.sku, "spec": line.spec, "quantity": line.quantity,
             "unit_price": money(line.unit_price), "amount": money(line.amount), "shipped": line.shipped_qty}
            for line in order.lines
        ],
        "totals": {
            "order": money(order.total),
            "invoiced": money(invoice.amount) if invoice else None,
            "paid": money(invoice.paid_amount) if invoice else None,
            "balance": money(invoice.balance) if invoice else None,
        },
        "links": order_links(order),
    }


RESPOND_ASYNC = "respond-async"


def prefers_async() -> bool:
    """Prefer: respond-async (RFC 7240), among any other preferences the header lists."""
    return any(part.split(";")[0].strip().lower() == RESPOND_ASYNC
               for value in request.headers.getlist("Prefer") for part in value.split(","))


@bp.post("/orders")
@requires("orders:write")
def create_order():
    body = json_body()
    queued = prefers_async()
    valid(schemas.errors(schemas.NEW_ORDER, body))
    client = g.api_client
    try:
        with runtime.unit_of_work():  # place_order joins it; number and status are read before the commit
            order = intake.place_order(
                body["customer_code"], client.channel,
                [LineInput(sku=line["sku"], quantity=int(line["quantity"]), unit_price=line.get("unit_price"),
                           spec=line.get("spec", "")) for line in body["lines"]],
                requested_date=body.get("requested_date"), payment_method=body.get("payment_method", "credit"),
                remarks=body.get("remarks", ""), allow_partial=body.get("allow_partial", False),
                shipping_address=body.get("shipping_address"), entered_by=client.actor, queued=queued,
            )
            links = order_links(order)
            response = jsonify(number=order.number, status=order.status, links=links)
    except NotFound as error:  # the order process is not deployed: our fault, not the client's
        raise ApiError(503, "unavailable", f"orders cannot be taken now ({error})") from None
    response.headers["Location"] = links["self"]
    if queued:  # recorded and numbered; its process starts at the scheduler's next poll
        response.headers["Preference-Applied"] = RESPOND_ASYNC
        return response, 202
    return response, 201


@bp.get("/orders/<number>")
@requires("orders:read")
def get_order(number: str):
    return jsonify(order_json(order_or_404(number)))
