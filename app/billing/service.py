"""Invoices on delivered quantities, payments against them, and the dunning ladder."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from app.billing.models import CreditNote, DunningNotice, Invoice, Payment, Refund
from app.clock import now
from app.extensions import db
from app.numbering import next_number
from app.orders import service as orders
from app.orders.models import Order

# Days after the due date at which each reminder goes out; the last one hands over to collections.
DUNNING_DAYS = (10, 30, 45)
PAYMENT_METHODS = ("bank_transfer", "card", "cash", "cheque")


class BillingError(ValueError):
    pass


def invoice_for(order: Order) -> Invoice | None:
    return next((invoice for invoice in reversed(_invoices(order)) if invoice.status not in ("cancelled", "credited")),
                None)


def _invoices(order: Order) -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).where(Invoice.order_id == order.id).order_by(Invoice.id)))


def issue_invoice(order: Order) -> Invoice:
    """Invoice what was delivered, due after the customer's payment terms."""
    if invoice_for(order) is not None:
        raise BillingError(f"{order.number} is already invoiced")
    amount = sum((line.unit_price * (line.shipped_qty - line.returned_qty) for line in order.lines), Decimal("0"))
    terms = order.customer.payment_terms_days if order.customer else 30
    invoice = Invoice(number=next_number("INV"), order_id=order.id, customer_id=order.customer_id, amount=amount,
                      due_date=now().date() + timedelta(days=terms))
    db.session.add(invoice)
    orders.set_status(order, "invoiced", kind="payment_status")
    db.session.flush()
    return invoice


def parse_amount(value) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise BillingError(f"'{value}' is not an amount") from None
    if not amount.is_finite() or amount <= 0:
        raise BillingError("a payment must be a positive amount")
    return amount


def record_payment(order: Order, amount, method: str, reference: str = "", by: str = "") -> Invoice:
    invoice = invoice_for(order)
    if invoice is None:
        raise BillingError(f"{order.number} has no invoice to pay")
    amount = parse_amount(amount)
    if method not in PAYMENT_METHODS:
        raise BillingError(f"unknown payment method '{method}'")
    if amount > invoice.balance:
        raise BillingError(f"{amount} is more than the {invoice.balance} still due on {invoice.number}")
    db.session.add(Payment(invoice_id=invoice.id, amount=amount, method=method, reference=reference[:80],
                           recorded_by=by))
    invoice.paid_amount += amount
    invoice.status = "paid" if invoice.balance == 0 else invoice.status
    orders.set_status(order, "paid" if invoice.status == "paid" else "partly_paid", kind="payment_status")
    db.session.flush()
    return invoice


def next_dunning_at(invoice: Invoice) -> str | None:
    """When the next reminder is due (ISO, UTC), or None after the last level."""
    if invoice.dunning_level >= len(DUNNING_DAYS):
        return None
    day = invoice.due_date + timedelta(days=DUNNING_DAYS[invoice.dunning_level])
    return datetime.combine(day, time(9, 0), UTC).isoformat()


def dun(order: Order) -> DunningNotice:
    """The invoice is overdue: climb one level of the ladder."""
    invoice = invoice_for(order)
    if invoice is None or invoice.status == "paid":
        raise BillingError(f"{order.number} has nothing overdue")
    invoice.dunning_level += 1
    invoice.status = "overdue"
    orders.set_status(order, "overdue", kind="payment_status")
    notice = DunningNotice(invoice_id=invoice.id, level=invoice.dunning_level)
    db.session.add(notice)
    db.session.flush()
    return notice


def promise_to_pay(order: Order, promised: str) -> Invoice:
    """Collections agreed a new date: the ladder starts again from it."""
    invoice = invoice_for(order)
    invoice.due_date = datetime.fromisoformat(promised).date() if isinstance(promised, str) else promised
    invoice.dunning_level = 0
    db.session.flush()
    return invoice


def write_off(order: Order) -> Invoice:
    invoice = invoice_for(order)
    invoice.status = "cancelled"
    db.session.flush()
    return invoice


# Giving back -----------------------------------------------------------------------------------

def credit(order: Order, amount, reason: str) -> CreditNote:
    """A credit note against the order's invoice: the customer owes that much less."""
    invoice = invoice_for(order)
    if invoice is None:
        raise BillingError(f"{order.number} has no invoice to credit")
    amount = parse_amount(amount)
    if amount > invoice.balance:
        raise BillingError(f"{amount} is more than the {invoice.balance} still open on {invoice.number}")
    note = CreditNote(number=next_number("CN"), invoice_id=invoice.id, order_id=order.id, amount=amount,
                      reason=reason[:300])
    db.session.add(note)
    invoice.credited_amount += amount
    if invoice.balance == 0:
        invoice.status = "credited" if invoice.paid_amount == 0 else "paid"
        orders.set_status(order, "credited" if invoice.paid_amount == 0 else "paid", kind="payment_status")
    db.session.flush()
    return note


def reissue(order: Order, amount, reason: str) -> tuple[CreditNote, Invoice]:
    """An invoice was wrong: credit what is still open on it and issue a corrected one for `amount`."""
    invoice = invoice_for(order)
    if invoice is None:
        raise BillingError(f"{order.number} has no invoice to correct")
    if invoice.paid_amount:
        raise BillingError(f"{invoice.number} is already partly paid; credit the difference instead")
    amount = parse_amount(amount)
    note = credit(order, invoice.balance, reason)
    corrected = Invoice(number=next_number("INV"), order_id=order.id, customer_id=order.customer_id, amount=amount,
                        due_date=invoice.due_date)
    db.session.add(corrected)
    orders.set_status(order, "invoiced", kind="payment_status")
    db.session.flush()
    return note, corrected


def paid_total(order: Order) -> Decimal:
    return sum((invoice.paid_amount for invoice in _invoices(order)), Decimal("0"))


def refundable(order: Order) -> Decimal:
    """What the customer paid and may still get back: a paid refund already came off the invoice's
    paid amount; one asked for or approved and not yet paid out is set aside."""
    pending = sum((r.amount for r in refunds_of(order) if r.status in ("requested", "approved")), Decimal("0"))
    return paid_total(order) - pending


def request_refund(order: Order, amount, requested_by: str, exception_id: int | None = None) -> Refund:
    amount = parse_amount(amount)
    if amount > refundable(order):
        raise BillingError(f"{amount} is more than the {refundable(order)} paid and not refunded")
    refund = Refund(order_id=order.id, exception_id=exception_id, amount=amount, requested_by=requested_by)
    db.session.add(refund)
    db.session.flush()
    return refund


def refunds_of(order: Order) -> list[Refund]:
    return list(db.session.scalars(select(Refund).where(Refund.order_id == order.id).order_by(Refund.id)))


def decide_refund(refund: Refund, approved: bool, by: str) -> Refund:
    """Approve and pay out, or reject. The approver is never the one who asked for it."""
    if refund.status != "requested":
        raise BillingError(f"the refund is already {refund.status}")
    if by == refund.requested_by:
        raise BillingError("a refund needs a second person to approve it")
    refund.approved_by = by
    if not approved:
        refund.status = "rejected"
        return refund
    refund.status, refund.paid_at = "paid", now()
    order = db.session.get(Order, refund.order_id)
    invoice = invoice_for(order) or next(iter(_invoices(order)), None)
    if invoice is not None:
        invoice.paid_amount -= refund.amount
        invoice.credited_amount += refund.amount  # what was paid back is no longer owed either
    if order.payment_status in ("paid", "partly_paid", "credited"):
        orders.set_status(order, "refunded", kind="payment_status")
    db.session.flush()
    return refund
