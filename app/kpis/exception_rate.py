"""How often orders go wrong: exception cases raised in a period per 100 orders entered in it, by family."""

from dataclasses import dataclass

from sqlalchemy import func, select

from app.exceptions import taxonomy
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.kpis.measures import Rate
from app.kpis.period import Period
from app.orders.models import Order


@dataclass(frozen=True)
class ExceptionRate:
    orders: int  # entered in the period: the base
    total: Rate
    by_family: dict[str, Rate]  # every family of the taxonomy, in its order


def exception_rate(period: Period) -> ExceptionRate:
    """Cases raised in the period (`exception_case.created_at`; cases withdrawn as raised in error left
    out) per 100 orders entered in the period (`customer_order.created_at`). A case may concern an
    order entered earlier: this is a rate of flows over the same weeks, not the share of this period's
    orders that went wrong, and it can exceed 100."""
    orders = db.session.scalar(select(func.count(Order.id)).where(
        Order.created_at >= period.start, Order.created_at < period.end))
    counts = dict(db.session.execute(
        select(ExceptionCase.family, func.count(ExceptionCase.id))
        .where(ExceptionCase.created_at >= period.start, ExceptionCase.created_at < period.end,
               ExceptionCase.status != "cancelled")
        .group_by(ExceptionCase.family)).all())
    families = list(taxonomy.FAMILIES) + sorted(set(counts) - set(taxonomy.FAMILIES))
    return ExceptionRate(orders, Rate(sum(counts.values()), orders),
                         {family: Rate(counts.get(family, 0), orders) for family in families})
