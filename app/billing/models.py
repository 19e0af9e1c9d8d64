"""Invoices, the payments against them, the dunning notices sent while they are overdue, and what
is given back: credit notes against an invoice and refunds of money received."""

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
    credited_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"), server_default="0")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    due_date: Mapped[date] = mapped_column(Date)
    # open, overdue, paid, cancelled (written off), credited (a credit note cancelled it)
    status: Mapped[str] = mapped_column(String(20), default="open")
    dunning_level: Mapped[int] = mapped_column(default=0)

    payments: Mapped[list["Payment"]] = relationship(back_populates="invoice", order_by="Payment.id")
    notices: Mapped[list["DunningNotice"]] = relationship(back_populates="invoice", order_by="DunningNotice.id")

    @property
    def balance(self) -> Decimal:
        return self.amount - self.paid_amount - self.credited_amount


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


class CreditNote(db.Model):
    """Takes back all or part of an invoice: for an invoice error, a return, or a compensation."""

    __tablename__ = "credit_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    invoice: Mapped[Invoice] = relationship()


class Refund(db.Model):
    """Money paid back to the customer; above a limit it needs an approval before the payout."""

    __tablename__ = "refund"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"), index=True)
    exception_id: Mapped[int | None] = mapped_column(ForeignKey("exception_case.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    status: Mapped[str] = mapped_column(String(20), default="requested")  # requested, approved, rejected, paid
    requested_by: Mapped[str] = mapped_column(String(80))
    approved_by: Mapped[str] = mapped_column(String(80), default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
