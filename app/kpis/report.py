"""Every KPI of the manager's page for one period, gathered in one call."""

from dataclasses import dataclass

from app.kpis.delivery import OnTime, PerfectOrders, on_time_delivery, order_to_delivery, order_to_ship, perfect_orders
from app.kpis.exception_rate import ExceptionRate, exception_rate
from app.kpis.measures import Spread
from app.kpis.period import Period
from app.kpis.receivables import Receivables, receivables
from app.kpis.service_levels import Team, teams
from app.kpis.stages import OpenStage, StageTime, cycle_times, open_tasks_by_stage, orders_by_status


@dataclass(frozen=True)
class Report:
    period: Period
    orders_by_status: dict[str, int]  # now, whatever the period
    open_tasks: list[OpenStage]  # now, whatever the period
    cycle_times: list[StageTime]
    order_to_ship: Spread
    order_to_delivery: Spread
    on_time: OnTime
    perfect: PerfectOrders
    exceptions: ExceptionRate
    teams: list[Team]
    receivables: Receivables


def report(period: Period) -> Report:
    return Report(
        period=period,
        orders_by_status=orders_by_status(),
        open_tasks=open_tasks_by_stage(),
        cycle_times=cycle_times(period),
        order_to_ship=order_to_ship(period),
        order_to_delivery=order_to_delivery(period),
        on_time=on_time_delivery(period),
        perfect=perfect_orders(period),
        exceptions=exception_rate(period),
        teams=teams(period),
        receivables=receivables(period),
    )
