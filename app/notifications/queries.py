"""Reading the outbox for its page: messages by status, newest first, and how many there are of each."""

from sqlalchemy import Select, func, select

from app.extensions import db
from app.notifications.models import OutboxMessage
from app.orders.models import Order

STATUSES = ("queued", "sent", "failed", "bounced")


def listing(status: str = "") -> Select:
    query = select(OutboxMessage)
    if status:
        query = query.where(OutboxMessage.status == status)
    return query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())


def counts() -> dict[str, int]:
    found = dict(db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    return {status: found.get(status, 0) for status in STATUSES}


def order_numbers(messages: list[OutboxMessage]) -> dict[int, str]:
    """The order number of each message about an order, by order id, in one query."""
    ids = {message.order_id for message in messages if message.order_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Order.id, Order.number).where(Order.id.in_(ids))).all())
