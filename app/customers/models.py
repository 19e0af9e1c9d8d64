"""Customers: who they are, where goods and invoices go, and the terms they buy on."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db
from app.sqltypes import UTCDateTime


class Customer(db.Model):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    shipping_address: Mapped[str] = mapped_column(Text, default="")
    billing_address: Mapped[str] = mapped_column(Text, default="")
    # Buying on credit: open receivables + unbilled orders + a new order must stay within the limit.
    on_credit: Mapped[bool] = mapped_column(default=True)
    credit_limit: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    # The customer's agreement: a discount on list prices, at most this much.
    agreed_discount_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    locale: Mapped[str] = mapped_column(String(10), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
