"""What customers owe: receivables at the end of a period by age past due and by dunning level, and
DSO (days sales outstanding) over the period."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from app.billing.models import CreditNote, DunningNotice, Invoice, Payment
from app.billing.service import DUNNING_DAYS
from app.clock import now
from app.extensions import db
from app.kpis.period import Period

ZERO = Decimal("0")
# Days past the due date: (key, first day, last day); None leaves that end open.
AGE_BUCKETS = (("current", None, 0), ("1_30", 1, 30), ("31_60", 31, 60), ("61_90", 61, 90), ("over_90", 91, None))
DUNNING_LEVELS = tuple(range(len(DUNNING_DAYS) + 1))  # 0: no reminder yet … the last: handed to collections


@dataclass(frozen=True)
class Amount:
    count: int  # invoices (or credit notes) behind the amount
    amount: Decimal


def age_bucket(days_past_due: int) -> str:
    for key, first, last in AGE_BUCKETS:
        if (first is None or days_past_due >= first) and (last is None or days_past_due <= last):
            return key
    raise AssertionError(days_past_due)  # the buckets cover every whole number


@dataclass(frozen=True)
class Receivables:
    as_of: datetime
    total: Amount
    by_age: dict[str, Amount]
    by_level: dict[int, Amount]
    invoiced: Amount  # invoices issued in the period
    credited: Amount  # credit notes issued in the period
    days: Decimal  # the length of the period

    @property
    def sales(self) -> Decimal:
        """Net credit sales in the period: invoiced less credited."""
        return self.invoiced.amount - self.credited.amount

    @property
    def dso(self) -> Decimal | None:
        """DSO = receivables at the period's end ÷ net credit sales in the period × days in the period,
        to a tenth of a day; None without sales to divide by."""
        if self.sales <= 0:
            return None
        return (self.total.amount / self.sales * self.days).quantize(Decimal("0.1"))


def _sums(rows) -> dict[int, Decimal]:
    sums: defaultdict[int, Decimal] = defaultdict(lambda: ZERO)
    for key, amount in rows:
        sums[key] += amount
    return sums


def receivables(period: Period) -> Receivables:
    """Receivables as of the period's end (`Period.as_of`: now while the period still runs).

    An invoice issued by then counts while its balance then was above zero: its amount less the
    payments received and the credit notes issued by then (a refund paid out takes back a payment and
    forgives as much, so it leaves the balance as it was). "By then" is before the end of a period that
    has ended, and up to this moment in one that still runs. Written-off invoices (status `cancelled`) are left
    out: the tables keep no date for a write-off.

    - By age: days from the invoice's due date to the as-of day (0 or less is current). The due date is
      the invoice's current one: a promise to pay moves it, and the old one is not kept.
    - By dunning level: the invoice's level now; for a period that has ended, the level of the last
      reminder sent before its end (0 if none). A promise to pay that restarted the ladder between that
      reminder and the period's end is not recorded with a date, so it does not show there.

    Sales for DSO: invoices issued in the period (at their full amount, written off later or not) less
    credit notes issued in it. Refunds are money paid back, not sales, and are not deducted."""
    as_of = period.as_of
    still_running = period.end > now()

    def recorded(column):
        """Recorded by then: before the end of a period that has ended, up to this moment in one that runs."""
        return column <= as_of if still_running else column < as_of

    invoices = list(db.session.scalars(select(Invoice).where(recorded(Invoice.issued_at),
                                                             Invoice.status != "cancelled").order_by(Invoice.id)))
    paid = _sums(db.session.execute(select(Payment.invoice_id, Payment.amount).where(recorded(Payment.received_at))))
    credited = _sums(db.session.execute(select(CreditNote.invoice_id, CreditNote.amount)
                                        .where(recorded(CreditNote.created_at))))
    last_level: dict[int, int] = {}
    if not still_running:
        for invoice_id, level in db.session.execute(
                select(DunningNotice.invoice_id, DunningNotice.level).where(recorded(DunningNotice.sent_at))
                .order_by(DunningNotice.sent_at, DunningNotice.id)):
            last_level[invoice_id] = level  # the latest one wins

    # Ages count to the last day the balances belong to: today in a running period, its last day else.
    age_day = as_of.date() if still_running else period.last_day
    by_age = {key: [0, ZERO] for key, _, _ in AGE_BUCKETS}
    by_level = {level: [0, ZERO] for level in DUNNING_LEVELS}
    for invoice in invoices:
        balance = invoice.amount - paid.get(invoice.id, ZERO) - credited.get(invoice.id, ZERO)
        if balance <= 0:
            continue
        level = invoice.dunning_level if still_running else last_level.get(invoice.id, 0)
        for tally in (by_age[age_bucket((age_day - invoice.due_date).days)],
                      by_level.setdefault(level, [0, ZERO])):
            tally[0] += 1
            tally[1] += balance

    issued = db.session.execute(select(Invoice.amount).where(Invoice.issued_at >= period.start,
                                                             Invoice.issued_at < period.end)).scalars().all()
    notes = db.session.execute(select(CreditNote.amount).where(CreditNote.created_at >= period.start,
                                                               CreditNote.created_at < period.end)).scalars().all()
    return Receivables(
        as_of=as_of,
        total=Amount(sum(count for count, _ in by_age.values()), sum((amount for _, amount in by_age.values()), ZERO)),
        by_age={key: Amount(*tally) for key, tally in by_age.items()},
        by_level={level: Amount(*tally) for level, tally in sorted(by_level.items())},
        invoiced=Amount(len(issued), sum(issued, ZERO)),
        credited=Amount(len(notes), sum(notes, ZERO)),
        days=Decimal(str(period.days)),
    )
