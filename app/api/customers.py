"""/api/v1/customers/<code>/orders: a customer's orders, newest first, a page at a time."""

from math import ceil
from urllib.parse import quote

from flask import jsonify, request
from sqlalchemy import func, select

from app.api import ApiError, bp, schemas
from app.api.orders import money, order_links, valid
from app.api.scopes import requires
from app.extensions import db
from app.orders.intake import customer_by_code
from app.orders.models import Order


def _page_args() -> tuple[int, int]:
    """?page= and ?per_page= as whole numbers within their bounds (a 422 by parameter otherwise)."""
    found, problems = {}, {}
    for name, schema in (("page", schemas.PAGE), ("per_page", schemas.PER_PAGE)):
        text = request.args.get(name)
        if text is None:
            found[name] = schema["default"]
        elif text.isascii() and text.isdigit() and len(text) <= 6:
            found[name] = int(text)
            problems.update(schemas.errors(schema, found[name], prefix=name))
        else:
            problems[name] = "a whole number"
    valid(problems)
    return found["page"], found["per_page"]


def summary_json(order: Order) -> dict:
    return {
        "number": order.number,
        "statuses": {"order": order.status, "shipment": order.shipment_status, "payment": order.payment_status},
        "channel": order.channel,
        "total": money(order.total),
        "requested_date": order.requested_date.isoformat() if order.requested_date else None,
        "created_at": order.created_at.isoformat(),
        "links": {"self": order_links(order)["self"]},
    }


@bp.get("/customers/<code>/orders")
@requires("orders:read")
def customer_orders(code: str):
    customer = customer_by_code(code)
    if customer is None:
        raise ApiError(404, "not_found", f"no customer {code[:20]}")
    page, per_page = _page_args()
    theirs = select(Order).where(Order.customer_id == customer.id)
    total = db.session.scalar(select(func.count()).select_from(theirs.subquery()))
    orders = db.session.scalars(theirs.order_by(Order.created_at.desc(), Order.id.desc())
                                .limit(per_page).offset((page - 1) * per_page))
    base = f"/api/v1/customers/{quote(customer.code, safe='')}/orders?per_page={per_page}&page="
    links = {"self": f"{base}{page}"}
    if page * per_page < total:
        links["next"] = f"{base}{page + 1}"
    if page > 1:
        last = max(1, ceil(total / per_page))
        links["prev"] = f"{base}{min(page - 1, last)}"
    return jsonify(customer={"code": customer.code, "name": customer.name},
                   orders=[summary_json(order) for order in orders],
                   page=page, per_page=per_page, total=total, links=links)
