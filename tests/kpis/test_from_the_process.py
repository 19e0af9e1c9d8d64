"""The KPIs read what the order process itself records: one order driven through the real diagram
with the clock moved by hand between its steps."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from app import clock, kpis
from app.catalog.models import Product
from app.customers.models import Customer
from app.extensions import db
from app.kpis.measures import Share, Spread
from app.orders.service import LineInput, create_order
from app.workflow import runtime
from app.workflow.models import HumanTask

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning
H = timedelta(hours=1)


def complete(order_number: str, element_id: str, data: dict, after: timedelta) -> None:
    clock.advance(after)
    db.session.expire_all()
    task = db.session.scalars(db.select(HumanTask).where(
        HumanTask.business_key == order_number, HumanTask.state.in_(("open", "claimed")))).one()
    assert task.element_id == element_id
    assert runtime.complete_task(task.instance_id, task.spiff_task_id, data, actor="staff").status != "error"


def test_one_order_through_the_process(ctx, deployed):
    clock.freeze(START)
    customer = Customer(code="GOOD", name="Good Customer Ltd", email="buy@good.example",
                        shipping_address="1 Harbour Road", credit_limit=Decimal("100000"), payment_terms_days=30)
    db.session.add_all([customer, Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=100)])
    db.session.commit()
    order = create_order(customer, "email", [LineInput("BOLT-M8", 40)], requested_date=date(2026, 3, 10),
                         entered_by="desk")
    db.session.commit()
    runtime.start("order_process", order.number, {"order_number": order.number, "entered_by": "desk"})

    complete(order.number, "review_order", {"approved": True}, after=2 * H)
    complete(order.number, "pick_goods", {"picked": True}, after=3 * H)
    complete(order.number, "pack_goods", {"packages": 1}, after=1 * H)
    complete(order.number, "check_goods", {"goods_match": True}, after=1 * H)
    complete(order.number, "arrange_shipment", {"carrier": "SF Express", "tracking_number": "T1"}, after=1 * H)
    clock.advance(2 * 24 * H)
    runtime.send_message(order.number, "goods_received", {"signed_by": "Dock 4"})

    report = kpis.report(kpis.Period.of_days(date(2026, 3, 1), date(2026, 3, 31)))
    stages = {row.stage.element_id: row.spread for row in report.cycle_times}
    assert stages["review_order"] == Spread(1, 2 * H, 2 * H)
    assert stages["pick_goods"] == Spread(1, 3 * H, 3 * H)
    assert report.order_to_ship == Spread(1, 8 * H, 8 * H)  # 2 + 3 + 1 + 1 + 1 hours
    assert report.order_to_delivery == Spread(1, 56 * H, 56 * H)  # and two days on the road
    assert report.on_time.share == Share(1, 1)  # by 03-10, arrived 03-04
    # invoiced on receipt, nothing went wrong: a perfect order
    assert report.perfect.share == Share(1, 1)
    assert report.receivables.total.amount == Decimal("100.00") and report.receivables.sales == Decimal("100.00")
    assert report.orders_by_status["delivered"] == 1
