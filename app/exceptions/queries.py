"""Reading exception cases for the desk: the filtered list and its counts per family, and what one
case produced (its customer messages, credit notes, refunds and non-conformances)."""

from dataclasses import dataclass, fields, replace
from datetime import timedelta

from sqlalchemy import Select, func, or_, select

from app.billing.models import CreditNote, Refund
from app.clock import now
from app.exceptions import taxonomy
from app.exceptions.models import SEVERITIES, STATUSES, ExceptionCase, NonConformance
from app.extensions import db
from app.notifications.models import OutboxMessage

OPEN_STATUSES = ("open", "in_progress")
# "Not closed yet" as one choice, next to the statuses themselves.
ACTIVE = "active"
AGES = {"1d": 1, "3d": 3, "7d": 7}  # older than so many days
SORTS = ("newest", "oldest")


@dataclass(frozen=True)
class Filters:
    """What the desk narrows the list by; a value that is not one of the choices is ignored."""

    family: str = ""
    type: str = ""
    severity: str = ""
    status: str = ""
    owner: str = ""
    age: str = ""

    @classmethod
    def parse(cls, args) -> "Filters":
        allowed = {"family": taxonomy.FAMILIES, "type": taxonomy.TYPES, "severity": SEVERITIES,
                   "status": (ACTIVE, *STATUSES), "owner": taxonomy.OWNER_ROLES, "age": AGES}
        values = {name: args.get(name) or "" for name in allowed}
        return cls(**{name: value if value in allowed[name] else "" for name, value in values.items()})

    @property
    def active(self) -> bool:
        return any(self.args().values())

    def args(self) -> dict[str, str]:
        """The filters as query-string arguments (the empty ones left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def without(self, name: str) -> "Filters":
        return replace(self, **{name: ""})


def _conditions(filters: Filters) -> list:
    conditions = []
    if filters.family:
        conditions.append(ExceptionCase.family == filters.family)
    if filters.type:
        conditions.append(ExceptionCase.type == filters.type)
    if filters.severity:
        conditions.append(ExceptionCase.severity == filters.severity)
    if filters.status == ACTIVE:
        conditions.append(ExceptionCase.status.in_(OPEN_STATUSES))
    elif filters.status:
        conditions.append(ExceptionCase.status == filters.status)
    if filters.owner:
        conditions.append(ExceptionCase.owner_role == filters.owner)
    if filters.age:
        conditions.append(ExceptionCase.created_at <= now() - timedelta(days=AGES[filters.age]))
    return conditions


def listing(filters: Filters, sort: str = "newest") -> Select:
    """Cases matching the filters, newest (or oldest) first."""
    query = select(ExceptionCase).where(*_conditions(filters))
    if sort == "oldest":
        return query.order_by(ExceptionCase.created_at, ExceptionCase.id)
    return query.order_by(ExceptionCase.created_at.desc(), ExceptionCase.id.desc())


def family_counts(filters: Filters) -> dict[str, int]:
    """How many cases each family's tab would list with the other filters as they are."""
    rows = db.session.execute(select(ExceptionCase.family, func.count()).where(
        *_conditions(filters.without("family"))).group_by(ExceptionCase.family))
    found = dict(rows.all())
    return {family: found.get(family, 0) for family in taxonomy.FAMILIES}


def open_count() -> int:
    """Cases nobody has closed yet (open or in progress)."""
    return db.session.scalar(select(func.count()).select_from(ExceptionCase).where(
        ExceptionCase.status.in_(OPEN_STATUSES)))


def by_number(number: str) -> ExceptionCase | None:
    return db.session.scalar(select(ExceptionCase).where(ExceptionCase.number == number))


@dataclass
class Records:
    """What a case produced: the messages sent for it, and the money and reports it caused."""

    messages: list[OutboxMessage]
    credit_notes: list[CreditNote]
    refunds: list[Refund]
    non_conformances: list[NonConformance]


def records(case: ExceptionCase) -> Records:
    # Every message the exception process queues has an idempotency key "<case number>:…".
    prefix = f"{case.number}:"
    messages = list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.order_id == case.order_id, OutboxMessage.idempotency_key.startswith(prefix, autoescape=True))
        .order_by(OutboxMessage.id)))
    # A credit note is announced as "<case>:credit:<note number>"; its reason may also name the case.
    noted = [m.idempotency_key.split(":", 2)[2] for m in messages if m.idempotency_key.startswith(f"{prefix}credit:")]
    credit_notes = list(db.session.scalars(select(CreditNote).where(
        CreditNote.order_id == case.order_id,
        or_(CreditNote.number.in_(noted), CreditNote.reason.contains(case.number, autoescape=True)))
        .order_by(CreditNote.id)))
    refunds = list(db.session.scalars(select(Refund).where(Refund.exception_id == case.id).order_by(Refund.id)))
    reports = list(db.session.scalars(select(NonConformance).where(NonConformance.exception_id == case.id)
                                      .order_by(NonConformance.id)))
    return Records(messages, credit_notes, refunds, reports)
