"""API clients: partner systems (the online shop, an EDI gateway) that call the API with a bearer token.
Only the SHA-256 of a token is kept; the token itself is shown once, when the client is created."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db
from app.sqltypes import UTCDateTime

EVERY_SCOPE = "orders:read orders:write events:write exceptions:read exceptions:write"


class ApiClient(db.Model):
    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    # The order channel this client speaks for; every order it places is recorded with it.
    channel: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # What the client may do, space-separated; clients from before scopes hold all of them.
    scopes: Mapped[str] = mapped_column(String(400), default=EVERY_SCOPE, server_default=EVERY_SCOPE)
    active: Mapped[bool] = mapped_column(default=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(80))
    created_by: Mapped[str] = mapped_column(String(80), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def actor(self) -> str:
        """How the client appears as `entered_by` and in the instance audit."""
        return f"api:{self.name}"


class ApiCall(db.Model):
    """One audited API request: which client, what it asked, how it was answered."""

    __tablename__ = "api_call"
    __table_args__ = (Index("ix_api_call_client_at", "client_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(300))
    status: Mapped[int]
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    replayed: Mapped[bool] = mapped_column(default=False)
    duration_ms: Mapped[int] = mapped_column(default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class IdempotencyRecord(db.Model):
    """The first answer to a POST sent with an Idempotency-Key, replayed for every retry of it. A row
    without a status is a request still being answered."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("client_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"))
    key: Mapped[str] = mapped_column(String(200))
    # method, path and body hashed: the same key with a different request is refused, not replayed
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
