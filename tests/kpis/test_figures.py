"""Every KPI on the fixed data set of dataset.py, against figures worked out by hand; and a period
without data, which gives no figure rather than 0 % or a division by zero."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from app import clock, kpis
from app.extensions import db
from app.kpis.delivery import on_time_delivery, order_to_delivery, order_to_ship, perfect_orders
from app.kpis.exception_rate import exception_rate
from app.kpis.measures import Rate, Share, Spread
from app.kpis.period import Period
from app.kpis.receivables import Amount, age_bucket, receivables
from app.kpis.service_levels import Team, teams
from app.kpis.stages import cycle_times, open_tasks_by_stage, orders_by_status
from tests.kpis import dataset


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    """The figures come from SQL (grouping, HAVING on the latest time): both databases give the same."""
    return request.param


MARCH = Period.of_days(date(2026, 3, 1), date(2026, 3, 31))  # [03-01 00:00, 04-01 00:00), 31 days
H = timedelta(hours=1)


def test_orders_per_status_now(march):
    # SO-10 entered; SO-6 in review; SO-9 in fulfilment; SO-2, 3, 7, 8, 11, 12 delivered; SO-1, 4, 5 completed
    counts = orders_by_status()
    assert list(counts)[:3] == ["entered", "clarifying", "in_review"]  # the state table's order
    assert {status: n for status, n in counts.items() if n} == {
        "entered": 1, "in_review": 1, "in_fulfilment": 1, "delivered": 6, "completed": 3}
    assert sum(counts.values()) == 12


def test_open_tasks_per_stage(march):
    # open or claimed: two picks (one claimed), one review, one triage; completed and withdrawn ones not
    assert [(row.stage.element_id, row.stage.role, row.count) for row in open_tasks_by_stage()] == [
        ("pick_goods", "warehouse", 2), ("review_order", "order_desk", 1), ("triage", "customer_service", 1)]


def test_cycle_time_per_stage(march):
    rows = {row.stage.element_id: row.spread for row in cycle_times(MARCH)}
    # review_order completed in March: 2h, 4h, 9h (the withdrawn one, 12h, is left out)
    #   median of 2h, 4h, 9h → 4h; p90 by nearest rank: ceil(0.9 × 3) = 3rd → 9h
    assert rows["review_order"] == Spread(3, 4 * H, 9 * H)
    # pick_goods: 1h, 3h → median (1h + 3h) / 2 = 2h; p90: ceil(0.9 × 2) = 2nd → 3h
    assert rows["pick_goods"] == Spread(2, 2 * H, 3 * H)
    # arrange_shipment: created 02-28 20:00, completed 03-01 02:00 → 6h (counted by its completion in March);
    #   the one completed 04-01 01:00 falls after March
    assert rows["arrange_shipment"] == Spread(1, 6 * H, 6 * H)
    # the slowest stage by median first: 6h, 4h, 2h
    assert [row.stage.element_id for row in cycle_times(MARCH)] == ["arrange_shipment", "review_order", "pick_goods"]


def test_order_to_ship_and_to_delivery(march):
    # last shipment left in March, everything shipped:
    #   SO-1 03-02 08:00 → 03-05 10:00 = 74h; SO-2 03-03 08:00 → 03-06 08:00 = 72h;
    #   SO-3 03-04 08:00 → 03-11 12:00 (its second shipment) = 172h; SO-4 03-05 → 03-14 = 216h;
    #   SO-8 03-25 → 03-30 = 120h. SO-9 shipped 6 of 10 (a backorder waits); SO-5 shipped in February.
    #   sorted 72, 74, 120, 172, 216 → median 120h; p90: ceil(4.5) = 5th → 216h
    assert order_to_ship(MARCH) == Spread(5, 120 * H, 216 * H)
    # delivered in March: SO-1 172h (7d 4h), SO-2 168h (7d), SO-3 194h (8d 2h), SO-4 240h (10d),
    #   SO-5 02-20 10:00 → 03-02 10:00 = 240h (10d); SO-8 arrived 04-02, SO-7 in January
    #   sorted 168, 172, 194, 240, 240 → median 194h; p90: 5th → 240h
    assert order_to_delivery(MARCH) == Spread(5, 194 * H, 240 * H)


def test_on_time_delivery(march):
    # delivered in March with a promise: SO-1 (by 03-10, arrived 03-09 ✓), SO-2 (by 03-08, arrived 03-10 ✗),
    #   SO-3 (ships 03-10 + 3 transit days → by 03-13, arrived 03-12 ✓), SO-5 (by 03-03, arrived 03-02 ✓);
    #   SO-4 promises nothing → left out and counted apart. 3 of 4 → 75 %
    figure = on_time_delivery(MARCH)
    assert (figure.share, figure.without_promise) == (Share(3, 4), 1)
    assert figure.share.percent == 75.0


def test_perfect_order_rate(march):
    # the same four orders:
    #   SO-1: on time ✓, in full ✓, no exception ✓ (EX-5 was withdrawn), one invoice and no credit note ✓ → perfect
    #   SO-2: late ✗, in full ✓, EX-1 ✗, invoice ✓
    #   SO-3: on time ✓, one unit came back ✗, EX-2 ✗, credit note CN-1 ✗
    #   SO-5: on time ✓, in full ✓, EX-6 (raised in February, still against it) ✗, invoiced twice + CN-2 ✗
    #   perfect 1 of 4 → 25 %; on time 3/4, in full 3/4, no exception 1/4, invoice right 2/4
    figure = perfect_orders(MARCH)
    assert figure.share == Share(1, 4) and figure.share.percent == 25.0
    assert (figure.on_time, figure.in_full, figure.no_exception, figure.invoice_right) == (
        Share(3, 4), Share(3, 4), Share(1, 4), Share(2, 4))
    assert figure.without_promise == 1


def test_exception_rate_per_100_orders_by_family(march):
    # entered in March: SO-1, 2, 3, 4, 6, 8, 9, 10 → 8 orders
    # raised in March and not withdrawn: EX-1, EX-2 (logistics), EX-3 (payment), EX-4 (customer) → 4;
    #   EX-5 was withdrawn, EX-6 was raised in February
    figure = exception_rate(MARCH)
    assert (figure.orders, figure.total) == (8, Rate(4, 8))
    assert figure.total.per_100 == 50.0  # 4 / 8 × 100
    assert figure.by_family == {"customer": Rate(1, 8), "inventory": Rate(0, 8), "logistics": Rate(2, 8),
                                "payment": Rate(1, 8), "internal": Rate(0, 8)}
    assert figure.by_family["logistics"].per_100 == 25.0  # 2 / 8 × 100
    assert figure.by_family["payment"].per_100 == 12.5  # 1 / 8 × 100


def test_sla_compliance_and_escalations_by_team(march):
    # completed in March with a due time: order desk 2h ≤ 12:00 ✓, 12:00 ≤ 12:00 ✓, 17:00 > 12:00 ✗ → 2 of 3;
    #   warehouse 11:00 ≤ 16:00 ✓ → 1 of 1, and one pick without a due time (left out, counted apart);
    #   logistics 03-01 02:00 > 02-28 22:00 ✗ → 0 of 1
    # escalations raised in March: order desk at risk + breached; logistics breached long (its breach of
    #   02-28 falls before); finance one breach (no task completed: no compliance figure); one without a team
    assert teams(MARCH) == [
        Team("order_desk", Share(2, 3), 0, {"at_risk": 1, "breached": 1, "breached_long": 0}),
        Team("warehouse", Share(1, 1), 1, {"at_risk": 0, "breached": 0, "breached_long": 0}),
        Team("logistics", Share(0, 1), 0, {"at_risk": 0, "breached": 0, "breached_long": 1}),
        Team("finance", Share(0, 0), 0, {"at_risk": 0, "breached": 1, "breached_long": 0}),
        Team("", Share(0, 0), 0, {"at_risk": 1, "breached": 0, "breached_long": 0}),
    ]
    assert [round(team.compliance.percent, 1) for team in teams(MARCH)[:3]] == [66.7, 100.0, 0.0]
    assert teams(MARCH)[3].compliance.percent is None  # finance: no data, not 0 %


def test_receivables_at_the_end_of_a_past_period_and_dso(march):
    figure = receivables(MARCH)
    assert figure.as_of == dataset.at("04-01 00:00")  # March has ended: balances at its end
    # open at 04-01 00:00 (balance = amount − payments before − credit notes before), aged to March 31:
    #   INV-1  100.00               due 04-08 → −8 days: current;   no reminder: level 0
    #   INV-2  200 − 50 = 150.00    due 03-20 → 11 days: 1–30;      reminder 1 on 03-30: level 1 (paid in full 04-05)
    #   INV-3  300 − 50 = 250.00    due 04-11 → current;            level 0
    #   INV-4  400 − 100 = 300.00   due 03-25 → 6 days: 1–30;       level 0
    #   INV-7  700.00               due 01-20 → 70 days: 61–90;     level 3 (03-06)
    #   INV-11 1000.00              due 2025-12-15 → 106 days: >90; level 3
    #   INV-12 600.00               due 02-15 → 44 days: 31–60;     level 2 then (level 3 came 04-02)
    #   left out: INV-5a (credited in full), INV-5b (paid 03-25), INV-7w (written off), INV-8 (issued 04-02)
    #   total 100 + 150 + 250 + 300 + 700 + 1000 + 600 = 3100.00 in 7 invoices
    assert figure.total == Amount(7, Decimal("3100.00"))
    assert figure.by_age == {"current": Amount(2, Decimal("350.00")), "1_30": Amount(2, Decimal("450.00")),
                             "31_60": Amount(1, Decimal("600.00")), "61_90": Amount(1, Decimal("700.00")),
                             "over_90": Amount(1, Decimal("1000.00"))}
    assert figure.by_level == {0: Amount(3, Decimal("650.00")), 1: Amount(1, Decimal("150.00")),
                               2: Amount(1, Decimal("600.00")), 3: Amount(2, Decimal("1700.00"))}
    # sales in March: invoices INV-1 100 + INV-2 200 + INV-3 300 + INV-4 400 + INV-5a 500 + INV-5b 450 = 1950.00
    #   less credit notes CN-1 50 + CN-2 500 = 550.00 → 1400.00
    assert (figure.invoiced, figure.credited, figure.sales) == (
        Amount(6, Decimal("1950.00")), Amount(2, Decimal("550.00")), Decimal("1400.00"))
    # DSO = 3100 / 1400 × 31 days = 68.64… → 68.6
    assert figure.dso == Decimal("68.6")


def test_receivables_while_the_period_runs_use_todays_balances_and_levels(march):
    running = Period.of_days(date(2026, 4, 1), date(2026, 4, 10))  # the clock stands at 04-10 09:00
    figure = receivables(running)
    assert figure.as_of == dataset.NOW
    # open now: INV-1 100 (due 04-08 → 2 days: 1–30), INV-3 250 (current), INV-4 300 (16 days: 1–30),
    #   INV-7 700 (80 days: 61–90), INV-11 1000 (116 days: >90), INV-12 600 (54 days: 31–60),
    #   INV-8 800 (due 05-02: current); INV-2 is paid since 04-05
    #   total 100 + 250 + 300 + 700 + 1000 + 600 + 800 = 3750.00
    assert figure.total == Amount(7, Decimal("3750.00"))
    assert figure.by_age == {"current": Amount(2, Decimal("1050.00")), "1_30": Amount(2, Decimal("400.00")),
                             "31_60": Amount(1, Decimal("600.00")), "61_90": Amount(1, Decimal("700.00")),
                             "over_90": Amount(1, Decimal("1000.00"))}
    # the invoices' levels now: INV-12 is at 3 since 04-02
    assert figure.by_level == {0: Amount(4, Decimal("1450.00")), 1: Amount(0, Decimal("0")),
                               2: Amount(0, Decimal("0")), 3: Amount(3, Decimal("2300.00"))}
    # sales 04-01 … 04-10: INV-8 800.00; DSO = 3750 / 800 × 10 days = 46.875 → 46.9
    assert (figure.sales, figure.days, figure.dso) == (Decimal("800.00"), Decimal("10.0"), Decimal("46.9"))


@pytest.mark.parametrize(("days", "bucket"), [
    (-30, "current"), (0, "current"), (1, "1_30"), (30, "1_30"), (31, "31_60"), (60, "31_60"), (61, "61_90"),
    (90, "61_90"), (91, "over_90"), (1000, "over_90")])
def test_age_buckets_have_no_gaps(days, bucket):
    assert age_bucket(days) == bucket


def test_an_invoice_due_on_the_last_day_of_an_ended_period_is_current_in_it(ctx):
    clock.freeze(dataset.NOW)
    build = dataset.Builder()
    build.order("SO-9", "03-02 09:00", "delivered")
    build.invoice("INV-9", "SO-9", "100.00", issued="03-02 10:00", due="03-31")
    db.session.commit()
    # Due on March 31 and unpaid at its end: 0 days past due on March's last day, not 1.
    assert receivables(MARCH).by_age["current"] == Amount(1, Decimal("100.00"))


def test_a_period_without_data_gives_no_figures(ctx):
    clock.freeze(dataset.NOW)
    report = kpis.report(Period.of_days(date(2026, 3, 1), date(2026, 3, 31)))
    assert set(report.orders_by_status.values()) == {0} and report.open_tasks == []
    assert report.cycle_times == [] and report.teams == []
    assert report.order_to_ship == report.order_to_delivery == Spread(0, None, None)
    assert (report.on_time.share, report.on_time.share.percent) == (Share(0, 0), None)
    assert report.perfect.share.percent is None and report.perfect.invoice_right.percent is None
    assert (report.exceptions.orders, report.exceptions.total.per_100) == (0, None)
    assert all(rate.per_100 is None for rate in report.exceptions.by_family.values())
    assert report.receivables.total == Amount(0, Decimal("0"))
    assert (report.receivables.sales, report.receivables.dso) == (Decimal("0"), None)


def test_a_quiet_period_before_anything_happened(march):
    # June 2025: before every record of the data set; only the figures of "now" have values
    report = kpis.report(Period.of_days(date(2025, 6, 1), date(2025, 6, 30)))
    assert sum(report.orders_by_status.values()) == 12 and report.open_tasks
    assert report.cycle_times == [] and report.teams == [] and report.order_to_delivery.count == 0
    assert report.on_time.share.whole == 0 and report.exceptions.orders == 0
    assert report.receivables.total.count == 0 and report.receivables.dso is None


def test_a_period_is_whole_days_from_the_first_to_the_last(ctx):
    assert (MARCH.start, MARCH.end, MARCH.days) == (dataset.at("03-01 00:00"), dataset.at("04-01 00:00"), 31)
    assert (MARCH.first_day, MARCH.last_day) == (date(2026, 3, 1), date(2026, 3, 31))
    today = date(2026, 4, 10)
    assert Period.preset("last_7_days", today) == Period.of_days(date(2026, 4, 4), today)
    assert Period.preset("last_30_days", today) == Period.of_days(date(2026, 3, 12), today)
    assert Period.preset("this_month", today) == Period.of_days(date(2026, 4, 1), today)
    with pytest.raises(ValueError, match="must end after it starts"):
        Period.of_days(date(2026, 4, 2), date(2026, 4, 1))
