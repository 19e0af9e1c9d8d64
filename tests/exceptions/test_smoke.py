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
