"""The verbs a BPMN diagram may call, by name, from service tasks and scripts.

Each is a thin adapter onto a domain function: it takes plain values from task data and returns
plain JSON-able data for the diagram's next decision. The registry is handed to app.workflow at
start-up; deployment refuses a diagram that names an unknown operation or wrong parameters.
"""

from collections.abc import Callable
from datetime import datetime

from app.billing import service as billing
from app.catalog import service as catalog
from app.clock import now
from app.exceptions import service as exception_cases
from app.fulfilment import service as fulfilment
from app.notifications import service as outbox
from app.orders import checks
from app.orders import service as orders

OPERATIONS: dict[str, Callable] = {}


def operation(fn: Callable) -> Callable:
    OPERATIONS[fn.__name__] = fn
    return fn


def _order(number: str):
    return orders.get_by_number(number)


@operation
def set_order_status(order_number: str, status: str) -> dict:
    order = orders.set_status(_order(order_number), status)
    return {"order_number": order.number, "status": order.status}


@operation
def order_summary(order_number: str) -> dict:
    order = _order(order_number)
    return {"order_number": order.number, "customer": order.customer_name, "status": order.status,
            "total": str(order.total), "channel": order.channel, "entered_by": order.entered_by,
            "allow_partial": order.allow_partial, "payment_method": order.payment_method}


# Intake ---------------------------------------------------------------------------------------

@operation
def check_intake(order_number: str) -> dict:
    missing = orders.missing_information(_order(order_number))
    return {"complete": not missing, "missing": missing}


@operation
def ask_customer(order_number: str, missing: list, round: int) -> dict:  # noqa: A002 - the diagram's word
    order = orders.set_status(_order(order_number), "clarifying")
    outbox.queue(order, "clarification", f"{order.number}:clarification:{round}", missing=", ".join(missing))
    return {"asked": missing, "round": round}


@operation
def apply_clarification(order_number: str, shipping_address: str = "", contact_email: str = "",
                        contact_phone: str = "", requested_date: str = "") -> dict:
    order = _order(order_number)
    errors: dict[str, str] = {}
    wanted = orders.parse_date(requested_date, "requested_date", errors)
    if errors:
        raise orders.OrderError("; ".join(errors.values()), errors)
    if shipping_address.strip():
        order.shipping_address = shipping_address.strip()
    if wanted is not None:
        order.requested_date = wanted
    if order.customer is not None:
        order.customer.email = contact_email.strip() or order.customer.email
        order.customer.phone = contact_phone.strip() or order.customer.phone
    orders.set_status(order, "entered")
    return {"missing": orders.missing_information(order)}


# Review ---------------------------------------------------------------------------------------

@operation
def review_checks(order_number: str) -> dict:
    order = _order(order_number)
    orders.set_status(order, "in_review")
    return checks.review(order)


@operation
def confirm_order(order_number: str) -> dict:
    order = orders.set_status(_order(order_number), "confirmed")
    order.expected_ship_date = checks.earliest_ship_date(order)
    # Once per total and date: an order changed by an exception and approved again is confirmed again.
    outbox.queue(order, "confirmation", f"{order.number}:confirmation:{order.total}:{order.expected_ship_date}",
                 total=str(order.total), ship_date=order.expected_ship_date.isoformat())
    return {"expected_ship_date": order.expected_ship_date.isoformat()}


@operation
def reject_order(order_number: str, reason: str, round: int) -> dict:  # noqa: A002
    order = orders.set_status(_order(order_number), "negotiating")
    outbox.queue(order, "rejection", f"{order.number}:rejection:{round}", reason=reason)
    return {"reason": reason}


@operation
def apply_negotiation(order_number: str, outcome: str, new_date: str = "", note: str = "") -> dict:
    order = _order(order_number)
    if outcome == "cancel":
        cancel_order(order_number, note or "cancelled after negotiation")
        return {"outcome": outcome, "cancelled": True}
    if outcome == "new_date":
        errors: dict[str, str] = {}
        order.requested_date = orders.parse_date(new_date, "new_date", errors)
        if errors or order.requested_date is None:
            raise orders.OrderError("the new date is missing or malformed")
    elif outcome == "partial_delivery":
        order.allow_partial = True
    elif outcome == "prepayment":
        order.payment_method = "prepayment"
    else:
        raise orders.OrderError(f"unknown outcome '{outcome}'")
    orders.set_status(order, "in_review")
    return {"outcome": outcome, "cancelled": False}


@operation
def cancel_order(order_number: str, reason: str) -> dict:
    order = _order(order_number)
    for line in order.lines:
        if line.reserved_qty:
            catalog.release(line.product, line.reserved_qty, order.number)
            line.reserved_qty = 0
    orders.set_status(order, "cancelled")
    return {"cancelled": True, "reason": reason}


# Fulfilment -----------------------------------------------------------------------------------

