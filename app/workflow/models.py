"""What the engine keeps in the database: definitions, instances and their projections."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.extensions import db
from app.sqltypes import UTCDateTime


class ProcessDefinition(db.Model):
    """One deployed version of a process. Called processes travel with it in `called_xml`."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200), default="")
    filename: Mapped[str] = mapped_column(String(200), default="")
    # Deferred: steps need only key and sha256 to find the cached parsed version.
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    called_xml: Mapped[list[str]] = mapped_column(JSON, default=list, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="deployed")  # draft, deployed, retired
    comment: Mapped[str] = mapped_column(Text, default="")
    deployed_by: Mapped[str] = mapped_column(String(80), default="")
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ProcessInstance(db.Model):
    __tablename__ = "process_instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    process_key: Mapped[str] = mapped_column(String(120))
    business_key: Mapped[str] = mapped_column(String(80), index=True)
    # running: a person has work; waiting: only timers or messages; then completed, cancelled, error.
    status: Mapped[str] = mapped_column(String(20), index=True)
    lock_version: Mapped[int] = mapped_column(default=0)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    serializer_version: Mapped[str] = mapped_column(String(10))
    error: Mapped[dict | None] = mapped_column(JSON, default=None)
    # The earliest pending timer, as written to `wakeup`; lets a step skip the wakeup table.
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while something outside holds the instance (an open blocking exception, by its number):
    # its human tasks cannot be completed and its timers wait until it is released.
    held_by: Mapped[str | None] = mapped_column(String(80))
    started_by: Mapped[str] = mapped_column(String(80), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    definition: Mapped[ProcessDefinition] = relationship()


# Tasks still waiting for a person. The inbox indexes are partial on exactly this predicate: done and
# withdrawn tasks (most of the table, kept for the audit) stay out of them. Queries must say the same
# condition with literal values (app.workflow.inbox.OPEN), or the planner cannot prove it uses them.
OPEN_TASK = "state IN ('open', 'claimed')"


def _open_task_index(name: str, *columns: str) -> Index:
    return Index(name, *columns, postgresql_where=text(OPEN_TASK), sqlite_where=text(OPEN_TASK))


class HumanTask(db.Model):
    """A READY user or manual task as the inbox sees it; rebuilt from the engine after every step."""

    __tablename__ = "human_task"
    __table_args__ = (
        UniqueConstraint("instance_id", "spiff_task_id"),
        # One per inbox queue, each in the queue's order (due first, no deadline last, then oldest):
        # a team's queue, the tasks someone holds, and every open task (managers); and the kinds of
        # task, for the type filter, its options and its counts (read from the index alone).
        # The team queue's index ends with the columns the filters read besides due_at (task type,
        # business key, at-risk time): a filtered count, and the search for a page's rows, read the
        # index alone and never visit the table.
        _open_task_index("ix_human_task_queue", "role", "due_at", "created_at", "id",
                         "element_id", "business_key", "at_risk_at"),
        _open_task_index("ix_human_task_assignee", "assignee_id", "due_at", "created_at", "id"),
        _open_task_index("ix_human_task_open_due", "due_at", "created_at", "id"),
        _open_task_index("ix_human_task_open_type", "element_id", "title", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(120))
    business_key: Mapped[str] = mapped_column(String(80), index=True)
    title: Mapped[str] = mapped_column(String(200))
    form_key: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str | None] = mapped_column(String(40))
    instructions: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default="open")  # open, claimed, completed, cancelled
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    priority: Mapped[int] = mapped_column(default=3)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at_risk_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(80))

    instance: Mapped[ProcessInstance] = relationship()


class Wakeup(db.Model):
    """The earliest pending timer of an instance, and which scheduler has claimed it."""

    __tablename__ = "wakeup"

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InstanceEvent(db.Model):
    """Append-only audit of everything that happened to an instance."""

    __tablename__ = "instance_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    element_id: Mapped[str | None] = mapped_column(String(120))
    spiff_task_id: Mapped[str | None] = mapped_column(String(36))
    actor: Mapped[str] = mapped_column(String(80), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
