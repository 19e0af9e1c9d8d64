"""/api/v1/orders/<number>/exceptions: the exception cases of an order, as a partner sees them."""

from flask import jsonify

from app.api import ApiError, bp
from app.api.orders import order_or_404
from app.exceptions import service as cases
from app.exceptions.models import ExceptionCase


def _when(value) -> str | None:
    return value.isoformat() if value else None


def case_json(case: ExceptionCase) -> dict:
    """A case without its internal record (resolution notes, root cause, playbook outcome)."""
    order = case.order.number
    return {
        "number": case.number,
        "type": case.type,
        "family": case.family,
        "severity": case.severity,
        "status": case.status,
        "blocking": case.blocking,
        "source": case.source,
        "reported_by": case.reported_by,
        "description": case.description,
        "created_at": _when(case.created_at),
        "closed_at": _when(case.closed_at),
        "resolution_code": case.resolution_code or None,
        "links": {"self": f"/api/v1/orders/{order}/exceptions/{case.number}", "order": f"/api/v1/orders/{order}"},
    }


@bp.get("/orders/<number>/exceptions")
def list_exceptions(number: str):
    order = order_or_404(number)
    return jsonify(order=order.number, exceptions=[case_json(case) for case in cases.for_order(order)])


@bp.get("/orders/<number>/exceptions/<case_number>")
def get_exception(number: str, case_number: str):
    order = order_or_404(number)
    case = next((case for case in cases.for_order(order) if case.number == case_number[:20]), None)
    if case is None:
        raise ApiError(404, "not_found", f"{order.number} has no exception {case_number[:20]}")
    return jsonify(case_json(case))
