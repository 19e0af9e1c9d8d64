"""What partner systems report about an order besides receipts and payments: a customer's change
request or cancellation, a carrier's pick-up, delay, delivery, loss or damage, a failed payment, a
refund request, a complaint. Each becomes an exception case, a message to the order's process, or
only a carrier record — in one transaction, with the partner as reporter.

A carrier's event carries the carrier's own id: the same id twice is one event, acted on once (the
second report gets the first outcome). Refusals write nothing, except that a message the order's
process does not wait for is recorded on its instance, as app.workflow records every such message.
The payloads arrive checked against app/api/schemas.py; this module checks them against the order.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.billing import service as billing
from app.catalog import service as catalog
from app.exceptions import service as cases
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.fulfilment.models import CarrierEvent, Shipment
from app.orders import intake as order_intake
from app.orders import service as orders
from app.orders import states
from app.orders.models import Order
from app.orders.service import OrderError
from app.workflow import runtime
from app.workflow.errors import NotWaiting

CARRIER_EVENTS = ("picked_up", "delayed", "delivered", "lost", "damaged", "wrong_address", "refused")
EVENTS = ("change_request", "cancellation", *CARRIER_EVENTS, "payment_failed", "refund_request", "complaint")
# The exception type each event raises. A pick-up is only recorded; a delivery is the customer's
# receipt (the order process's `goods_received`); a failed payment goes to the process when it waits.
RAISES = {
    "change_request": "data_change", "cancellation": "cancellation", "delayed": "delivery_delay", "lost": "lost",
    "damaged": "damaged", "wrong_address": "wrong_address", "refused": "refused",
    "payment_failed": "payment_failure", "refund_request": "refund", "complaint": "complaint",
}
# Goods are out with a carrier while the order's shipment status is one of these.
IN_TRANSIT = ("partial", "shipped")
RECEIPT_FIELDS = ("signed_by", "received_on", "note")


class Refused(Exception):
    """The order cannot take the event now. `code` names the reason for machines."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Reported:
    """What came of an event: the case it raised, the carrier's record, and whether this was a
    repeat of an event already reported (then both are the first report's, and nothing was done)."""

    case: ExceptionCase | None = None
    carrier_event: CarrierEvent | None = None
    repeated: bool = False


class _Repeat(Exception):
    """The same carrier event was recorded by a concurrent request first: undo ours."""


def report(order: Order, kind: str, payload: dict, *, reporter: str) -> Reported:
    """Act on a partner's event about `order`. OrderError (by field, `payload.…`) when the payload
    does not fit the order; Refused when the order cannot take the event now; NotWaiting when the
    order's process does not wait for the delivery (recorded on its instance)."""
    if kind not in EVENTS:
        raise OrderError("unknown event", {"type": f"one of {', '.join(EVENTS)}"})
    if kind in CARRIER_EVENTS:
        return _carrier_event(order, kind, payload, reporter)
    if kind == "payment_failed":
        return _payment_failed(order, payload, reporter)
    if kind in ("change_request", "cancellation"):
        _refuse_if_finished(order, "it can no longer be " + ("changed" if kind == "change_request" else "cancelled"))
    description, details = _DESCRIBE[kind](order, payload)
    return Reported(case=_raise(order, RAISES[kind], reporter, description, details))


# Customer and payment events ---------------------------------------------------------------------

def _change_request(order: Order, payload: dict) -> tuple[str, dict]:
    errors: dict[str, str] = {}
    changes = []
    for n, item in enumerate(payload.get("lines") or [], start=1):
        field = f"payload.lines.{n}"
        line = next((line for line in order.lines if line.position == item["position"]), None)
        if line is None:
            errors[f"{field}.position"] = f"{order.number} has no line {item['position']}"
            continue
        change = {"position": line.position}
        if "quantity" in item:
            if item["quantity"] < line.shipped_qty:
                errors[f"{field}.quantity"] = (f"line {line.position} cannot go below the {line.shipped_qty} "
                                               "already delivered")
            change["quantity"] = item["quantity"]
        if "sku" in item:
            product = catalog.by_sku(item["sku"])
            if product is None or not product.active:
                errors[f"{field}.sku"] = f"unknown product '{item['sku'][:40]}'"
            elif line.shipped_qty:
                errors[f"{field}.sku"] = f"line {line.position} is partly delivered; its product cannot change"
            else:
                change["sku"] = product.sku
        changes.append(change)
    if errors:
        raise OrderError("the change cannot be taken", errors)
    details: dict = {"reason": payload["reason"].strip()}
    if changes:
        details["lines"] = changes
    if len(changes) == 1:  # one line: in the keys the playbook and the desk read for a single change
        details.update({"line" if key == "position" else key: value for key, value in changes[0].items()})
    if (payload.get("shipping_address") or "").strip():
        details["shipping_address"] = payload["shipping_address"].strip()
    return payload["reason"].strip(), details


