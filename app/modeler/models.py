"""A process owner's unsaved-to-production work: one draft per process key."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db
from app.sqltypes import UTCDateTime


class ProcessDraft(db.Model):
    """The diagram being edited for a process. Deploying it makes the next version and removes the draft;
    it remembers the version it started from, so a deployment made meanwhile by someone else shows."""

    __tablename__ = "process_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    filename: Mapped[str] = mapped_column(String(200), default="")
    bpmn_xml: Mapped[str] = mapped_column(Text)
    base_version: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(String(80), default="")
    updated_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
