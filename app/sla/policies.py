"""Managers' changes to SLA policies and business calendars: every input checked field by field,
then applied and recorded in the SLA audit (`SlaChange`, the changed fields before and after).

A refusal names each field at fault and changes nothing. A policy sets the targets of work that
begins after the change: the due times of running tasks were computed when they began and stay.

Messages are English and marked for the catalog; the page translates them with their values.
"""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache

from lxml import etree
from sqlalchemy import func, select

from app.clock import now
from app.exceptions import taxonomy
from app.exceptions.models import SEVERITIES
from app.extensions import db
from app.sla.calendar import CalendarError
from app.sla.models import SCOPES, SlaCalendar, SlaChange, SlaPolicy
from app.sla.service import SlaError, calendar_of
from app.workflow.models import ProcessDefinition

ANY = "*"
DEFAULT_AT_RISK_PCT = 75
# Far enough for any real target: 2,160 hours. Whether a calendar holds that much working time within
# the three years BusinessCalendar searches is checked against the calendar itself.
MAX_MINUTES = 90 * 24 * 60
MAX_NAME = 80
WEEKDAYS = range(7)
WEEKDAY_KEYS = {str(day) for day in WEEKDAYS}  # as the JSON column keeps them
# ASCII digits only: the calendar reads these back with time.fromisoformat and date.fromisoformat.
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# An interval may end at midnight, written 24:00; the calendar keeps it as 00:00 ("to midnight").
MIDNIGHT_END = "24:00"
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
POLICY_FIELDS = ("scope", "key", "severity", "response_minutes", "resolution_minutes", "at_risk_pct", "calendar_id")
CALENDAR_FIELDS = ("name", "zone", "hours", "holidays")


def N_(text: str) -> str:
    """Marks a message for the catalog; the page translates it when it shows it."""
    return text


@dataclass(frozen=True)
class Problem:
    text: str  # English, with %(name)s placeholders for `values`
    values: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text % self.values if self.values else self.text


class SlaChangeRefused(SlaError):
    """Input that cannot become a policy or calendar; `errors` holds every problem found, by field."""

    def __init__(self, errors: dict[str, Problem]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in errors.items()))


# --- what a key may be ----------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _user_tasks_in(xml: str) -> tuple[tuple[str, str], ...]:
    try:
        root = etree.fromstring(xml.encode(), _PARSER)
    except etree.XMLSyntaxError:
        return ()
    return tuple((element.get("id"), element.get("name") or element.get("id"))
                 for kind in ("userTask", "manualTask") for element in root.iter(f"{_BPMN}{kind}")
                 if element.get("id"))


def tasks_by_process() -> dict[str, dict[str, str]]:
    """The user (and manual) tasks of every deployed process version, element id → name, grouped by
    the name of the process (its newest version's) and ordered by id."""
    groups: dict[str, tuple[str, dict[str, str]]] = {}
    rows = db.session.execute(select(ProcessDefinition.key, ProcessDefinition.name, ProcessDefinition.bpmn_xml,
                                     ProcessDefinition.called_xml)
                              .where(ProcessDefinition.status == "deployed").order_by(ProcessDefinition.id))
    for key, name, xml, called in rows:
        tasks = groups.get(key, ("", {}))[1]
        for document in (xml, *(called or ())):
            tasks.update(_user_tasks_in(document))
        groups[key] = (name or key, tasks)
    return {name: dict(sorted(tasks.items())) for name, tasks in groups.values() if tasks}


def task_keys() -> dict[str, str]:
    """Every user-task id a task policy may name: element id → name."""
    return dict(sorted((key, name) for tasks in tasks_by_process().values() for key, name in tasks.items()))


