"""What reaches an order from outside — a new order from any channel, a receipt or a payment reported
by a partner system — turned into the order and the process that runs it, in one transaction.

This is the one module of app/orders that drives app.workflow.runtime: an order must never exist
without its process, nor a process without its order.
"""

from sqlalchemy import bindparam, select

from app.billing import service as billing
from app.customers.models import Customer
from app.extensions import db
from app.orders.models import Order
from app.orders.service import LineInput, OrderError, create_order
from app.workflow import runtime
from app.workflow.errors import NotFound, NotWaiting

PROCESS_KEY = "order_process"
EVENTS = ("goods_received", "payment_received")


_CUSTOMER_BY_CODE = select(Customer).where(Customer.code == bindparam("code"))  # built once: every order reads it


def customer_by_code(code) -> Customer | None:
    if not isinstance(code, str) or not code.strip() or len(code.strip()) > 20:
        return None
    return db.session.scalar(_CUSTOMER_BY_CODE, {"code": code.strip()})


def place_order(customer_code: str, channel: str, lines: list[LineInput], *, requested_date=None,
                payment_method: str = "credit", remarks: str = "", allow_partial: bool = False,
                shipping_address: str | None = None, entered_by: str, queued: bool = False) -> Order:
    """Record the order and start its order process, committed together or not at all. Input that
    cannot become an order raises OrderError listing every field (the customer under `customer_code`).
    `entered_by` (a username, or `api:<client>`) is who the process's four-eyes checks keep apart.
    `queued`: the process is recorded with the order but first runs at the scheduler's next poll
    (runtime.enqueue); the order stays `entered` until then."""
    if not entered_by:
        raise ValueError("place_order needs to know who entered the order")
    with runtime.unit_of_work():
        customer = customer_by_code(customer_code)
        try:
            order = create_order(customer, channel, lines, requested_date=requested_date,
                                 payment_method=payment_method, remarks=remarks, allow_partial=allow_partial,
                                 shipping_address=shipping_address, entered_by=entered_by,
                                 in_session=not queued)  # a queued process reads it back only when it starts
        except OrderError as error:
            errors = dict(error.errors)
            if "customer" in errors:
                del errors["customer"]
                errors["customer_code"] = f"unknown customer '{str(customer_code or '')[:20]}'"
            raise OrderError(str(error), errors) from None
        data = {"order_number": order.number, "entered_by": entered_by}
        if queued:
            runtime.enqueue(PROCESS_KEY, order.number, data, actor=entered_by)
        else:
            runtime.start(PROCESS_KEY, order.number, data, actor=entered_by, fresh_key=True)
    return order


def _checked_payment(order: Order, payload: dict) -> dict:
    """A payment the process would refuse later (not an amount, more than is due, an unknown method)
    is refused now, by field, instead of stopping the instance with an error."""
    invoice = billing.invoice_for(order)
    if invoice is None:
        return payload  # not invoiced yet: the process is not waiting for a payment; send_message says so
    errors: dict[str, str] = {}
    amount = None
    try:
        amount = billing.parse_amount(payload.get("amount"))
    except billing.BillingError as error:
        errors["payload.amount"] = str(error)
    else:
        if amount > invoice.balance:
            errors["payload.amount"] = f"{amount} is more than the {invoice.balance} still due on {invoice.number}"
    if payload.get("method") not in billing.PAYMENT_METHODS:
        errors["payload.method"] = f"one of {', '.join(billing.PAYMENT_METHODS)}"
    if errors:
        raise OrderError("the payment cannot be recorded", errors)
    return {**payload, "amount": str(amount)}


def report_event(order: Order, kind: str, payload: dict, *, actor: str):
    """Deliver a partner's event (goods received, payment received) to the order's process.
    NotWaiting when the order is not at that stage; the refused message is recorded on the instance."""
    if kind not in EVENTS:
        raise OrderError("unknown event", {"type": f"one of {', '.join(EVENTS)}"})
    if kind == "payment_received":
        payload = _checked_payment(order, payload)
    try:
        return runtime.send_message(order.number, kind, payload, actor=actor)
    except NotFound:
        raise NotWaiting(f"{order.number} has no open process; '{kind}' was not delivered") from None
