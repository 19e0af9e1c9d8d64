"""Invoices, the payments against them, and the dunning notices sent while they are overdue."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.extensions import db
from app.sqltypes import UTCDateTime


class Invoice(db.Model):
    __tablename__ = "invoice"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    paid_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, overdue, paid, cancelled
    dunning_level: Mapped[int] = mapped_column(default=0)

    payments: Mapped[list["Payment"]] = relationship(back_populates="invoice", order_by="Payment.id")
    notices: Mapped[list["DunningNotice"]] = relationship(back_populates="invoice", order_by="DunningNotice.id")

    @property
    def balance(self) -> Decimal:
        return self.amount - self.paid_amount


class Payment(db.Model):
    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    method: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(80), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    recorded_by: Mapped[str] = mapped_column(String(80), default="")

    invoice: Mapped[Invoice] = relationship(back_populates="payments")


class DunningNotice(db.Model):
    __tablename__ = "dunning_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    level: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    invoice: Mapped[Invoice] = relationship(back_populates="notices")
