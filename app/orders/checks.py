"""The automatic review of an order: stock or production capacity, price against the customer's
agreement, credit exposure, and whether the requested date can be met. Each returns plain data
that the review task shows; none changes anything."""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.billing.models import Invoice
from app.clock import now
from app.extensions import db
from app.orders.models import Order

HANDLING_DAYS = 1  # a day to pick, pack and hand over
UNBILLED = ("confirmed", "in_fulfilment", "delivered", "on_hold")


def stock(order: Order) -> dict:
    lines, ok = [], True
    for line in order.lines:
        product = line.product
        available = product.available + line.reserved_qty
        short = 0 if line.make_to_order else max(0, line.quantity - available)
        ok = ok and short == 0
        lines.append({"sku": line.sku, "ordered": line.quantity, "available": max(0, available),
                      "short": short, "make_to_order": line.make_to_order,
                      "lead_time_days": product.lead_time_days})
    return {"ok": ok, "lines": lines}


def price(order: Order) -> dict:
    agreed = order.customer.agreed_discount_pct if order.customer else Decimal("0")
    lines, ok = [], True
    for line in order.lines:
        list_price = line.product.list_price
        discount = ((list_price - line.unit_price) / list_price * 100).quantize(Decimal("0.01"))
        within = discount <= agreed
        ok = ok and within
        lines.append({"sku": line.sku, "list_price": str(list_price), "unit_price": str(line.unit_price),
                      "discount_pct": str(discount), "agreed_pct": str(agreed), "within_agreement": within})
    return {"ok": ok, "lines": lines}


def open_receivables(customer_id: int) -> Decimal:
    return db.session.scalar(
        select(func.coalesce(func.sum(Invoice.amount - Invoice.paid_amount), 0))
        .where(Invoice.customer_id == customer_id, Invoice.status.in_(("open", "overdue")))
    ) or Decimal("0")


def unbilled(customer_id: int, except_order: int) -> Decimal:
    return db.session.scalar(
        select(func.coalesce(func.sum(Order.total), 0)).where(
            Order.customer_id == customer_id, Order.id != except_order, Order.status.in_(UNBILLED),
            Order.payment_status == "not_invoiced",
        )
    ) or Decimal("0")


def credit(order: Order) -> dict:
    customer = order.customer
    if order.payment_method != "credit" or customer is None:
        return {"ok": True, "applies": False}
    receivables = Decimal(open_receivables(customer.id))
    pending = Decimal(unbilled(customer.id, order.id))
    exposure = receivables + pending + order.total
    ok = customer.on_credit and exposure <= customer.credit_limit
    return {"ok": ok, "applies": True, "limit": str(customer.credit_limit), "open_receivables": str(receivables),
            "unbilled_orders": str(pending), "this_order": str(order.total), "exposure": str(exposure),
            "on_credit": customer.on_credit}


def earliest_ship_date(order: Order, today: date | None = None) -> date:
    today = today or now().date()
    wait = 0
    for line in stock(order)["lines"]:
        if line["make_to_order"] or line["short"]:
            wait = max(wait, line["lead_time_days"])
    return today + timedelta(days=wait + HANDLING_DAYS)


def delivery_date(order: Order) -> dict:
    ship = earliest_ship_date(order)
    ok = order.requested_date is None or ship <= order.requested_date
    return {"ok": ok, "earliest_ship_date": ship.isoformat(),
            "requested_date": order.requested_date.isoformat() if order.requested_date else None}


def review(order: Order) -> dict:
    results = {"stock": stock(order), "price": price(order), "credit": credit(order),
               "delivery": delivery_date(order)}
    results["all_ok"] = all(r["ok"] for r in results.values())
    results["problems"] = [name for name, r in results.items() if isinstance(r, dict) and not r["ok"]]
    return results
