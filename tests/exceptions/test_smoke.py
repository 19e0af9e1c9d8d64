from app.exceptions.models import ExceptionCase
from app.extensions import db
from tests.exceptions.conftest import messages, product, status_of


def test_cancellation_at_review_ends_the_order_and_its_process(drive):
    order, _ = drive.place(("BOLT-M8", 10))
    case = drive.report(order, "cancellation", description="customer changed their mind")
    db.session.expire_all()
    assert order.status == "on_hold"
    closed = drive.handle(case, "cancel_order")
    assert closed.status == "closed"
    db.session.expire_all()
    assert order.status == "cancelled"
    assert status_of(order.number) == "completed"
    assert product("BOLT-M8").reserved == 0
    assert messages(order)[-3:] == ["exception_received", "order_cancelled", "exception_resolved"]


def test_stockout_found_by_the_process_waits_for_its_outcome(drive):
    order, _ = drive.place(("VALVE-2", 8))
    drive.do(order.number, "review_order", {"approved": True})
    case = db.session.query(ExceptionCase).filter_by(order_id=order.id).one()
    assert case.type == "stockout" and case.source == "process"
    closed = drive.handle(case, "cancel_lines", by="walt")
    assert closed.status == "closed"
    db.session.expire_all()
    assert order.lines[0].quantity == 5
    assert drive.task(order.number).element_id == "pick_goods"


def test_a_delivery_later_than_promised_raises_a_case_and_the_order_still_takes_the_receipt(drive):
    from datetime import timedelta

    from app import clock
    from app.workflow import runtime
    from app.workflow.timers import fire_due

    order, _ = drive.place(("BOLT-M8", 10))
    drive.to_stage(order, "goods_received")
    promised = order.requested_date
    clock.freeze(clock.now().replace(year=promised.year, month=promised.month, day=promised.day, hour=23, minute=59))
    assert fire_due() == 0  # still the promised day
    clock.advance(timedelta(minutes=2))
    assert fire_due() == 1
    case = db.session.query(ExceptionCase).filter_by(order_id=order.id).one()
    assert (case.type, case.source, case.blocking, case.stage) == ("delivery_delay", "process", False, "in_fulfilment")
    assert drive.handle(case, "new_promise", by="lena", new_date="2026-04-10").status == "closed"
    db.session.expire_all()
    assert order.expected_ship_date.isoformat() == "2026-04-10"
    assert "new_date" in messages(order)
    runtime.send_message(order.number, "goods_received", {"signed_by": "Dock"})
    db.session.expire_all()
    assert (order.status, order.shipment_status) == ("delivered", "delivered")
