"""Queueing customer messages in the outbox, at most once per idempotency key."""

from sqlalchemy import select

from app.extensions import db
from app.notifications.models import OutboxMessage
from app.notifications.templates import TEMPLATES
from app.orders.models import Order


def queue(order: Order, kind: str, key: str, **context) -> OutboxMessage:
    """Render and queue a message about an order; the same key twice returns the first message."""
    existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    if existing is not None:
        return existing
    customer = order.customer
    locale = customer.locale if customer and customer.locale in TEMPLATES[kind] else "en"
    subject, body = TEMPLATES[kind][locale]
    values = {"order": order.number, "customer": order.customer_name, **context}
    message = OutboxMessage(
        idempotency_key=key, order_id=order.id, kind=kind, locale=locale,
        to_address=customer.email if customer else "", subject=subject.format(**values), body=body.format(**values),
    )
    db.session.add(message)
    db.session.flush()
    return message


def for_order(order: Order) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.order_id == order.id)
                                   .order_by(OutboxMessage.id)))
