"""Exception cases: something went wrong with an order, who owns it, what was done, and what was learned."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.extensions import db
from app.orders.models import Order
from app.sqltypes import UTCDateTime

# open → in_progress → resolved → closed; a case raised in error may be withdrawn (cancelled).
STATUSES = ("open", "in_progress", "resolved", "closed", "cancelled")
SEVERITIES = ("low", "medium", "high", "critical")
SOURCES = ("process", "staff", "api")
RESOLUTION_CODES = ("fixed", "wont_fix", "duplicate", "rejected")


class ExceptionCase(db.Model):
    __tablename__ = "exception_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    family: Mapped[str] = mapped_column(String(20), index=True)
    type: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    # A blocking case holds the order's process until it is closed.
    blocking: Mapped[bool] = mapped_column(default=False)
    owner_role: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(10))
    reported_by: Mapped[str] = mapped_column(String(80))
    # The order's stage when the case was raised (its order status then).
    stage: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    # What the reporter asked for or observed (new quantities, a carrier's event …), per type.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # An outside system's own id for the event (a carrier's event id): the same event twice is one case.
    external_ref: Mapped[str | None] = mapped_column(String(120), unique=True)
    action: Mapped[str] = mapped_column(String(40), default="")
    resolution_code: Mapped[str] = mapped_column(String(20), default="")
    resolution: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")
    corrective_action: Mapped[str] = mapped_column(Text, default="")
    preventive_action: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status in ("open", "in_progress")


class NonConformance(db.Model):
    """An internal failure written up for improvement: what went wrong, the fix, and how to prevent it."""

    __tablename__ = "non_conformance"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    exception_id: Mapped[int] = mapped_column(ForeignKey("exception_case.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    corrective_action: Mapped[str] = mapped_column(Text)
    preventive_action: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
