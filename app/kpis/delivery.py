"""Delivery figures over a period: how long orders take to ship and to arrive, whether they arrive
by the day promised, and how many are perfect orders."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.billing.models import CreditNote, Invoice
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.fulfilment.models import Shipment
from app.fulfilment.service import TRANSIT_DAYS
from app.kpis.measures import Share, Spread
from app.kpis.period import Period
from app.orders.models import Order


def _last_moment_in(period: Period, column) -> list[tuple[Order, datetime]]:
    """Orders whose latest shipment `column` (shipped_at, delivered_at) falls in the period, with it."""
    latest = func.max(column)
    rows = db.session.execute(
        select(Shipment.order_id, latest).where(column.is_not(None)).group_by(Shipment.order_id)
        .having(latest >= period.start, latest < period.end)).all()
    moments = dict(rows)
    orders = db.session.scalars(select(Order).where(Order.id.in_(list(moments))).options(selectinload(Order.lines))
                                .order_by(Order.id))
    return [(order, moments[order.id]) for order in orders]


def delivered_in(period: Period) -> list[tuple[Order, datetime]]:
    """Orders delivered in the period, with their delivery: the moment the customer confirmed receipt
    of their last shipment (the latest `shipment.delivered_at`)."""
    return _last_moment_in(period, Shipment.delivered_at)


def shipped_in_full(order: Order) -> bool:
    return all(line.shipped_qty >= line.quantity for line in order.lines)


def order_to_ship(period: Period) -> Spread:
    """From the order's entry (`created_at`) to the departure of the shipment that completed it, over
    the orders whose last shipment left in the period and that have everything shipped (an order still
    waiting for a backorder has not shipped yet)."""
    return Spread.of(at - order.created_at for order, at in _last_moment_in(period, Shipment.shipped_at)
                     if shipped_in_full(order))


def order_to_delivery(period: Period) -> Spread:
    """From the order's entry to its delivery, over the orders delivered in the period."""
    return Spread.of(at - order.created_at for order, at in delivered_in(period))


def promised_by(order: Order) -> datetime | None:
    """The end of the day the order promises delivery on (UTC), as the order process holds it
    (fulfilment.deliver_by): the customer's requested date, else the expected ship date plus the
    transit days. None when the order names neither. It is the promise as it stands now: a new date
    given after a delay (which moves the expected ship date) replaces the first."""
    if order.requested_date is not None:
        promised = order.requested_date
    elif order.expected_ship_date is not None:
        promised = order.expected_ship_date + timedelta(days=TRANSIT_DAYS)
    else:
        return None
    return datetime.combine(promised + timedelta(days=1), time(0), UTC)


@dataclass(frozen=True)
class OnTime:
    share: Share  # delivered by the promised day, of the orders delivered in the period that promise one
    without_promise: int  # delivered in the period with no date promised: left out of the share


def on_time_delivery(period: Period) -> OnTime:
    """The share of the orders delivered in the period (see `delivered_in`) that arrived by the end of
    their promised day (see `promised_by`). Orders that promise no date are counted apart."""
    delivered = delivered_in(period)
    deadlines = [(at, promised_by(order)) for order, at in delivered]
    kept = [at < deadline for at, deadline in deadlines if deadline is not None]
    return OnTime(Share(sum(kept), len(kept)), len(delivered) - len(kept))


@dataclass(frozen=True)
class PerfectOrders:
    share: Share  # perfect, of the orders delivered in the period that promise a date
    on_time: Share
    in_full: Share
    no_exception: Share
    invoice_right: Share
    without_promise: int


def perfect_orders(period: Period) -> PerfectOrders:
    """The perfect-order rate: of the orders delivered in the period that promise a date, the share
    that passed all four checks at once (counted per order, which is stricter than multiplying the
    four rates):

    - on time: delivered by the end of the promised day (`promised_by`);
    - in full and undamaged: every line shipped in its whole (current) quantity and nothing of it came
      back (`returned_qty` is 0: no return, refusal, loss or damage written off);
    - no exception: no exception case was ever raised against the order, in any family, except cases
      withdrawn as raised in error (status `cancelled`);
    - invoice right: the order was invoiced exactly once and no credit note was issued against it
      (a credit note corrects a wrong invoice, a return or a complaint).

    The checks read the order as it stands now, so a complaint or a credit note that comes after the
    period still counts against its order. Each check's own share is given too, over the same orders."""
    delivered = [(order, at, promised_by(order)) for order, at in delivered_in(period)]
    promising = [(order, at, deadline) for order, at, deadline in delivered if deadline is not None]
    ids = [order.id for order, _, _ in promising]
    raised = set(db.session.scalars(select(ExceptionCase.order_id).where(
        ExceptionCase.order_id.in_(ids), ExceptionCase.status != "cancelled")))
    invoices = Counter(db.session.scalars(select(Invoice.order_id).where(Invoice.order_id.in_(ids))))
    credited = set(db.session.scalars(select(CreditNote.order_id).where(CreditNote.order_id.in_(ids))))
    checks = {"on_time": 0, "in_full": 0, "no_exception": 0, "invoice_right": 0}
    perfect = 0
    for order, delivered_at, deadline in promising:
        passed = {
            "on_time": delivered_at < deadline,
            "in_full": shipped_in_full(order) and not any(line.returned_qty for line in order.lines),
            "no_exception": order.id not in raised,
            "invoice_right": invoices.get(order.id, 0) == 1 and order.id not in credited,
        }
        for check, ok in passed.items():
            checks[check] += ok
        perfect += all(passed.values())
    whole = len(promising)
    return PerfectOrders(Share(perfect, whole), **{check: Share(count, whole) for check, count in checks.items()},
                         without_promise=len(delivered) - whole)
