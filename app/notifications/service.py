"""Queueing customer messages in the outbox, at most once per idempotency key, and queueing a failed
or bounced one again."""

from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from app.notifications.models import OutboxMessage
from app.notifications.templates import TEMPLATES
from app.orders.models import Order
from app.workflow.errors import Conflict

RESENDABLE = ("failed", "bounced")


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


def send_again(message: OutboxMessage) -> None:
    """Queue a failed or bounced message once more, with a fresh count of attempts, to the address its
    customer (or member of staff) has now: the usual fix for a bounce is a corrected address. It keeps its
    Message-ID; what went wrong before stays readable as its last error."""
    if message.status not in RESENDABLE:
        raise Conflict(f"Message {message.id} is {message.status}: only failed or bounced messages are sent again.")
    current = _current_address(message)
    if current:
        message.to_address = current
    message.last_error = message.bounce_reason or message.last_error
    message.status = "queued"
    message.attempts = 0
    message.next_attempt_at = None
    message.claimed_until = None
    message.bounced_at = None
    message.bounce_reason = ""
    db.session.flush()


def _current_address(message: OutboxMessage) -> str:
    if message.order_id is not None:
        order = db.session.get(Order, message.order_id)
        return (order.customer.email if order is not None and order.customer else "").strip()
    if message.user_id is not None:
        user = db.session.get(User, message.user_id)
        return (user.email if user is not None else "").strip()
    return ""
