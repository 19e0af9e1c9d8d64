"""The order's own promise: shipped by the end of its expected ship date. Every fulfilment task
carries a boundary timer at `ship_by(order_number)`; when it fires and the goods have not left,
the order gets one late-shipment case (a delivery delay), however many tasks it passes meanwhile."""

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from app.exceptions import service as cases
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.operations import operation
from app.orders import service as orders

OPEN_CASE = ("open", "in_progress", "resolved")


class PromiseError(ValueError):
    pass


@operation
def ship_by(order_number: str) -> str:
    """The end of the order's expected ship date (UTC, ISO): past it, the promise is missed."""
    order = orders.get_by_number(order_number)
    if order.expected_ship_date is None:
        raise PromiseError(f"{order_number} has no expected ship date yet")
    return datetime.combine(order.expected_ship_date + timedelta(days=1), time(0), UTC).isoformat()


@operation
def promise_missed(order_number: str, stage: str) -> dict:
    """The ship date passed while the order stood at `stage`: raise a delivery delay unless the
    goods left already or such a case is open for the order."""
    order = orders.get_by_number(order_number)
    if order.shipment_status in ("shipped", "delivered"):
        return {"raised": None}
    open_case = db.session.scalar(select(ExceptionCase).where(
        ExceptionCase.order_id == order.id, ExceptionCase.type == "delivery_delay",
        ExceptionCase.status.in_(OPEN_CASE)))
    if open_case is not None:
        return {"raised": None, "open": open_case.number}
    case = cases.raise_case(order, "delivery_delay", source="process", reported_by="process",
                            description=f"not shipped by the promised date {order.expected_ship_date} "
                                        f"(still at {stage})", hold_process=False)
    return {"raised": case.number}