@operation
def reserve_stock(order_number: str) -> dict:
    """Reserve what stock allows. `stockout` says a stocked product is short and nobody has decided
    yet what to do about it (made-to-order lines go to production instead)."""
    order = _order(order_number)
    state = fulfilment.reserve(order)
    ready = state["all_reserved"] or (state["allow_partial"] and state["ready_qty"] > 0)
    short_of_stock = any(not line["make_to_order"] for line in state["short"])
    state["stockout"] = short_of_stock and not ready and not exception_cases.stockout_decided(order)
    return state


@operation
def book_production(order_number: str, note: str = "") -> dict:
    return fulfilment.book_production(_order(order_number), note)


@operation
def create_pick_list(order_number: str) -> dict:
    shipment = fulfilment.create_pick_list(_order(order_number))
    return {"shipment": shipment.number, "backorder": shipment.backorder,
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in shipment.lines]}


@operation
def shipment_step(order_number: str, step: str) -> dict:
    shipment = fulfilment.open_shipment(_order(order_number))
    if shipment is None:
        raise fulfilment.FulfilmentError(f"{order_number} has no shipment in preparation")
    return {"shipment": fulfilment.advance(shipment, step).number, "status": step}


@operation
def ship_order(order_number: str, carrier: str, tracking_number: str) -> dict:
    order = _order(order_number)
    shipment = fulfilment.open_shipment(order)
    if shipment is None:
        raise fulfilment.FulfilmentError(f"{order_number} has no shipment ready")
    fulfilment.ship(order, shipment, carrier, tracking_number)
    outbox.queue(order, "shipped", f"{order.number}:shipped:{shipment.number}", shipment=shipment.number,
                 carrier=shipment.carrier, tracking=shipment.tracking_number)
    return {**fulfilment.status(order), "deliver_by": fulfilment.deliver_by(order)}


# Settlement -----------------------------------------------------------------------------------

@operation
def confirm_receipt(order_number: str) -> dict:
    fulfilment.confirm_delivery(_order(order_number))
    return {"delivered_at": now().isoformat()}


def _billing_state(order, invoice) -> dict:
    return {"invoice": invoice.number, "amount": str(invoice.amount), "balance": str(invoice.balance),
            "due_date": invoice.due_date.isoformat(), "paid": invoice.status == "paid",
            "dunning_level": invoice.dunning_level, "next_dunning_at": billing.next_dunning_at(invoice)}


@operation
def issue_invoice(order_number: str) -> dict:
    order = _order(order_number)
    invoice = billing.issue_invoice(order)
    outbox.queue(order, "invoice", f"{order.number}:invoice:{invoice.number}", invoice=invoice.number,
                 amount=str(invoice.amount), due_date=invoice.due_date.isoformat())
    return _billing_state(order, invoice)


@operation
def record_payment(order_number: str, amount: str, method: str, reference: str = "") -> dict:
    order = _order(order_number)
    invoice = billing.record_payment(order, amount, method, reference)
    return _billing_state(order, invoice)


@operation
def send_reminder(order_number: str) -> dict:
    order = _order(order_number)
    invoice = billing.invoice_for(order)
    due = billing.next_dunning_at(invoice) if invoice is not None and invoice.status != "paid" else None
    if due is not None and datetime.fromisoformat(due) > now():
        # A new payment date was agreed after this timer was set (an exception's agree_new_date):
        # no reminder yet; the process waits for the one the new date gives.
        return _billing_state(order, invoice)
    notice = billing.dun(order)
    invoice = notice.invoice
    outbox.queue(order, "reminder", f"{order.number}:reminder:{invoice.number}:{notice.level}:{invoice.due_date}",
                 level=notice.level, invoice=invoice.number, balance=str(invoice.balance),
                 due_date=invoice.due_date.isoformat())
    return _billing_state(order, invoice)


@operation
def collections_outcome(order_number: str, outcome: str, amount: str = "", method: str = "bank_transfer",
                        reference: str = "", promised_date: str = "") -> dict:
    order = _order(order_number)
    if outcome == "paid":
        invoice = billing.record_payment(order, amount, method, reference)
    elif outcome == "promise_to_pay":
        invoice = billing.promise_to_pay(order, promised_date)
    elif outcome == "write_off":
        invoice = billing.write_off(order)
    else:
        raise billing.BillingError(f"unknown outcome '{outcome}'")
    state = _billing_state(order, invoice)
    state["settled"] = invoice.status in ("paid", "cancelled")
    return state


# Completion -----------------------------------------------------------------------------------

@operation
def complete_order(order_number: str) -> dict:
    order = orders.move_on(_order(order_number), "completed")
    order.archived_at = now()
    outbox.queue(order, "follow_up", f"{order.number}:follow_up")
    return {"archived_at": order.archived_at.isoformat()}


# Feature packages register their verbs: the exception process's (and the order process's verbs for
# exceptions), and the SLA helpers of timer expressions.
from app.exceptions import operations as _exception_operations  # noqa: E402,F401
from app.sla import operations as _sla_operations  # noqa: E402,F401
from app.sla import promises as _sla_promises  # noqa: E402,F401