def _cancellation(order: Order, payload: dict) -> tuple[str, dict]:
    return payload["reason"].strip(), {"reason": payload["reason"].strip()}


def _refund_request(order: Order, payload: dict) -> tuple[str, dict]:
    try:
        amount = billing.parse_amount(payload["amount"])
    except billing.BillingError as error:
        raise OrderError("the refund cannot be requested", {"payload.amount": str(error)}) from None
    refundable = billing.refundable(order)
    if amount > refundable:
        raise OrderError("the refund cannot be requested", {
            "payload.amount": f"{amount} is more than the {refundable} paid and not refunded on {order.number}"})
    return payload["reason"].strip(), {"amount": str(amount), "reason": payload["reason"].strip()}


def _complaint(order: Order, payload: dict) -> tuple[str, dict]:
    return payload["text"].strip(), {}


_DESCRIBE = {"change_request": _change_request, "cancellation": _cancellation, "refund_request": _refund_request,
             "complaint": _complaint}


def _payment_failed(order: Order, payload: dict, reporter: str) -> Reported:
    """While the order awaits payment its process takes the failure (and raises the case itself);
    at any other stage the case is raised here. Either way the partner is its reporter."""
    _refuse_if_finished(order, "no payment of it can fail any more")
    reason = payload["reason"].strip()
    details = {"reason": reason, **({"reference": payload["reference"]} if payload.get("reference") else {})}
    with runtime.unit_of_work():
        if runtime.waits_for(order.number, "payment_failed"):
            last = db.session.scalar(select(func.max(ExceptionCase.id)).where(ExceptionCase.order_id == order.id))
            runtime.send_message(order.number, "payment_failed", details, actor=reporter)
            case = db.session.scalar(select(ExceptionCase).where(
                ExceptionCase.order_id == order.id, ExceptionCase.type == "payment_failure",
                ExceptionCase.id > (last or 0)).order_by(ExceptionCase.id.desc()))
            if case is not None:
                case.source, case.reported_by = "api", reporter
                case.details = {**(case.details or {}), **details}
            return Reported(case=case)
        before = order.payment_status
        if before != "failed" and states.allowed("payment_status", before, "failed"):
            orders.set_status(order, "failed", kind="payment_status")
            details["payment_status_before"] = before  # what retrying the payment goes back to
        return Reported(case=_raise(order, "payment_failure", reporter, reason, details))


# Carrier events ----------------------------------------------------------------------------------

def _carrier_event(order: Order, kind: str, payload: dict, reporter: str) -> Reported:
    event_id = payload["event_id"]
    seen = _recorded(reporter, event_id)
    if seen is not None:
        return _repeat(seen, order, kind)
    if kind == "delivered":
        return _delivered(order, payload, reporter)
    _refuse_if_finished(order, f"'{kind}' cannot be taken")
    if order.shipment_status not in IN_TRANSIT:
        raise Refused("not_shipped", f"{order.number} has no goods with a carrier (shipment {order.shipment_status}); "
                                     f"'{kind}' cannot be taken")
    shipment = _shipment(order, payload)
    try:
        with runtime.unit_of_work():
            case = None
            if kind in RAISES:
                details = {**payload, **({"shipment": shipment.number} if shipment else {})}
                case = _raise(order, RAISES[kind], reporter, _carrier_says(kind, payload), details,
                              external_ref=f"{reporter}:{event_id}")
            record = _record(order, kind, payload, reporter, shipment, case)
    except IntegrityError as error:
        return _after_race(reporter, event_id, order, kind, error)
    return Reported(case=case, carrier_event=record)


