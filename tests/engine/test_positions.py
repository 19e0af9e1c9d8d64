"""app.workflow.inspect.positions: which BPMN elements an instance has done, where its tokens stand
and which sequence flows they passed, read from the restored workflow (on SQLite and PostgreSQL)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app import clock
from app.extensions import db
from app.workflow import runtime
from app.workflow.inspect import positions
from app.workflow.models import ProcessInstance, Wakeup
from app.workflow.projection import open_rows
from app.workflow.timers import fire_due
from tests.engine import bpmn_factory as bf
from tests.support import HAPPY_PATH, simple_order

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
INTAKE = ["credit_gw", "do_check_intake", "do_review_checks", "init_counters", "intake_gw", "start"]
INTAKE_FLOWS = ["f_check_intake_to_intake_gw", "f_credit_ok", "f_init_counters_to_check_intake",
                "f_intake_gw_to_review_checks", "f_review_checks_to_credit_gw", "f_start_to_init_counters"]


@pytest.fixture
def order_instance(ctx, deployed):
    clock.freeze(START)
    order = simple_order("Position Test Ltd")
    db.session.commit()
    return runtime.start("order_process", order.number, {"order_number": order.number})


def _now(instance: ProcessInstance) -> dict:
    db.session.expire_all()
    return positions(db.session.get(ProcessInstance, instance.id))


def _complete(instance: ProcessInstance, element_id: str, data: dict) -> None:
    task = next(t for t in open_rows(instance.id) if t.element_id == element_id)
    done = runtime.complete_task(instance.id, task.spiff_task_id, data)
    assert done.status != "error", done.error


REVIEW_WAITS = ["review_order", "review_order_at_risk", "review_order_breached", "review_order_breached_long",
                "review_order_changed"]


def test_a_new_order_stands_at_review_with_its_timer(order_instance):
    where = _now(order_instance)
    assert where == {"completed": INTAKE, "current": REVIEW_WAITS,
                     "flows": INTAKE_FLOWS}


def test_a_rejected_review_moves_to_negotiation_and_a_new_round_comes_back(order_instance):
    _complete(order_instance, "review_order", {"approved": False, "review_note": "price too low"})
    where = _now(order_instance)
    assert where["current"] == ["negotiate_order", "negotiate_order_at_risk", "negotiate_order_breached",
                                "negotiate_order_breached_long", "negotiate_order_changed"]
    assert {"review_order", "approved_gw", "note_review_rejection", "do_reject_order"} <= set(where["completed"])
    assert "review_order_at_risk" not in where["completed"]  # cancelled with its task, never fired
    assert {"f_review_order_to_approved_gw", "f_rejected", "f_reject_order_to_negotiate_order"} <= set(where["flows"])
    assert "f_approved_gw_to_confirm_order" not in where["flows"]

    _complete(order_instance, "negotiate_order", {"outcome": "new_date", "new_date": "2026-05-01"})
    again = _now(order_instance)
    assert again["current"] == REVIEW_WAITS
    assert "review_order" not in again["completed"]  # it stands there now, though it was done before
    assert {"negotiate_order", "cancelled_gw"} <= set(again["completed"]) and "f_renegotiated" in again["flows"]


def test_a_fired_review_timer_is_done_and_the_review_still_open(order_instance):
    clock.advance(timedelta(hours=18, seconds=1))  # no SLA policy: at risk at 75% of a day
    assert fire_due() == 1
    where = _now(order_instance)
    assert where["current"] == ["review_order", "review_order_breached", "review_order_breached_long",
                                "review_order_changed"]
    assert {"review_order_at_risk", "escalate_review_order_at_risk", "review_order_escalated"} <= set(
        where["completed"])
    assert {"f_review_order_at_risk", "f_escalate_review_order_at_risk"} <= set(where["flows"])


def test_shipped_order_waits_for_the_receipt_message_then_for_payment(order_instance):
    for element_id, data in HAPPY_PATH:
        _complete(order_instance, element_id, data)
    where = _now(order_instance)
    assert where["current"] == ["delivery_late", "goods_received"]
    assert {"do_ship_order", "shipped_gw", "pick_goods", "arrange_shipment"} <= set(where["completed"])
    assert "f_shipped_gw_to_goods_received" in where["flows"] and "f_backorder" not in where["flows"]

    runtime.send_message(order_instance.business_key, "goods_received", {})
    paying = _now(order_instance)
    assert paying["current"] == ["await_payment", "dunning_due", "payment_failed"]
    assert {"goods_received", "do_confirm_receipt", "do_issue_invoice"} <= set(paying["completed"])


def test_a_reminder_interrupts_the_wait_for_payment_and_the_wait_starts_again(order_instance):
    for element_id, data in HAPPY_PATH:
        _complete(order_instance, element_id, data)
    runtime.send_message(order_instance.business_key, "goods_received", {})
    clock.freeze(db.session.get(Wakeup, order_instance.id).due_at + timedelta(seconds=1))
    assert fire_due() == 1
    where = _now(order_instance)
    assert where["current"] == ["await_payment", "dunning_due", "payment_failed"]
    assert {"do_send_reminder", "last_level_gw"} <= set(where["completed"])
    # the interrupted wait was reached, so the flow into it shows, though it was never done
    assert {"f_issue_invoice_to_await_payment", "f_dunning_due_to_send_reminder", "f_wait_again"} <= set(
        where["flows"])
    assert "f_await_payment_to_record_payment" not in where["flows"]


def test_a_completed_order_has_no_current_position(order_instance):
    for element_id, data in HAPPY_PATH:
        _complete(order_instance, element_id, data)
    runtime.send_message(order_instance.business_key, "goods_received", {})
    runtime.send_message(order_instance.business_key, "payment_received",
                         {"amount": str(Decimal("100.00")), "method": "card"})
    _complete(order_instance, "follow_up", {"satisfaction": 4})
    where = _now(order_instance)
    assert db.session.get(ProcessInstance, order_instance.id).status == "completed"
    assert where["current"] == []
    assert {"order_completed", "follow_up", "do_complete_order", "await_payment"} <= set(where["completed"])
    assert "f_follow_up_to_order_completed" in where["flows"]


def test_a_cancelled_instance_has_no_current_position(order_instance):
    runtime.cancel(order_instance.id, actor="admin", reason="duplicate")
    where = _now(order_instance)
    assert where["current"] == [] and where["completed"] == INTAKE


def test_a_join_waiting_for_a_branch_is_current(ctx):
    nodes = [bf.start(), bf.parallel("fork"), bf.user("sign"), bf.script("ok", "x = 1"), bf.parallel("join"),
             bf.end()]
    flows = [bf.flow(*pair) for pair in [("start", "fork"), ("fork", "sign"), ("fork", "ok"), ("ok", "join"),
                                         ("sign", "join"), ("join", "end")]]
    bf.deploy(bf.document(bf.process("sb_join", nodes, flows)))
    instance = runtime.start("sb_join", "SB-JOIN", {})
    where = _now(instance)
    assert where["current"] == ["join", "sign"]
    assert where["completed"] == ["fork", "ok", "start"]
    assert where["flows"] == ["f_fork_ok", "f_fork_sign", "f_ok_join", "f_start_fork"]


def test_a_failed_task_is_current(ctx):
    bf.deploy(bf.linear("sb_boom", bf.script("ok", "x = 1"), bf.script("boom", "y = 1 / 0")))
    instance = runtime.start("sb_boom", "SB-BOOM", {})
    assert bf.reload(instance).status == "error"
    assert _now(instance) == {"completed": ["ok", "start"], "current": ["boom"], "flows": ["f_ok_boom", "f_start_ok"]}
