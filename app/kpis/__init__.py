"""The manager's key figures over a chosen period, read from what the order-to-cash tables record:
orders and their lines, shipments, invoices, payments, credit notes and dunning notices, exception
cases, escalations and the staff's human tasks. Queries only; nothing here writes.

Every figure carries the counts it rests on (a `Share` its part and whole, a `Spread` its number of
durations), so a period without data reads as "no data", never as 0 % or a division by zero.
`report(period)` gathers them all for the KPI page."""

from app.kpis.period import Period
from app.kpis.report import Report, report

__all__ = ["Period", "Report", "report"]
