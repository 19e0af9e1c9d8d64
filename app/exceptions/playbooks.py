"""The remedies of the playbooks: what each action does to the order, its stock and its money.

`apply()` carries an action out in the caller's transaction and returns the outcome the exception
process needs: whether a refund waits for approval, and which message the order's process gets
when the case closes. `check()` runs the same code in a savepoint that is rolled back, so the form
refuses by field exactly what the action would refuse, and writes nothing.
"""

from datetime import date
from decimal import Decimal

from app.billing import service as billing
from app.catalog import service as catalog
from app.exceptions import service as cases
from app.exceptions import taxonomy
from app.exceptions.models import ExceptionCase, NonConformance
from app.extensions import db
from app.fulfilment import service as fulfilment
from app.notifications import service as outbox
from app.numbering import next_number
from app.orders import service as orders
from app.orders.models import Order
from app.workflow import runtime

FIELDS = ("amount", "new_date", "shipping_address", "line", "quantity", "sku", "carrier", "tracking_number",
          "claim_reference", "corrective_action", "preventive_action", "resolution")


class PlaybookError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _need(values: dict, name: str, what: str):
    value = values.get(name)
    if value in (None, ""):
        raise PlaybookError(name, f"{what} is needed for this action")
    return value.strip() if isinstance(value, str) else value


def _amount(values: dict) -> Decimal:
    try:
        return billing.parse_amount(_need(values, "amount", "an amount"))
    except billing.BillingError as error:
        raise PlaybookError("amount", str(error)) from None


def _line(order: Order, values: dict, details: dict):
    position = values.get("line") or details.get("line")
    if position in (None, ""):
        if len(order.lines) == 1:
            return order.lines[0]
        raise PlaybookError("line", "say which line (its position on the order)")
    line = next((line for line in order.lines if line.position == int(position)), None)
    if line is None:
        raise PlaybookError("line", f"{order.number} has no line {position}")
    return line


def _money_back(case: ExceptionCase, order: Order, amount: Decimal, by: str, reason: str) -> dict:
    """What the customer has not paid is credited; what they paid is refunded after approval."""
    invoice = billing.invoice_for(order)
    outcome: dict = {}
    open_part = min(amount, invoice.balance) if invoice is not None else Decimal("0")
    if open_part > 0:
        note = billing.credit(order, open_part, reason)
        outbox.queue(order, "credit_note", f"{case.number}:credit:{note.number}", credit_note=note.number,
                     amount=str(note.amount), invoice=note.invoice.number)
    # Of the rest, only what was paid goes back; goods never invoiced nor paid for cost the customer nothing.
    rest = min(amount - open_part, billing.refundable(order))
    if rest > 0:
        try:
            refund = billing.request_refund(order, rest, by, case.id)
        except billing.BillingError as error:
            raise PlaybookError("amount", str(error)) from None
        outcome["refund_id"] = refund.id
        outcome["approval"] = "manager" if rest > taxonomy.REFUND_APPROVAL_LIMIT else "finance"
    return outcome


def _shipped_value(order: Order) -> Decimal:
    return sum((line.unit_price * (line.shipped_qty - line.returned_qty) for line in order.lines), Decimal("0"))


def _end_order(order: Order, status: str) -> dict:
    """The order ends here; its process is told to stop wherever it stands."""
    orders.set_status(order, status)
    return {"message": "order_cancelled"}


# The actions, by type -------------------------------------------------------------------------

def _apply_change(case, order, values, by):
    if not runtime.waits_for(order.number, "order_changed"):
        raise PlaybookError("action", f"{order.number} is past the stage where it can be changed "
                                      f"({order.status}, shipment {order.shipment_status})")
    details = case.details or {}
    address = (values.get("shipping_address") or details.get("shipping_address") or "").strip()
    requested = [(_line(order, where, {}), quantity, sku) for where, quantity, sku in _requested_lines(values, details)]
    if not (address or requested):
        raise PlaybookError("quantity", "the change asks for nothing: give a quantity, a product or an address")
    for line, quantity, _sku in requested:
        if quantity:
            quantity = int(quantity)
            if quantity < max(line.shipped_qty, 1):
                raise PlaybookError("quantity", f"line {line.position} cannot go below the {line.shipped_qty} "
                                                "already delivered, nor to nothing")
            line.quantity = quantity
    for line, quantity, _sku in requested:
        if quantity and line.shipped_qty and all(other.open_qty == 0 for other in order.lines):
            # Reviewed again, such an order would reach the pick list with nothing to pick.
            raise PlaybookError("quantity", f"line {line.position} at {line.quantity} leaves nothing of "
                                            f"{order.number} to ship; the order cannot be reviewed again "
                                            "once everything is delivered")
    for line, _quantity, sku in requested:
        if sku:
            _change_product(order, line, sku, partly_delivered_field="sku")
            line.unit_price = line.product.list_price  # the agreed price was for the old product
    if requested:
        order.total = sum((line.amount for line in order.lines), Decimal("0"))
    if address:
        order.shipping_address = address
    return {"message": "order_changed"}


