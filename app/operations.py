"""The verbs a BPMN diagram may call, by name, from service tasks and scripts.

Each is a thin adapter onto a domain function and returns plain JSON-able data. The registry is
handed to app.workflow at start-up; deployment refuses a diagram that names an unknown operation.
"""

from collections.abc import Callable

from app.orders import service as orders

OPERATIONS: dict[str, Callable] = {}


def operation(fn: Callable) -> Callable:
    OPERATIONS[fn.__name__] = fn
    return fn


@operation
def set_order_status(order_number: str, status: str) -> dict:
    order = orders.set_status(orders.get_by_number(order_number), status)
    return {"order_number": order.number, "status": order.status}


@operation
def order_summary(order_number: str) -> dict:
    order = orders.get_by_number(order_number)
    return {"order_number": order.number, "customer": order.customer_name, "status": order.status,
            "total": str(order.total), "channel": order.channel}