def exception_keys() -> dict[str, str]:
    """Exception families and types: key → English label."""
    return {**taxonomy.FAMILIES, **{key: kind.label for key, kind in taxonomy.TYPES.items()}}


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones a calendar may use."""
    from zoneinfo import available_timezones

    return tuple(sorted(available_timezones()))


# --- policies -------------------------------------------------------------------------------------------


def _whole(value) -> int | None:
    """An int as given (bool is not a number here), or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _check_policy(values: dict, *, current: SlaPolicy | None) -> dict[str, Problem]:
    errors: dict[str, Problem] = {}
    scope, key, severity = values["scope"], values["key"], values["severity"]
    if scope not in SCOPES:
        errors["scope"] = Problem(N_("Choose what the policy is for: a task or an exception."))
    # A key already held may have left the diagrams since; that should not stop editing its targets.
    key_is_new = current is None or (key, scope) != (current.key, current.scope)
    if not key:
        errors["key"] = Problem(N_("Choose the task or exception the policy is for."))
    elif scope == "task" and key_is_new and key != ANY and key not in task_keys():
        errors["key"] = Problem(N_("No deployed process has a user task '%(key)s'."), {"key": key})
    elif scope == "exception" and key_is_new and key != ANY and key not in exception_keys():
        errors["key"] = Problem(N_("'%(key)s' is not an exception type or family."), {"key": key})
    if severity not in ("", *SEVERITIES):
        errors["severity"] = Problem(N_("Choose a severity, or none for every severity."))

    resolution = _whole(values["resolution_minutes"])
    if resolution is None or resolution <= 0:
        errors["resolution_minutes"] = Problem(N_("Give the resolution target: more than 0 minutes."))
    elif resolution > MAX_MINUTES:
        errors["resolution_minutes"] = Problem(N_("At most %(hours)s hours."), {"hours": f"{MAX_MINUTES // 60:,}"})
    response = values["response_minutes"]
    if response is not None:
        response = _whole(response)
        if response is None or response <= 0:
            errors["response_minutes"] = Problem(N_("The response target is more than 0 minutes, or empty."))
        elif resolution is not None and resolution > 0 and response > resolution:
            errors["response_minutes"] = Problem(N_("The response target cannot be longer than the resolution target."))
    pct = _whole(values["at_risk_pct"])
    if pct is None or not 1 <= pct <= 99:
        errors["at_risk_pct"] = Problem(N_("At risk from 1 to 99 per cent of the resolution target."))
    calendar_id = _whole(values["calendar_id"])
    if calendar_id is None or db.session.get(SlaCalendar, calendar_id) is None:
        errors["calendar_id"] = Problem(N_("Choose a business calendar."))

    if calendar_id is not None and resolution is not None and not errors.keys() & {"calendar_id", "resolution_minutes"}:
        row = db.session.get(SlaCalendar, calendar_id)
        if not _reaches(row, resolution):
            errors["calendar_id"] = Problem(N_("Calendar %(name)s has too little working time for this target."),
                                            {"name": row.name})

    if not errors.keys() & {"scope", "key", "severity"}:
        clash = db.session.scalar(select(SlaPolicy).where(
            SlaPolicy.scope == scope, SlaPolicy.key == key, SlaPolicy.severity == severity,
            SlaPolicy.active.is_(True), SlaPolicy.id != (current.id if current else -1)).limit(1))
        if clash is not None:
            errors["key"] = Problem(N_("Policy %(id)s already covers this; change that one instead."),
                                    {"id": clash.id})
    return errors


def _reaches(row: SlaCalendar, resolution_minutes: int) -> bool:
    """Whether the calendar holds the working time a target needs from now: up to its last escalation,
    one more target past the due time. A timer that cannot be computed would stop the process."""
    try:
        calendar_of(row).add(now(), timedelta(minutes=2 * resolution_minutes))
    except (SlaError, CalendarError):
        return False
    return True


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _policy_values(scope, key, severity, resolution_minutes, response_minutes, at_risk_pct, calendar_id) -> dict:
    return {"scope": _text(scope), "key": _text(key), "severity": _text(severity),
            "resolution_minutes": resolution_minutes, "response_minutes": response_minutes,
            "at_risk_pct": DEFAULT_AT_RISK_PCT if at_risk_pct is None else at_risk_pct, "calendar_id": calendar_id}


def _record(by: str, subject: str, ref: int, action: str, before: dict, after: dict) -> SlaChange:
    change = SlaChange(at=now(), by=by, subject=subject, subject_ref=str(ref), action=action, before=before,
                       after=after)
    db.session.add(change)
    return change


def policy_problems(*, scope: str, key: str, resolution_minutes: int | None, severity: str = "",
                    response_minutes: int | None = None, at_risk_pct: int | None = DEFAULT_AT_RISK_PCT,
                    calendar_id: int | None = None, policy_id: int | None = None) -> dict[str, Problem]:
    """What create_policy (or update_policy of `policy_id`) would refuse, writing nothing."""
    values = _policy_values(scope, key, severity, resolution_minutes, response_minutes, at_risk_pct, calendar_id)
    return _check_policy(values, current=db.session.get(SlaPolicy, policy_id) if policy_id is not None else None)


def create_policy(*, scope: str, key: str, resolution_minutes: int, by: str, severity: str = "",
                  response_minutes: int | None = None, at_risk_pct: int | None = DEFAULT_AT_RISK_PCT,
                  calendar_id: int | None = None) -> SlaPolicy:
    values = _policy_values(scope, key, severity, resolution_minutes, response_minutes, at_risk_pct, calendar_id)
    errors = _check_policy(values, current=None)
    if errors:
        raise SlaChangeRefused(errors)
    policy = SlaPolicy(**values, active=True, updated_by=by, updated_at=now())
    db.session.add(policy)
    db.session.flush()
    _record(by, "policy", policy.id, "created", {}, values)
    db.session.flush()
    return policy