def _requested_lines(values: dict, details: dict) -> list[tuple[dict, object, str]]:
    """The line changes asked for, each as (where its position is, quantity, SKU): the resolver's entry
    or the one reported line; or, when a partner asked for several lines at once (details["lines"])
    and the resolver named none, each of those."""
    several = details.get("lines") or []
    if len(several) > 1 and not any(values.get(name) for name in ("line", "quantity", "sku")):
        return [({"line": item["position"]}, item.get("quantity"), (item.get("sku") or "").strip())
                for item in several]
    quantity = values.get("quantity") or details.get("quantity")
    sku = (values.get("sku") or details.get("sku") or "").strip()
    if not (quantity or sku):
        return []
    return [({"line": values.get("line") or details.get("line")}, quantity, sku)]


def _cancel_order(case, order, values, by):
    if order.status in cases.FINISHED:
        raise PlaybookError("action", f"{order.number} is already {order.status}")
    if not any(line.shipped_qty for line in order.lines):
        fulfilment.release_reservations(order)
        outcome = _end_order(order, "cancelled")
        outbox.queue(order, "order_cancelled", f"{case.number}:cancelled", reason=case.description or "your request")
        return outcome
    # Goods are out: a return. They come back to stock; the money owed is credited or refunded.
    value = _shipped_value(order)
    fulfilment.release_reservations(order)
    fulfilment.take_back(order, f"returned ({case.number})")
    outcome = _money_back(case, order, value, by, f"return of {order.number}") if value else {}
    outcome.update(_end_order(order, "returned"))
    outbox.queue(order, "order_cancelled", f"{case.number}:returned", reason=case.description or "your request")
    return outcome


def _new_payment_date(case, order, values, by):
    invoice = billing.invoice_for(order)
    if invoice is None:
        raise PlaybookError("action", f"{order.number} has no open invoice")
    billing.promise_to_pay(order, _date(values))
    return {}


def _date(values: dict) -> date:
    errors: dict[str, str] = {}
    value = orders.parse_date(_need(values, "new_date", "a new date"), "new_date", errors)
    if errors:
        raise PlaybookError("new_date", errors["new_date"])
    return value


def _hold_supply(case, order, values, by):
    if order.customer is not None:
        order.customer.on_credit = False  # further orders need prepayment until this is cleared
    return {}


def _compensate_credit(case, order, values, by):
    try:
        note = billing.credit(order, _amount(values), f"compensation ({case.number})")
    except billing.BillingError as error:
        raise PlaybookError("amount", str(error)) from None
    outbox.queue(order, "credit_note", f"{case.number}:credit:{note.number}", credit_note=note.number,
                 amount=str(note.amount), invoice=note.invoice.number)
    return {}


def _refund(case, order, values, by):
    try:
        refund = billing.request_refund(order, _amount(values), by, case.id)
    except billing.BillingError as error:
        raise PlaybookError("amount", str(error)) from None
    return {"refund_id": refund.id,
            "approval": "manager" if refund.amount > taxonomy.REFUND_APPROVAL_LIMIT else "finance"}


def _reship(case, order, values, by):
    try:
        shipment = fulfilment.reship(order, _need(values, "carrier", "a carrier"),
                                     _need(values, "tracking_number", "a tracking number"))
    except fulfilment.FulfilmentError as error:
        raise PlaybookError("tracking_number", str(error)) from None
    outbox.queue(order, "shipped", f"{case.number}:reshipped:{shipment.number}", shipment=shipment.number,
                 carrier=shipment.carrier, tracking=shipment.tracking_number)
    return {}


def _refund_in_transit(case, order, values, by):
    value = _shipped_value(order)
    if not value:
        raise PlaybookError("action", f"nothing of {order.number} is out with a carrier")
    fulfilment.write_off_in_transit(order)
    outcome = _money_back(case, order, value, by, f"goods lost or damaged ({case.number})")
    outcome.update(_end_order(order, "returned" if order.status == "delivered" else "cancelled"))
    return outcome


def _backorder(case, order, values, by):
    order.allow_partial = False
    return {}


def _partial_shipment(case, order, values, by):
    order.allow_partial = True
    return {}


def _substitute(case, order, values, by):
    line = _line(order, values, case.details or {})
    _change_product(order, line, _need(values, "sku", "the substitute product's SKU"), partly_delivered_field="line")
    return {}


