"""A fixed floor of orders, started through the real order process and moved to known tasks with the
clock frozen, so that every figure of the heat map can be worked out by hand.

The clock (T = Monday 2 March 2026, 08:00 UTC):
- F starts 20 days before T; its review is done after 5 h; it waits at Pick since (20 days, out of
  the last 7 days, inside the last 30).
- A, B, C, D and E start at T (their reviews open at T).
  T+1h  A's review done (1 h)        → A at Pick
  T+3h  B's review done (3 h)        → B at Pick
  T+6h  C's review done (6 h)        → C at Pick
  T+7h  A picked (6 h, opened T+1h)  → Pack
  T+8h  A packed (1 h)               → Check
  T+9h  A checked (1 h)              → Arrange shipment
  T+10h A shipped (1 h)              → A waits at the receive task *Customer confirms receipt*
  T+10h E is cancelled: its open review is withdrawn, it stands nowhere and its review counts as no visit.
- Version 2 of the order process is deployed at T+10h; G starts on it and stands at its review.
- D stays at its review.

So, now (T+10h), all versions: Review order 2 (D, G), Pick 3 (B, C, F), Customer confirms receipt 1
(A); 6 instances running or waiting (E is cancelled). Reviews completed in the last 30 days: 5, 1, 3,
6 h (median 4 h, 90th percentile 6 h); in the last 7 days: 1, 3, 6 h (median 3 h, 90th percentile
6 h). Pick: one visit of 6 h; Pack, Check and Arrange shipment one visit of 1 h each.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app import clock
from app.extensions import db
from app.workflow import deployment, runtime
from app.workflow.models import HumanTask, ProcessInstance
from tests.support import ROOT, simple_order

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)
NOW = T + 10 * H
ANSWERS = {
    "review_order": {"approved": True},
    "pick_goods": {"picked": True},
    "pack_goods": {"packages": 1},
    "check_goods": {"goods_match": True},
    "arrange_shipment": {"carrier": "DHL", "tracking_number": "JD0042"},
}
REVISED_NAME = "Customer order, revised"


def start(customer: str) -> str:
    order = simple_order(customer)
    db.session.commit()
    runtime.start("order_process", order.number, {"order_number": order.number, "entered_by": "desk"})
    return order.number


def instance_of(number: str) -> ProcessInstance:
    db.session.expire_all()
    return db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == number)).one()


def complete(number: str, element_id: str, after: timedelta) -> None:
    """Move the clock on by `after`, then do the order's one open task, which must be `element_id`."""
    clock.advance(after)
    db.session.expire_all()
    task = db.session.scalars(select(HumanTask).where(
        HumanTask.business_key == number, HumanTask.state.in_(("open", "claimed")))).one()
    assert task.element_id == element_id, f"{number} stands at {task.element_id}, not {element_id}"
    done = runtime.complete_task(task.instance_id, task.spiff_task_id, ANSWERS[element_id], actor="staff")
    assert done.status != "error", done.error


def deploy_version_2() -> None:
    """The order process again, renamed (any change makes a new version)."""
    xml = (ROOT / "workflows" / "order_process.bpmn").read_text()
    process = '<bpmn:process id="order_process" name="Customer order"'
    assert process in xml
    deployment.deploy(xml.replace(process, process.replace("Customer order", REVISED_NAME)), "order_process.bpmn",
                      by="tests", comment="renamed")


def build() -> dict[str, str]:
    """The floor above (needs the shipped workflows deployed); the clock is left frozen at NOW.
    Returns the order numbers by letter."""
    orders = {}
    clock.freeze(T - timedelta(days=20))
    orders["F"] = start("Customer F")
    complete(orders["F"], "review_order", after=5 * H)

    clock.freeze(T)
    for letter in "ABCDE":
        orders[letter] = start(f"Customer {letter}")
    complete(orders["A"], "review_order", after=1 * H)
    complete(orders["B"], "review_order", after=2 * H)
    complete(orders["C"], "review_order", after=3 * H)
    complete(orders["A"], "pick_goods", after=1 * H)
    complete(orders["A"], "pack_goods", after=1 * H)
    complete(orders["A"], "check_goods", after=1 * H)
    complete(orders["A"], "arrange_shipment", after=1 * H)
    assert clock.now() == NOW
    runtime.cancel(instance_of(orders["E"]).id, actor="tests", reason="customer withdrew")

    deploy_version_2()
    orders["G"] = start("Customer G")
    return orders