def get_policy(policy_id: int) -> SlaPolicy:
    found = db.session.get(SlaPolicy, policy_id)
    if found is None:
        raise SlaChangeRefused({"": Problem(N_("There is no policy %(id)s."), {"id": policy_id})})
    return found


def update_policy(policy_id: int, *, scope: str, key: str, resolution_minutes: int, by: str, severity: str = "",
                  response_minutes: int | None = None, at_risk_pct: int | None = DEFAULT_AT_RISK_PCT,
                  calendar_id: int | None = None) -> SlaPolicy:
    """Replace the policy's targets; returns it unchanged (and records nothing) when nothing differs."""
    current = get_policy(policy_id)
    if not current.active:
        raise SlaChangeRefused({"": Problem(N_("Policy %(id)s is deactivated; create a new one instead."),
                                            {"id": policy_id})})
    values = _policy_values(scope, key, severity, resolution_minutes, response_minutes, at_risk_pct, calendar_id)
    errors = _check_policy(values, current=current)
    if errors:
        raise SlaChangeRefused(errors)
    changed = [name for name in POLICY_FIELDS if getattr(current, name) != values[name]]
    if not changed:
        return current
    before = {name: getattr(current, name) for name in changed}
    for name in changed:
        setattr(current, name, values[name])
    current.updated_by, current.updated_at = by, now()
    _record(by, "policy", current.id, "changed", before, {name: values[name] for name in changed})
    db.session.flush()
    return current


def deactivate_policy(policy_id: int, *, by: str) -> SlaPolicy:
    """Work begun from now on follows the next most specific policy (or the default)."""
    current = get_policy(policy_id)
    if not current.active:
        raise SlaChangeRefused({"": Problem(N_("Policy %(id)s is already deactivated."), {"id": policy_id})})
    current.active, current.updated_by, current.updated_at = False, by, now()
    _record(by, "policy", current.id, "deactivated", {"active": True}, {"active": False})
    db.session.flush()
    return current


# --- calendars ------------------------------------------------------------------------------------------


def _minutes(clock: str) -> int:
    return 24 * 60 if clock == MIDNIGHT_END else int(clock[:2]) * 60 + int(clock[3:])


def working_minutes(intervals) -> int:
    """The working time of a day's stored intervals (an end of 00:00 is midnight)."""
    return sum(_minutes(MIDNIGHT_END if end == "00:00" else end) - _minutes(start) for start, end in intervals)


def _check_day(intervals) -> tuple[list[list[str]], Problem | None]:
    """The day's intervals in order as the calendar keeps them, or the first problem found."""
    if not isinstance(intervals, list | tuple):
        return [], Problem(N_("Give the working hours as intervals like 08:00-12:00."))
    parsed = []
    for interval in intervals:
        if not isinstance(interval, list | tuple) or len(interval) != 2 \
                or not all(isinstance(part, str) for part in interval):
            return [], Problem(N_("Give the working hours as intervals like 08:00-12:00."))
        start, end = (part.strip() for part in interval)
        if end == "00:00":
            end = MIDNIGHT_END
        for clock, valid in ((start, _CLOCK.fullmatch(start)), (end, _CLOCK.fullmatch(end) or end == MIDNIGHT_END)):
            if not valid:
                return [], Problem(N_("'%(time)s' is not a time of day HH:MM."), {"time": clock})
        if _minutes(start) >= _minutes(end):
            return [], Problem(N_("%(start)s-%(end)s ends before it starts."), {"start": start, "end": end})
        parsed.append((_minutes(start), _minutes(end), start, end))
    parsed.sort()
    for (_, previous_end, a, b), (start, _, c, d) in zip(parsed, parsed[1:], strict=False):
        if start < previous_end:
            return [], Problem(N_("%(first)s and %(second)s overlap."), {"first": f"{a}-{b}", "second": f"{c}-{d}"})
    return [[start, "00:00" if end == MIDNIGHT_END else end] for _, _, start, end in parsed], None


