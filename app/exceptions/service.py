"""Raising, triaging and closing exception cases. Raising one starts an instance of the exception
process (business key: the case number) in the caller's transaction; a blocking case holds the
order and its process until the case is closed, and closing tells the order's process the outcome.
"""

from sqlalchemy import func, select, update

from app.clock import now
from app.exceptions import taxonomy
from app.exceptions.models import RESOLUTION_CODES, SEVERITIES, SOURCES, ExceptionCase
from app.extensions import db
from app.notifications import service as outbox
from app.numbering import next_number
from app.orders import service as orders
from app.orders import states
from app.orders.models import Order
from app.workflow import runtime

PROCESS_KEY = "exception_handling"
MAX_TEXT = 4000
# Orders in these statuses are over: nothing can be cancelled or changed any more.
FINISHED = ("cancelled", "rejected", "returned", "completed")
# Types that change what the order will be; refused once the order is finished.
CHANGES_ORDER = ("data_change", "cancellation", "stockout", "wrong_pick")


class ExceptionError(ValueError):
    """A case that cannot be raised or resolved as asked; `errors` names the fields."""

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.errors = errors or {}


class CancellationPending(ExceptionError):
    """The order already has a cancellation being handled."""


def get(number: str) -> ExceptionCase:
    case = db.session.scalar(select(ExceptionCase).where(ExceptionCase.number == number))
    if case is None:
        raise ExceptionError(f"no exception {number}")
    return case


def open_cases(order: Order) -> list[ExceptionCase]:
    return list(db.session.scalars(select(ExceptionCase).where(
        ExceptionCase.order_id == order.id, ExceptionCase.status.in_(("open", "in_progress")))
        .order_by(ExceptionCase.id)))


def for_order(order: Order) -> list[ExceptionCase]:
    return list(db.session.scalars(select(ExceptionCase).where(ExceptionCase.order_id == order.id)
                                   .order_by(ExceptionCase.id)))


def _refuse_if_unfit(order: Order, kind: taxonomy.ExceptionType) -> None:
    if kind.key == "cancellation":
        _one_cancellation_at_a_time(order)
    if kind.key in CHANGES_ORDER and order.status in FINISHED:
        refusal = f"{order.number} is already {order.status}; it can no longer be {_verb(kind)}"
        raise ExceptionError(refusal, {"type": refusal})
    if kind.key == "cancellation":
        pending = next((c for c in open_cases(order) if c.type == "cancellation"), None)
        if pending is not None:
            refusal = f"{order.number} already has a cancellation being handled ({pending.number})"
            raise CancellationPending(refusal, {"type": refusal})


# The first key of PostgreSQL's two-key advisory locks that serialise the cancellations of one order.
CANCELLATION_LOCK = 0x43414E  # "CAN"


