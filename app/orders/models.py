"""Customer orders and their lines. An order keeps three statuses, as order systems do: the order
itself, its shipment and its payment; app/orders/states.py says which may follow which."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.catalog.models import Product
from app.clock import now
from app.customers.models import Customer
from app.extensions import db
from app.sqltypes import UTCDateTime

CHANNELS = ("web", "email", "fax", "phone", "sales_rep")
PAYMENT_METHODS = ("credit", "prepayment", "cash_on_delivery")


class Order(db.Model):
    __tablename__ = "customer_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    # A snapshot of what the customer asked for, kept even if the customer record changes later.
    customer_name: Mapped[str] = mapped_column(String(200))
    shipping_address: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="entered", index=True)
    shipment_status: Mapped[str] = mapped_column(String(20), default="pending")
    payment_status: Mapped[str] = mapped_column(String(20), default="not_invoiced")
    requested_date: Mapped[date | None] = mapped_column(Date)
    expected_ship_date: Mapped[date | None] = mapped_column(Date)
    payment_method: Mapped[str] = mapped_column(String(20), default="credit")
    remarks: Mapped[str] = mapped_column(Text, default="")
    allow_partial: Mapped[bool] = mapped_column(default=False)
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    entered_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # While a blocking exception holds the order: the status to return to when it is released.
    held_from: Mapped[str | None] = mapped_column(String(20))

    customer: Mapped[Customer | None] = relationship()
    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.position"
    )


class OrderLine(db.Model):
    __tablename__ = "order_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"), index=True)
    position: Mapped[int]
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    sku: Mapped[str] = mapped_column(String(40))
    spec: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    make_to_order: Mapped[bool] = mapped_column(default=False)
    reserved_qty: Mapped[int] = mapped_column(default=0)
    produced_qty: Mapped[int] = mapped_column(default=0)
    shipped_qty: Mapped[int] = mapped_column(default=0)
    returned_qty: Mapped[int] = mapped_column(default=0, server_default="0")

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship()

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def open_qty(self) -> int:
        return self.quantity - self.shipped_qty
