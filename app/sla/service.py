"""Finding the policy for a piece of work and turning its targets into due times."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import bindparam, select

from app.exceptions import taxonomy
from app.extensions import db
from app.sla.calendar import ALWAYS, BusinessCalendar, CalendarError
from app.sla.models import SCOPES, SlaCalendar, SlaPolicy


class SlaError(ValueError):
    pass


def calendar_of(row: SlaCalendar | None) -> BusinessCalendar:
    if row is None:
        return ALWAYS
    try:
        hours = {int(day): tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in intervals)
                 for day, intervals in (row.hours or {}).items()}
        return BusinessCalendar(row.zone, hours, frozenset(date.fromisoformat(d) for d in row.holidays or []))
    except (ValueError, TypeError) as error:
        raise SlaError(f"calendar '{row.name}' is not valid: {error}") from None


def _candidates(scope: str, key: str, severity: str) -> list[tuple[str, str]]:
    """From most to least specific: the key, for exceptions its family, then anything."""
    keys = [key]
    if scope == "exception" and key in taxonomy.TYPES:
        keys.append(taxonomy.TYPES[key].family)
    keys.append("*")
    return [(k, s) for k in keys for s in ((severity, "") if severity else ("",))]


# Built once: every timer a process sets reads it.
_ACTIVE_POLICIES = select(SlaPolicy).where(SlaPolicy.scope == bindparam("scope"), SlaPolicy.active.is_(True))


def policy_for(scope: str, key: str, severity: str = "") -> SlaPolicy | None:
    if scope not in SCOPES:
        raise SlaError(f"unknown SLA scope '{scope}'")
    rows = list(db.session.scalars(_ACTIVE_POLICIES, {"scope": scope}))
    found = {(row.key, row.severity): row for row in rows}
    return next((found[c] for c in _candidates(scope, key, severity) if c in found), None)


@dataclass(frozen=True)
class Targets:
    warn_at: datetime
    due_at: datetime
    late_at: datetime  # breached for longer than one more target: the last escalation level
    respond_by: datetime | None


# Work no policy covers is due a day later, around the clock: a deadline nobody set is still one.
DEFAULT_RESOLUTION_MINUTES = 24 * 60
DEFAULT_AT_RISK_PCT = 75


TARGET_KINDS = ("resolution", "response")


def targets(scope: str, key: str, start: datetime, severity: str = "", target: str = "resolution") -> Targets:
    """When work of this kind, begun at `start`, is at risk, due and long overdue. With target
    "response" the clock is the policy's response target (the first answer), where it has one."""
    if target not in TARGET_KINDS:
        raise SlaError(f"unknown SLA target '{target}' (one of {', '.join(TARGET_KINDS)})")
    policy = policy_for(scope, key, severity)
    if policy is None:
        resolution, pct, response, calendar = (timedelta(minutes=DEFAULT_RESOLUTION_MINUTES), DEFAULT_AT_RISK_PCT,
                                               None, ALWAYS)
    else:
        resolution, pct = timedelta(minutes=policy.resolution_minutes), policy.at_risk_pct
        response = timedelta(minutes=policy.response_minutes) if policy.response_minutes else None
        calendar = calendar_of(policy.calendar)
    if target == "response" and response is not None:
        resolution = response
    try:
        return Targets(warn_at=calendar.add(start, resolution * pct / 100), due_at=calendar.add(start, resolution),
                       late_at=calendar.add(start, resolution * 2),
                       respond_by=calendar.add(start, response) if response else None)
    except CalendarError as error:
        raise SlaError(f"policy {scope} '{key}': {error}") from None