def _one_cancellation_at_a_time(order: Order) -> None:
    """Wait until no other cancellation of the order is being checked or recorded (until the unit of work
    ends), then read the order afresh: two cancellations reported at the same moment are checked one
    after the other, and the second sees the first's case. On PostgreSQL an advisory lock, not the
    order's row, which the timers take only after the process instance's; on SQLite a first write,
    which takes the database's one write lock."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(CANCELLATION_LOCK, order.id)))
    else:
        db.session.execute(update(Order).where(Order.id == order.id).values(number=Order.number)
                           .execution_options(synchronize_session=False))
    db.session.scalars(select(Order).where(Order.id == order.id).execution_options(populate_existing=True)).one()


def _verb(kind: taxonomy.ExceptionType) -> str:
    return "cancelled" if kind.key == "cancellation" else "changed"


def raise_case(order: Order, type_key: str, *, source: str, reported_by: str, description: str = "",
               severity: str | None = None, details: dict | None = None, external_ref: str | None = None,
               hold_process: bool = True) -> ExceptionCase:
    """Record a case and start its exception process. Bad input raises ExceptionError by field and
    writes nothing. An `external_ref` seen before returns the first case (a partner's retry).
    `hold_process=False` when the order's own process raises it (it waits for the outcome itself)."""
    if external_ref:
        seen = db.session.scalar(select(ExceptionCase).where(ExceptionCase.external_ref == external_ref))
        if seen is not None:
            return seen
    kind = taxonomy.TYPES.get(type_key)
    errors: dict[str, str] = {}
    if kind is None:
        errors["type"] = f"unknown exception type '{str(type_key)[:40]}'"
    if severity is not None and severity not in SEVERITIES:
        errors["severity"] = f"one of {', '.join(SEVERITIES)}"
    if source not in SOURCES:
        errors["source"] = f"one of {', '.join(SOURCES)}"
    if not isinstance(description, str) or len(description) > MAX_TEXT:
        errors["description"] = f"at most {MAX_TEXT} characters"
    if errors:
        raise ExceptionError("the exception cannot be raised", errors)
    with runtime.unit_of_work():  # the checks and the case in one transaction: a refusal rolls back the start
        if hold_process:  # a queued order process runs its first steps before the case reads the order's stage
            runtime.start_queued(order.number)
        _refuse_if_unfit(order, kind)
        case = ExceptionCase(
            number=next_number("EX"), order_id=order.id, customer_id=order.customer_id, family=kind.family,
            type=kind.key, severity=severity or kind.severity, blocking=kind.blocking, owner_role=kind.owner_role,
            source=source, reported_by=reported_by, stage=order.status, description=description.strip(),
            details=details or {}, external_ref=external_ref or None, created_at=now(),
        )
        db.session.add(case)
        db.session.flush()
        if case.blocking:
            _hold(case, order, hold_process)
        runtime.start(PROCESS_KEY, case.number, {
            "exception_number": case.number, "order_number": order.number, "exception_type": kind.key,
            "family": kind.family, "severity": case.severity, "owner_role": case.owner_role,
            "blocking": case.blocking, "reported_by": reported_by,
        }, actor=reported_by)
    return case


def _hold(case: ExceptionCase, order: Order, hold_process: bool) -> None:
    if order.status != "on_hold" and states.allowed("status", order.status, "on_hold"):
        order.held_from = order.status
        orders.set_status(order, "on_hold")
    if hold_process:
        runtime.hold(order.number, case.number, actor=case.reported_by)


def respond(number: str, *, type_key: str = "", severity: str = "", owner_role: str = "", summary: str = "",
            blocking: bool | None = None) -> ExceptionCase:
    """Triage is done: confirm or correct the classification, tell the customer, start work."""
    case = get(number)
    if type_key and type_key != case.type:
        kind = taxonomy.TYPES.get(type_key)
        if kind is None:
            raise ExceptionError(f"unknown exception type '{type_key}'")
        case.type, case.family = kind.key, kind.family
        if not owner_role:
            case.owner_role = kind.owner_role
    if severity:
        case.severity = severity
    if owner_role:
        if owner_role not in taxonomy.OWNER_ROLES:
            raise ExceptionError(f"unknown owner team '{owner_role}'")
        case.owner_role = owner_role
    if blocking is not None and blocking != case.blocking and case.source != "process":
        case.blocking = blocking
        if blocking:
            _hold(case, case.order, hold_process=True)
        else:
            _unhold(case, case.order)
    case.status, case.responded_at = "in_progress", now()
    kind = taxonomy.TYPES[case.type]
    if kind.tells_customer:
        outbox.queue(case.order, "exception_received", f"{case.number}:received", exception=case.number,
                     subject=kind.label.lower(), summary=summary.strip() or case.description or kind.label)
    return case


def _unhold(case: ExceptionCase, order: Order, message: str | None = None, payload: dict | None = None) -> bool:
    """Release the order and its process from this case's hold; deliver `message` if it waits."""
    others = [c for c in open_cases(order) if c.id != case.id and c.blocking]
    if order.status == "on_hold" and not others:
        orders.set_status(order, order.held_from or "in_review")
    if order.status != "on_hold":  # released, or ended by the case (cancelled, returned)
        order.held_from = None
    return runtime.release(order.number, case.number, actor=case.number, message=message, payload=payload)


def close(number: str, *, resolution_code: str, resolution: str, root_cause: str = "", corrective_action: str = "",
          preventive_action: str = "", action: str = "", message: str | None = None,
          payload: dict | None = None) -> ExceptionCase:
    """Record how the case ended, release the order, tell its process and the customer."""
    case = get(number)
    if not case.is_open:
        raise ExceptionError(f"{case.number} is already {case.status}")
    if resolution_code not in RESOLUTION_CODES:
        raise ExceptionError(f"unknown resolution code '{resolution_code}'")
    case.action = action
    case.resolution_code, case.resolution = resolution_code, resolution.strip()
    case.root_cause, case.corrective_action = root_cause.strip(), corrective_action.strip()
    case.preventive_action = preventive_action.strip()
    case.status, case.resolved_at = "closed", case.resolved_at or now()
    case.closed_at = now()
    order = case.order
    if message is None and runtime.waits_for(order.number, "exception_resolved"):
        message, payload = "exception_resolved", {"exception": case.number, "type": case.type, "action": action}
    _unhold(case, order, message, payload)
    if taxonomy.TYPES[case.type].tells_customer:
        outbox.queue(order, "exception_resolved", f"{case.number}:resolved", exception=case.number,
                     resolution=case.resolution)
    return case


def stockout_decided(order: Order) -> bool:
    """Whether a stockout on this order is being handled or was settled by waiting for stock."""
    return db.session.scalar(select(func.count()).select_from(ExceptionCase).where(
        ExceptionCase.order_id == order.id, ExceptionCase.type == "stockout",
        (ExceptionCase.status.in_(("open", "in_progress")))
        | ExceptionCase.action.in_(("backorder", "partial_shipment")))) > 0


def counts_by_family() -> dict[str, int]:
    """Open cases per family, for the desk's tabs."""
    rows = db.session.execute(select(ExceptionCase.family, func.count()).where(
        ExceptionCase.status.in_(("open", "in_progress"))).group_by(ExceptionCase.family))
    found = dict(rows.all())
    return {family: found.get(family, 0) for family in taxonomy.FAMILIES}