def _delivered(order: Order, payload: dict, reporter: str) -> Reported:
    """The carrier delivered: the customer's receipt, delivered to the order's process."""
    receipt = {key: payload[key] for key in RECEIPT_FIELDS if key in payload}
    receipt["carrier_event"] = payload["event_id"]
    shipment = _shipment(order, payload)
    refused = None
    try:
        with runtime.unit_of_work():
            try:
                order_intake.report_event(order, "goods_received", receipt, actor=reporter)
            except NotWaiting as error:
                if _recorded(reporter, payload["event_id"]) is not None:
                    raise _Repeat from None  # a concurrent report of this event delivered it first
                refused = error  # the runtime recorded the refused message; that record is all this unit keeps
            else:
                record = _record(order, "delivered", payload, reporter, shipment, None)
    except (IntegrityError, _Repeat) as error:
        return _after_race(reporter, payload["event_id"], order, "delivered", error)
    if refused is not None:
        raise refused
    return Reported(carrier_event=record)


def _carrier_says(kind: str, payload: dict) -> str:
    carrier = (payload.get("carrier") or "").strip() or "The carrier"
    said = {"delayed": "reports the delivery delayed", "lost": "reports the goods lost",
            "damaged": "reports the goods damaged", "wrong_address": "cannot deliver to the address given",
            "refused": "reports the delivery refused by the customer"}[kind]
    text = f"{carrier} {said}"
    if payload.get("tracking_number"):
        text += f" (tracking {payload['tracking_number']})"
    if payload.get("new_date"):
        text += f"; new expected date {payload['new_date']}"
    more = (payload.get("reason") or payload.get("note") or "").strip()
    return f"{text}: {more}" if more else text


def _shipment(order: Order, payload: dict) -> Shipment | None:
    """The shipment the event is about: by its tracking number, else the order's latest one out."""
    tracking = (payload.get("tracking_number") or "").strip()
    query = select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id.desc())
    if not tracking:
        return db.session.scalar(query.where(Shipment.status.in_(("shipped", "delivered"))))
    shipment = db.session.scalar(query.where(Shipment.tracking_number == tracking))
    if shipment is None:
        raise OrderError("the event is not about this order's goods", {
            "payload.tracking_number": f"no shipment of {order.number} has tracking number '{tracking[:80]}'"})
    return shipment


def _record(order: Order, kind: str, payload: dict, reporter: str, shipment: Shipment | None,
            case: ExceptionCase | None) -> CarrierEvent:
    occurred = payload.get("occurred_at")
    record = CarrierEvent(order_id=order.id, shipment_id=shipment.id if shipment else None, type=kind,
                          event_id=payload["event_id"], reported_by=reporter, details=payload,
                          exception_id=case.id if case else None,
                          occurred_at=datetime.fromisoformat(occurred) if occurred else None)
    db.session.add(record)
    db.session.flush()  # a concurrent report of the same event fails here, on the unique key
    return record


def _recorded(reporter: str, event_id: str) -> CarrierEvent | None:
    return db.session.scalar(select(CarrierEvent).where(CarrierEvent.reported_by == reporter,
                                                        CarrierEvent.event_id == event_id))


def _repeat(seen: CarrierEvent, order: Order, kind: str) -> Reported:
    if seen.order_id != order.id or seen.type != kind:
        raise Refused("event_id_reused", f"event {seen.event_id} was already reported as '{seen.type}' "
                                         f"for another order or of another kind; send a new event id")
    case = db.session.get(ExceptionCase, seen.exception_id) if seen.exception_id else None
    return Reported(case=case, carrier_event=seen, repeated=True)


def _after_race(reporter: str, event_id: str, order: Order, kind: str, error: Exception) -> Reported:
    """Our unit was rolled back because the same event was recorded first: answer with that one
    (any other clash is not ours to explain, and goes on up)."""
    db.session.rollback()
    seen = _recorded(reporter, event_id)
    if seen is None:
        raise error
    return _repeat(seen, order, kind)


# Shared ------------------------------------------------------------------------------------------

def _refuse_if_finished(order: Order, consequence: str) -> None:
    if order.status in cases.FINISHED:
        raise Refused("order_closed", f"{order.number} is already {order.status}; {consequence}")


def _raise(order: Order, type_key: str, reporter: str, description: str, details: dict,
           external_ref: str | None = None) -> ExceptionCase:
    try:
        return cases.raise_case(order, type_key, source="api", reported_by=reporter,
                                description=description[:cases.MAX_TEXT], details=details,
                                external_ref=external_ref)
    except cases.CancellationPending as error:
        raise Refused("cancellation_pending", str(error)) from None
    except cases.ExceptionError as error:  # the input was checked: what is left is the order refusing
        code = "order_closed" if order.status in cases.FINISHED else "refused"
        raise Refused(code, str(error)) from None
