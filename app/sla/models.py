"""SLA policies, the business calendars they count in, and the escalations raised when a target is
at risk or missed."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.extensions import db
from app.sqltypes import UTCDateTime

SCOPES = ("task", "exception")
LEVELS = ("at_risk", "breached", "breached_long")  # the last: breached by more than one more target


class SlaCalendar(db.Model):
    __tablename__ = "sla_calendar"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    zone: Mapped[str] = mapped_column(String(60), default="UTC")
    # {"0": [["09:00", "18:00"]], …}: weekday (Monday 0) → working intervals, local wall-clock time
    hours: Mapped[dict] = mapped_column(JSON, default=dict)
    holidays: Mapped[list] = mapped_column(JSON, default=list)  # ISO dates


class SlaPolicy(db.Model):
    """Targets for one kind of work: a user task (by its BPMN id) or an exception (by type or family),
    optionally for one severity only. The most specific active policy wins."""

    __tablename__ = "sla_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(80))  # task element id, exception type or family, or "*"
    severity: Mapped[str] = mapped_column(String(10), default="")  # "" for any
    response_minutes: Mapped[int | None]
    resolution_minutes: Mapped[int]
    at_risk_pct: Mapped[int] = mapped_column(default=75)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("sla_calendar.id"))
    active: Mapped[bool] = mapped_column(default=True)
    updated_by: Mapped[str] = mapped_column(String(80), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    calendar: Mapped[SlaCalendar] = relationship()


class Escalation(db.Model):
    __tablename__ = "escalation"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(20))
    business_key: Mapped[str] = mapped_column(String(80), index=True)  # the order or exception number
    order_number: Mapped[str] = mapped_column(String(20), default="", index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    element_id: Mapped[str] = mapped_column(String(120), default="")
    what: Mapped[str] = mapped_column(String(200))  # the task's title or the promise's name
    role: Mapped[str] = mapped_column(String(40), default="")
    assignee: Mapped[str] = mapped_column(String(80), default="")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    acknowledged_by: Mapped[str] = mapped_column(String(80), default="")
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SlaChange(db.Model):
    """Audit of every change managers make to SLA targets: a policy, a calendar, or the due time of
    one running piece of work (an extension). `before` and `after` hold the changed fields."""

    __tablename__ = "sla_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    by: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(20))  # policy, calendar, task
    subject_ref: Mapped[str] = mapped_column(String(120))  # policy or calendar id, or business key/element
    action: Mapped[str] = mapped_column(String(20))  # created, changed, deactivated, extended
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(String(500), default="")


class SlaPause(db.Model):
    """A stretch of time an instance's SLA clocks stood still while it waited on the customer.
    `timers` keeps what resuming moves out by exactly the pause: {"timers": {spiff timer id: ISO},
    "tasks": {human_task id: {"due_at": ISO, "at_risk_at": ISO}}}."""

    __tablename__ = "sla_pause"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    business_key: Mapped[str] = mapped_column(String(80), index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    paused_by: Mapped[str] = mapped_column(String(80))
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    resumed_by: Mapped[str] = mapped_column(String(80), default="")
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timers: Mapped[dict] = mapped_column(JSON, default=dict)
