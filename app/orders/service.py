"""Order functions the process calls through operations. They flush; the unit of work commits."""

from decimal import Decimal

from sqlalchemy import func, select

from app.clock import now
from app.extensions import db
from app.orders.models import CHANNELS, Order


class OrderError(ValueError):
    pass


# Which status may follow which: anything else is refused.
TRANSITIONS = {
    "entered": {"in_review", "cancelled"},
    "in_review": {"confirmed", "rejected", "cancelled"},
    "confirmed": {"in_fulfilment", "cancelled"},
    "in_fulfilment": {"shipped", "cancelled"},
    "shipped": {"completed"},
    "rejected": set(),
    "cancelled": set(),
    "completed": set(),
}


def _next_number() -> str:
    count = db.session.scalar(select(func.count(Order.id))) or 0
    return f"SO-{now():%Y}-{count + 1:06d}"


def create_order(customer_name: str, channel: str, total: Decimal | str = "0") -> Order:
    if channel not in CHANNELS:
        raise OrderError(f"unknown channel '{channel}' (one of {', '.join(CHANNELS)})")
    if not customer_name.strip():
        raise OrderError("the customer's name is missing")
    order = Order(number=_next_number(), customer_name=customer_name.strip(), channel=channel, total=Decimal(total))
    db.session.add(order)
    db.session.flush()
    return order


def get_by_number(number: str) -> Order:
    order = db.session.scalar(select(Order).where(Order.number == number))
    if order is None:
        raise OrderError(f"no order {number}")
    return order


def set_status(order: Order, status: str) -> Order:
    if status not in TRANSITIONS.get(order.status, set()):
        raise OrderError(f"order {order.number} cannot go from {order.status} to {status}")
    order.status = status
    db.session.flush()
    return order