def _check_calendar(name, zone, hours, holidays, *, current: SlaCalendar | None) -> tuple[dict, dict[str, Problem]]:
    """The calendar's values as they are stored, and the problems found by field."""
    errors: dict[str, Problem] = {}
    name, zone = _text(name), _text(zone)
    if not name:
        errors["name"] = Problem(N_("Give the calendar a name."))
    elif len(name) > MAX_NAME:
        errors["name"] = Problem(N_("At most %(count)s characters."), {"count": MAX_NAME})
    else:
        taken = db.session.scalar(select(SlaCalendar).where(
            func.lower(SlaCalendar.name) == name.lower(), SlaCalendar.id != (current.id if current else -1)).limit(1))
        if taken is not None:
            errors["name"] = Problem(N_("Another calendar is called '%(name)s'."), {"name": taken.name})
    if zone not in time_zones():
        errors["zone"] = Problem(N_("'%(zone)s' is not a time zone; choose one like Europe/Berlin."), {"zone": zone})

    stored_hours: dict[str, list[list[str]]] = {}
    if not isinstance(hours, dict):
        errors["hours"] = Problem(N_("Give the working hours per weekday."))
    else:
        for day, intervals in hours.items():
            weekday = int(day) if str(day) in WEEKDAY_KEYS and not isinstance(day, bool) else None
            if weekday is None:
                errors["hours"] = Problem(N_("'%(day)s' is not a weekday from 0 (Monday) to 6 (Sunday)."),
                                          {"day": str(day)})
                continue
            kept, problem = _check_day(intervals)
            if problem is not None:
                errors[f"hours.{weekday}"] = problem
            elif kept:
                stored_hours[str(weekday)] = kept
        if not errors.keys() & {"hours", *(f"hours.{d}" for d in WEEKDAYS)} and not stored_hours:
            # Without working time no target could ever fall due.
            errors["hours"] = Problem(N_("Give working hours for at least one weekday."))

    stored_holidays: set[str] = set()
    if not isinstance(holidays, list | tuple):
        errors["holidays"] = Problem(N_("Give the holidays as dates YYYY-MM-DD."))
    else:
        for holiday in holidays:
            text = holiday.strip() if isinstance(holiday, str) else str(holiday)
            try:
                if not _ISO_DATE.fullmatch(text):
                    raise ValueError(text)
                date.fromisoformat(text)
            except ValueError:
                errors["holidays"] = Problem(N_("'%(date)s' is not a date YYYY-MM-DD."), {"date": text})
                break
            stored_holidays.add(text)
    values = {"name": name, "zone": zone, "hours": dict(sorted(stored_hours.items())),
              "holidays": sorted(stored_holidays)}
    if current is not None and not errors:
        longest = db.session.scalar(select(func.max(SlaPolicy.resolution_minutes)).where(
            SlaPolicy.calendar_id == current.id, SlaPolicy.active.is_(True)))
        if longest and not _reaches(SlaCalendar(**values), longest):
            errors["hours"] = Problem(N_("Too little working time for the policies that count in this calendar."))
    return values, errors


def get_calendar(calendar_id: int) -> SlaCalendar:
    found = db.session.get(SlaCalendar, calendar_id)
    if found is None:
        raise SlaChangeRefused({"": Problem(N_("There is no calendar %(id)s."), {"id": calendar_id})})
    return found


def calendar_problems(*, name: str, zone: str, hours: dict, holidays: list | tuple = (),
                      calendar_id: int | None = None) -> dict[str, Problem]:
    """What create_calendar (or update_calendar of `calendar_id`) would refuse, writing nothing."""
    current = db.session.get(SlaCalendar, calendar_id) if calendar_id is not None else None
    return _check_calendar(name, zone, hours, holidays, current=current)[1]


def create_calendar(*, name: str, zone: str, hours: dict, holidays: list | tuple = (), by: str) -> SlaCalendar:
    """`hours`: weekday (0 Monday … 6 Sunday) → [[start, end], …] as HH:MM, an end of 24:00 (or 00:00)
    for midnight; `holidays`: ISO dates."""
    values, errors = _check_calendar(name, zone, hours, holidays, current=None)
    if errors:
        raise SlaChangeRefused(errors)
    row = SlaCalendar(**values)
    db.session.add(row)
    db.session.flush()
    _record(by, "calendar", row.id, "created", {}, values)
    db.session.flush()
    return row


def update_calendar(calendar_id: int, *, name: str, zone: str, hours: dict, holidays: list | tuple = (),
                    by: str) -> SlaCalendar:
    """Like policies, a calendar change counts for work begun after it."""
    current = get_calendar(calendar_id)
    values, errors = _check_calendar(name, zone, hours, holidays, current=current)
    if errors:
        raise SlaChangeRefused(errors)
    changed = [name for name in CALENDAR_FIELDS if getattr(current, name) != values[name]]
    if not changed:
        return current
    before = {name: getattr(current, name) for name in changed}
    for name in changed:
        setattr(current, name, values[name])
    _record(by, "calendar", current.id, "changed", before, {name: values[name] for name in changed})
    db.session.flush()
    return current
