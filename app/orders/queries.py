"""Reading orders for pages: the filtered list, one order by number, and the documents it produced."""

from dataclasses import dataclass

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from app.billing.models import Invoice
from app.extensions import db
from app.fulfilment.models import Shipment
from app.notifications.models import OutboxMessage
from app.orders import states
from app.orders.models import Order


def listing(*, status: str | None = None, shipment_status: str | None = None, payment_status: str | None = None,
            text: str | None = None) -> Select:
    """Orders, newest first, narrowed by any of the three statuses (unknown values are ignored) and a
    search over order number and customer name."""
    query = select(Order)
    if status in states.ORDER:
        query = query.where(Order.status == status)
    if shipment_status in states.SHIPMENT:
        query = query.where(Order.shipment_status == shipment_status)
    if payment_status in states.PAYMENT:
        query = query.where(Order.payment_status == payment_status)
    text = (text or "").strip()
    if text:
        query = query.where(or_(Order.number.icontains(text, autoescape=True),
                                Order.customer_name.icontains(text, autoescape=True)))
    return query.order_by(Order.created_at.desc(), Order.id.desc())


def by_number(number: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.number == number))


@dataclass
class Documents:
    """What an order has produced so far."""

    shipments: list[Shipment]
    invoices: list[Invoice]  # with their payments
    messages: list[OutboxMessage]


def documents(order: Order) -> Documents:
    return Documents(
        shipments=list(db.session.scalars(select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id))),
        invoices=list(db.session.scalars(
            select(Invoice).where(Invoice.order_id == order.id)
            .options(selectinload(Invoice.payments)).order_by(Invoice.id)
        )),
        messages=list(db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.order_id == order.id).order_by(OutboxMessage.id)
        )),
    )
