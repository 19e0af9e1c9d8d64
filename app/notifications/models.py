"""The outbox: every message to a customer, rendered and kept on the order. Sending (e-mail) reads
it later; an idempotency key makes sure one event never produces two messages."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db
from app.sqltypes import UTCDateTime


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("customer_order.id"), index=True)
    # A message to a member of staff (an escalation) names the user instead of an order.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str] = mapped_column(String(10), default="en")
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # queued → sent, or failed (gave up after the retries) or bounced (the receiving server refused it)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The Message-ID header it was sent with: a bounce names it.
    message_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    # A sender that took the message holds it until then; another one may take it after.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounce_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