def _change_product(order: Order, line, sku: str, partly_delivered_field: str) -> None:
    """The line takes another product; what was reserved of the old one goes back to stock."""
    product = catalog.by_sku(sku)
    if product is None or not product.active:
        raise PlaybookError("sku", f"unknown product '{sku}'")
    if line.shipped_qty:
        raise PlaybookError(partly_delivered_field,
                            f"line {line.position} is partly delivered; its product cannot change")
    if line.reserved_qty:
        catalog.release(line.product, line.reserved_qty, order.number)
        line.reserved_qty = 0
    line.product, line.sku, line.make_to_order = product, product.sku, product.make_to_order


def _cancel_lines(case, order, values, by):
    short = [line for line in order.lines if line.open_qty > line.reserved_qty and not line.make_to_order]
    if not short:
        raise PlaybookError("action", f"no line of {order.number} is short of stock now")
    for line in short:
        keep = line.shipped_qty + line.reserved_qty
        if keep:
            line.quantity = keep
        else:
            order.lines.remove(line)
            db.session.delete(line)
    if any(line.shipped_qty for line in order.lines) and all(line.open_qty == 0 for line in order.lines):
        # The order process would go on to a pick list with nothing to pick (it has no way yet from
        # reservation straight to the delivery of what already left).
        raise PlaybookError("action", f"cancelling the short lines leaves nothing of {order.number} to ship "
                                      "after its part delivery; backorder the rest instead")
    order.total = sum((line.amount for line in order.lines), Decimal("0"))
    if not order.lines:
        return _end_order(order, "cancelled")
    return {}


def _adjust_stock(case, order, values, by):
    details = case.details or {}
    sku = (values.get("sku") or details.get("sku") or "").strip()
    product = catalog.by_sku(sku) if sku else None
    if product is None:
        raise PlaybookError("sku", "give the SKU that was counted")
    counted = values.get("quantity") if values.get("quantity") not in (None, "") else details.get("counted")
    if counted in (None, ""):
        raise PlaybookError("quantity", "give the counted quantity")
    try:
        catalog.adjust(product, int(counted), f"count ({case.number})")
    except catalog.StockError as error:
        raise PlaybookError("quantity", str(error)) from None
    return {}


def _repick(case, order, values, by):
    fulfilment.release_reservations(order)
    return {}


def _quality_hold(case, order, values, by):
    line = _line(order, values, case.details or {})
    quantity = int(_need(values, "quantity", "the defective quantity"))
    try:
        fulfilment.scrap(order, line.sku, quantity, f"defective ({case.number})")
    except (fulfilment.FulfilmentError, catalog.StockError) as error:
        raise PlaybookError("quantity", str(error)) from None
    fulfilment.release_reservations(order)
    return {}


def _new_promise(case, order, values, by):
    order.expected_ship_date = _date(values)
    outbox.queue(order, "new_date", f"{case.number}:new_date", date=order.expected_ship_date.isoformat())
    return {}


def _redeliver(case, order, values, by):
    address = (values.get("shipping_address") or "").strip()
    if case.type == "wrong_address":
        if not address:
            raise PlaybookError("shipping_address", "the corrected address is needed")
        order.shipping_address = address
    return {}


def _return_and_refund(case, order, values, by):
    value = _shipped_value(order)
    if not value:
        raise PlaybookError("action", f"nothing of {order.number} is out with the customer")
    fulfilment.take_back(order, f"refused on delivery ({case.number})")
    outcome = _money_back(case, order, value, by, f"delivery refused ({case.number})")
    outcome.update(_end_order(order, "returned"))  # the goods came back, as after a cancellation once shipped
    return outcome


def _retry_payment(case, order, values, by):
    before = (case.details or {}).get("payment_status_before")
    if order.payment_status == "failed" and before:
        orders.set_status(order, before, kind="payment_status")
    return {}


def _other_method(case, order, values, by):
    return _retry_payment(case, order, values, by)


def _hold_after_failure(case, order, values, by):
    _retry_payment(case, order, values, by)
    return _hold_supply(case, order, values, by)


def _credit_and_reissue(case, order, values, by):
    try:
        note, corrected = billing.reissue(order, _amount(values), f"invoice error ({case.number})")
    except billing.BillingError as error:
        raise PlaybookError("amount", str(error)) from None
    outbox.queue(order, "credit_note", f"{case.number}:credit:{note.number}", credit_note=note.number,
                 amount=str(note.amount), invoice=note.invoice.number)
    outbox.queue(order, "invoice", f"{case.number}:invoice:{corrected.number}", invoice=corrected.number,
                 amount=str(corrected.amount), due_date=corrected.due_date.isoformat())
    return {}


