"""The verbs of the exception process, and the order process's verbs for raising a case and for
taking back an order an exception changed or cancelled. Registered with app.operations."""

from app import forms
from app.billing import service as billing
from app.billing.models import Refund
from app.exceptions import playbooks
from app.exceptions import service as cases
from app.extensions import db
from app.fulfilment import service as fulfilment
from app.notifications import service as outbox
from app.operations import operation
from app.orders import service as orders

forms.CHOICES["playbook_actions"] = playbooks._actions_for
forms.CHECKS["exception_resolution"] = playbooks._check_resolution


# Called by the order process -------------------------------------------------------------------

@operation
def raise_exception(order_number: str, exception_type: str, description: str = "") -> dict:
    """The order process found a problem: record it; a blocking one's outcome comes back as the
    message `exception_resolved`, which the diagram waits for."""
    case = cases.raise_case(orders.get_by_number(order_number), exception_type, source="process",
                            reported_by="process", description=description, hold_process=False)
    return {"number": case.number, "blocking": case.blocking}


@operation
def report_payment_failure(order_number: str, reason: str = "") -> dict:
    """A payment failed while the order waited for it: the payment status says so, and Finance gets a case."""
    order = orders.get_by_number(order_number)
    before = order.payment_status
    if before != "failed":
        orders.set_status(order, "failed", kind="payment_status")
    case = cases.raise_case(order, "payment_failure", source="process", reported_by="process",
                            description=reason or "the payment failed", hold_process=False,
                            details={"payment_status_before": before})
    return {"number": case.number}


@operation
def reopen_review(order_number: str) -> dict:
    """The order was changed: what was reserved or being picked goes back, and review starts again."""
    order = orders.get_by_number(order_number)
    released = fulfilment.release_reservations(order)
    if order.status != "in_review":
        orders.set_status(order, "in_review")
    return {"released": released}


@operation
def end_cancelled_order(order_number: str) -> dict:
    """The order was cancelled or taken back by an exception; its records stay as they are."""
    order = orders.get_by_number(order_number)
    return {"status": order.status}


# Called by the exception process ---------------------------------------------------------------

@operation
def respond_to_exception(exception_number: str, exception_type: str = "", severity: str = "",
                         owner_role: str = "", summary: str = "") -> dict:
    case = cases.respond(exception_number, type_key=exception_type, severity=severity, owner_role=owner_role,
                         summary=summary)
    return {"owner_role": case.owner_role, "type": case.type, "severity": case.severity}


@operation
def apply_resolution(exception_number: str, action: str, resolved_by: str, amount: str = "", new_date: str = "",
                     shipping_address: str = "", line: int = 0, quantity: int = 0, sku: str = "",
                     carrier: str = "", tracking_number: str = "", claim_reference: str = "",
                     corrective_action: str = "", preventive_action: str = "", resolution: str = "") -> dict:
    case = cases.get(exception_number)
    values = {"amount": amount, "new_date": new_date, "shipping_address": shipping_address, "line": line or "",
              "quantity": quantity or "", "sku": sku, "carrier": carrier, "tracking_number": tracking_number,
              "corrective_action": corrective_action, "preventive_action": preventive_action,
              "resolution": resolution}
    try:
        outcome = playbooks.apply(case, action, values, resolved_by)
    except playbooks.PlaybookError as error:
        raise cases.ExceptionError(f"{error.field}: {error}") from None
    if claim_reference:
        case.details = {**case.details, "claim_reference": claim_reference}
    return outcome


@operation
def decide_refund(exception_number: str, refund_id: int, approved: bool, approved_by: str) -> dict:
    refund = db.session.get(Refund, refund_id)
    if refund is None:
        raise cases.ExceptionError(f"{exception_number} has no refund {refund_id}")
    billing.decide_refund(refund, approved, approved_by)
    if refund.status == "paid":
        case = cases.get(exception_number)
        outbox.queue(case.order, "refund", f"{exception_number}:refund:{refund.id}", amount=str(refund.amount))
    return {"status": refund.status}


@operation
def close_exception(exception_number: str, action: str, resolution_code: str, resolution: str,
                    root_cause: str = "", corrective_action: str = "", preventive_action: str = "") -> dict:
    case = cases.get(exception_number)
    outcome = (case.details or {}).get("outcome", {})
    message = outcome.get("message") or None
    cases.close(exception_number, action=action, resolution_code=resolution_code, resolution=resolution,
                root_cause=root_cause, corrective_action=corrective_action, preventive_action=preventive_action,
                message=message, payload={"exception": case.number, "action": action} if message else None)
    return {"closed": True}
