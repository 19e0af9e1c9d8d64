"""API clients: partner systems (the online shop, an EDI gateway) that call the API with a bearer token.
Only the SHA-256 of a token is kept; the token itself is shown once, when the client is created."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db
from app.sqltypes import UTCDateTime


class ApiClient(db.Model):
    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    # The order channel this client speaks for; every order it places is recorded with it.
    channel: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def actor(self) -> str:
        """How the client appears as `entered_by` and in the instance audit."""
        return f"api:{self.name}"