def _non_conformance(case, order, values, by):
    corrective = _need(values, "corrective_action", "the corrective action")
    preventive = _need(values, "preventive_action", "the preventive action")
    db.session.add(NonConformance(number=next_number("NC"), exception_id=case.id,
                                  description=values.get("resolution") or case.description,
                                  corrective_action=corrective, preventive_action=preventive, recorded_by=by))
    if case.type == "production_delay" and values.get("new_date"):
        return _new_promise(case, order, values, by)
    return {}


def _nothing(case, order, values, by):
    return {}


ACTIONS = {
    ("data_change", "apply_change"): _apply_change,
    ("data_change", "decline_change"): _nothing,
    ("cancellation", "cancel_order"): _cancel_order,
    ("cancellation", "keep_order"): _nothing,
    ("late_payment", "send_reminder"): _nothing,  # the reply to the customer is the reminder
    ("late_payment", "agree_new_date"): _new_payment_date,
    ("late_payment", "hold_supply"): _hold_supply,
    ("complaint", "compensate_credit"): _compensate_credit,
    ("complaint", "compensate_refund"): _refund,
    ("complaint", "replace_goods"): _reship,
    ("complaint", "no_compensation"): _nothing,
    ("stockout", "backorder"): _backorder,
    ("stockout", "partial_shipment"): _partial_shipment,
    ("stockout", "substitute"): _substitute,
    ("stockout", "cancel_lines"): _cancel_lines,
    ("count_mismatch", "adjust_stock"): _adjust_stock,
    ("wrong_pick", "repick"): _repick,
    ("wrong_pick", "quality_hold"): _quality_hold,
    ("delivery_delay", "new_promise"): _new_promise,
    ("lost", "reship"): _reship,
    ("lost", "refund"): _refund_in_transit,
    ("damaged", "reship"): _reship,
    ("damaged", "refund"): _refund_in_transit,
    ("wrong_address", "redeliver"): _redeliver,
    ("refused", "return_and_refund"): _return_and_refund,
    ("refused", "redeliver"): _redeliver,
    ("payment_failure", "retry_payment"): _retry_payment,
    ("payment_failure", "other_method"): _other_method,
    ("payment_failure", "hold_supply"): _hold_after_failure,
    ("invoice_error", "credit_and_reissue"): _credit_and_reissue,
    ("refund", "refund"): _refund,
    ("refund", "decline_refund"): _nothing,
    ("entry_error", "correct_and_record"): _non_conformance,
    ("system_delay", "correct_and_record"): _non_conformance,
    ("production_delay", "correct_and_record"): _non_conformance,
}


def apply(case: ExceptionCase, action: str, values: dict, by: str) -> dict:
    """Carry out the action; PlaybookError (by field) if it does not fit the case or the order now."""
    if not case.is_open:
        raise PlaybookError("action", f"{case.number} is already {case.status}")
    remedy = ACTIONS.get((case.type, action))
    if remedy is None:
        raise PlaybookError("action", f"'{action}' is not in the playbook for {taxonomy.TYPES[case.type].label}")
    outcome = remedy(case, case.order, values, by) or {}
    case.action = action
    case.details = {**(case.details or {}), "outcome": {k: v for k, v in outcome.items() if k != "approval"}}
    db.session.flush()
    return {"approval": outcome.get("approval") or "", "refund_id": outcome.get("refund_id") or 0,
            "message": outcome.get("message") or ""}


def check(case: ExceptionCase, action: str, values: dict, by: str) -> dict[str, str]:
    """What apply() would refuse, by field, with nothing written."""
    savepoint = db.session.begin_nested()
    try:
        apply(case, action, values, by)
    except PlaybookError as error:
        return {error.field: str(error)}
    finally:
        savepoint.rollback()
    return {}


def _actions_for(business_key: str | None) -> list[tuple[str, str]]:
    case = db.session.scalar(db.select(ExceptionCase).where(ExceptionCase.number == (business_key or "")))
    if case is None:
        return []
    return list(taxonomy.TYPES[case.type].actions.items())


def _check_resolution(business_key: str | None, data: dict) -> dict[str, str]:
    case = db.session.scalar(db.select(ExceptionCase).where(ExceptionCase.number == (business_key or "")))
    if case is None:
        return {"action": "this task does not belong to an exception case"}
    # The form's defaults (0 for line and quantity) mean "not given", as apply_resolution reads them:
    # the dry run must see what the action will see, or a count left to the case's details reads as 0.
    values = {**data, "line": data.get("line") or "", "quantity": data.get("quantity") or ""}
    return check(case, data.get("action", ""), values, by="")
