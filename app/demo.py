"""Demo data for `make run`: a user for every role and orders pushed by the engine to several stages."""

import os

from sqlalchemy import func, select

from app.accounts import service as accounts
from app.accounts.models import User
from app.accounts.roles import ALL
from app.extensions import db
from app.orders import service as orders
from app.workflow import runtime
from app.workflow.models import HumanTask

CUSTOMERS = [
    ("Shanghai Precision Parts Co.", "web", "1280.00"),
    ("Nordic Outdoor AB", "email", "455.50"),
    ("Lisbon Kitchens Lda", "phone", "3120.00"),
    ("Acme Retail GmbH", "sales_rep", "780.25"),
    ("Hangzhou Textiles Ltd", "fax", "2210.00"),
    ("Ontario Hardware Inc.", "web", "96.40"),
]


def _open_task(instance_id: int, element_id: str) -> HumanTask:
    return db.session.scalar(
        select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.element_id == element_id, HumanTask.state == "open"
        )
    )


def load() -> str:
    if db.session.scalar(select(func.count(User.id))):
        return "demo data already loaded; nothing changed"
    password = os.environ.get("ORDERLY_DEMO_PASSWORD", "orderly-demo")
    for role in ALL:
        accounts.create_user(role.replace("_", "-"), role.replace("_", " ").title(), password, [role])
    db.session.commit()

    # Stages: in review, rejected, picking, shipping, awaiting receipt, completed.
    steps_done = [0, 1, 1, 2, 3, 3]
    for stage, (customer, channel, total) in enumerate(CUSTOMERS):
        order = orders.create_order(customer, channel, total)
        db.session.commit()
        instance = runtime.start("order_process", order.number, {"order_number": order.number}, actor="demo")
        rejected = stage == 1
        steps = [
            ("review_order", {"approved": not rejected, "review_note": "Credit limit exceeded" if rejected else ""}),
            ("pick_and_pack", {"packages": 1 + stage}),
            ("ship_goods", {"goods_checked": True, "carrier": "SF Express", "tracking_number": f"SF{1000 + stage}"}),
        ]
        for element_id, data in steps[: steps_done[stage]]:
            task = _open_task(instance.id, element_id)
            runtime.complete_task(instance.id, task.spiff_task_id, data, actor="demo")
        if stage == 5:
            runtime.send_message(order.number, "goods_received", {"signed_by": "Receiving dock"}, actor="demo")
    return f"demo data loaded: {len(ALL)} users (password '{password}'), {len(CUSTOMERS)} orders"
