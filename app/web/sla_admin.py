"""Managers' pages for SLA targets: the policies by scope with their targets in words, the forms that
create, change and deactivate them, the business calendars they count in, and the history of every
change. app/sla/policies.py checks and records each change; this module reads forms and shows pages."""

import re
from dataclasses import dataclass
from decimal import Decimal

from babel.dates import get_day_names
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.accounts.roles import MANAGER
from app.exceptions import taxonomy
from app.exceptions.models import SEVERITIES
from app.extensions import db
from app.i18n import translate
from app.sla import policies
from app.sla.models import SCOPES, SlaCalendar, SlaChange, SlaPolicy
from app.web import numbers
from app.web.access import roles_required
from app.web.exceptions import SEVERITY_LABELS
from app.workflow.errors import Conflict

bp = Blueprint("sla_admin", __name__, url_prefix="/manager/sla")
manager_required = roles_required(MANAGER)

HISTORY_PER_PAGE = 50
UNITS = {"minutes": 1, "hours": 60}
# A number of minutes or hours as people write it: no exponents, at most two decimals.
AMOUNT = re.compile(r"[0-9]{1,7}([.,][0-9]{1,2})?")
WHOLE = re.compile(r"[0-9]{1,9}")
INTERVAL = re.compile(r"([0-9]{1,2}:[0-9]{2})\s*[-–]\s*([0-9]{1,2}:[0-9]{2})")
ALL_DAY = [["00:00", "00:00"]]


# --- words for targets, keys and calendars ---------------------------------------------------------------


def duration_words(minutes: int | None) -> str:
    if not minutes:
        return "—"
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return gettext("%(hours)s h %(minutes)s min", hours=format(hours, ","), minutes=rest)
    if hours:
        return gettext("%(hours)s h", hours=format(hours, ","))
    return gettext("%(minutes)s min", minutes=rest)


def around_the_clock(calendar: SlaCalendar) -> bool:
    hours = calendar.hours or {}
    return not calendar.holidays and all(hours.get(str(day)) == ALL_DAY for day in range(7))


def _working_day_minutes(calendar: SlaCalendar) -> int | None:
    """The length of a working day, when every working day is equally long."""
    lengths = {policies.working_minutes(intervals) for intervals in (calendar.hours or {}).values() if intervals}
    return lengths.pop() if len(lengths) == 1 else None


def targets_words(policy: SlaPolicy) -> str:
    """"4 h business time, at risk at 75%; first response within 1 h"."""
    minutes, calendar = policy.resolution_minutes, policy.calendar
    if around_the_clock(calendar):
        resolution = gettext("%(duration)s around the clock", duration=duration_words(minutes))
    else:
        resolution = gettext("%(duration)s business time", duration=duration_words(minutes))
        day = _working_day_minutes(calendar)
        if day and minutes >= day and minutes % day == 0:
            days = ngettext("%(num)s working day", "%(num)s working days", minutes // day)
            resolution = gettext("%(targets)s (%(days)s)", targets=resolution, days=days)
    words = gettext("%(resolution)s, at risk at %(pct)s%%", resolution=resolution, pct=policy.at_risk_pct)
    if policy.response_minutes:
        words = gettext("%(targets)s; first response within %(duration)s", targets=words,
                        duration=duration_words(policy.response_minutes))
    return words


def key_words(scope: str, key: str, task_names: dict[str, str]) -> str:
    if key == policies.ANY:
        return gettext("Any task") if scope == "task" else gettext("Any exception")
    if scope == "task":
        return translate(task_names.get(key, key))
    if key in taxonomy.FAMILIES:
        return gettext("%(family)s (every type)", family=translate(taxonomy.FAMILIES[key]))
    kind = taxonomy.TYPES.get(key)
    return translate(kind.label) if kind else key


def severity_words(severity: str) -> str:
    return str(SEVERITY_LABELS.get(severity, severity)) if severity else gettext("any severity")


def day_text(intervals) -> str:
    """A day's intervals as the editor shows them: "08:00-12:00, 13:00-18:00" (midnight as 24:00)."""
    return ", ".join(f"{start}-{policies.MIDNIGHT_END if end == '00:00' else end}" for start, end in intervals or ())


def hours_words(hours: dict) -> str:
    """"Mon–Fri 08:00–18:00; Sat 09:00–12:00": runs of weekdays with the same hours."""
    names = get_day_names("abbreviated", locale=get_locale())
    runs: list[tuple[int, int, str]] = []
    for day in range(7):
        text = day_text((hours or {}).get(str(day))).replace("-", "–")
        if text and runs and runs[-1][1] == day - 1 and runs[-1][2] == text:
            runs[-1] = (runs[-1][0], day, text)
        elif text:
            runs.append((day, day, text))
    if not runs:
        return gettext("no working hours")
    return "; ".join(f"{names[a]}{'–' + names[b] if b != a else ''} {text}" for a, b, text in runs)


@bp.context_processor
def _words():
    return {"targets_words": targets_words, "duration_words": duration_words, "severity_words": severity_words,
            "hours_words": hours_words, "around_the_clock": around_the_clock}


def _shown(problem: policies.Problem) -> str:
    return gettext(problem.text, **problem.values)


# --- policies ----------------------------------------------------------------------------------------------


def _amount(value: int | None) -> tuple[str, str]:
    """Minutes as the form shows them: whole hours in hours, anything else in minutes."""
    if not value:
        return "", "hours"
    return (str(value // 60), "hours") if value % 60 == 0 else (str(value), "minutes")


class PolicyForm(FlaskForm):
    """The choices are checked by app/sla/policies.py, whose refusals say what to do."""

    key = SelectField(_l("For"), validate_choice=False)
    severity = SelectField(_l("Severity"), choices=["", *SEVERITIES], validate_choice=False)
    resolution = StringField(_l("Resolve within"), validators=[Length(max=12)])
    resolution_unit = SelectField(choices=list(UNITS), validate_choice=False)
    response = StringField(_l("First response within"), validators=[Length(max=12)])
    response_unit = SelectField(choices=list(UNITS), validate_choice=False)
    at_risk_pct = StringField(_l("At risk at"), validators=[Length(max=12)])
    calendar = SelectField(_l("Business calendar"), validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.problems: list[str] = []

    @classmethod
    def of(cls, policy: SlaPolicy) -> "PolicyForm":
        resolution, resolution_unit = _amount(policy.resolution_minutes)
        response, response_unit = _amount(policy.response_minutes)
        return cls(key=policy.key, severity=policy.severity, resolution=resolution, resolution_unit=resolution_unit,
                   response=response, response_unit=response_unit, at_risk_pct=str(policy.at_risk_pct),
                   calendar=str(policy.calendar_id))

    def _minutes(self, field, unit_field) -> int | None:
        text, unit = (field.data or "").strip(), unit_field.data
        if not text:
            return None
        if not AMOUNT.fullmatch(text) or unit not in UNITS:
            field.errors.append(gettext("Enter a number, like 4 or 1.5."))
            return None
        minutes = Decimal(text.replace(",", ".")) * UNITS[unit]
        if minutes != minutes.to_integral_value():
            field.errors.append(gettext("Give whole minutes."))
            return None
        return int(minutes)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        self.resolution_minutes = self._minutes(self.resolution, self.resolution_unit)
        if self.resolution_minutes is None and not self.resolution.errors:
            self.resolution.errors.append(gettext("Give the resolution target."))
        self.response_minutes = self._minutes(self.response, self.response_unit)
        pct = (self.at_risk_pct.data or "").strip()
        self.pct = None if not pct else int(pct) if WHOLE.fullmatch(pct) else -1
        if self.pct == -1:
            self.at_risk_pct.errors.append(gettext("Enter a whole number from 1 to 99."))
        calendar = self.calendar.data or ""
        self.calendar_id = int(calendar) if WHOLE.fullmatch(calendar) else None
        if self.calendar_id is None:
            self.calendar.errors.append(gettext("Choose a business calendar."))
        return valid and not any(field.errors for field in self)

    def values(self) -> dict:
        """The keyword arguments of policies.create_policy / update_policy, from validated data."""
        return {"key": self.key.data or "", "severity": self.severity.data or "",
                "resolution_minutes": self.resolution_minutes, "response_minutes": self.response_minutes,
                "at_risk_pct": self.pct, "calendar_id": self.calendar_id}

    def show_errors(self, errors: dict[str, policies.Problem]) -> None:
        """The service's refusals next to their fields, where the form found nothing wrong yet."""
        fields = {"key": self.key, "severity": self.severity, "resolution_minutes": self.resolution,
                  "response_minutes": self.response, "at_risk_pct": self.at_risk_pct, "calendar_id": self.calendar}
        for name, problem in errors.items():
            if name not in fields:
                self.problems.append(_shown(problem))
            elif not fields[name].errors:
                fields[name].errors = [*fields[name].errors, _shown(problem)]


SEVERITY_ORDER = ("", *SEVERITIES)


def _policy_order(policy: SlaPolicy) -> tuple:
    """Any-key last; exception families in taxonomy order, each before its types; severities in order."""
    families = list(taxonomy.FAMILIES)
    kind = taxonomy.TYPES.get(policy.key)
    family = kind.family if kind else policy.key
    place = families.index(family) if policy.scope == "exception" and family in families else len(families)
    severity = SEVERITY_ORDER.index(policy.severity) if policy.severity in SEVERITY_ORDER else len(SEVERITY_ORDER)
    return (policy.key == policies.ANY, place, kind is not None, policy.key, severity, policy.id)


@bp.route("/")
@manager_required
def index():
    rows = list(db.session.scalars(select(SlaPolicy)))
    active = {scope: sorted((p for p in rows if p.active and p.scope == scope), key=_policy_order)
              for scope in SCOPES}
    inactive = sorted((p for p in rows if not p.active), key=lambda p: p.updated_at, reverse=True)
    return render_template("manager/sla_policies.html", active=active, inactive=inactive,
                           task_names=policies.task_keys(), key_words=key_words)


def _form_page(form: PolicyForm, scope: str, policy: SlaPolicy | None):
    task_groups = policies.tasks_by_process()
    task_names = policies.task_keys()
    if policy is not None and policy.scope == "task" and policy.key not in task_names and policy.key != policies.ANY:
        # a task that has left the diagrams keeps its policy, and the form keeps offering it
        task_groups[gettext("No longer in a deployed process")] = {policy.key: policy.key}
    calendars = list(db.session.scalars(select(SlaCalendar).order_by(SlaCalendar.name)))
    refused = form.is_submitted()
    page = render_template("manager/sla_policy_form.html", form=form, scope=scope, policy=policy,
                           task_groups=task_groups, task_names=task_names, families=taxonomy.FAMILIES,
                           types=taxonomy.TYPES, severities=SEVERITIES, calendars=calendars, key_words=key_words,
                           refused=refused)
    return page, 422 if refused else 200


@bp.route("/policies/new/<scope>", methods=["GET", "POST"])
@manager_required
def new_policy(scope: str):
    if scope not in SCOPES:
        abort(404)
    form = PolicyForm() if request.method == "POST" else PolicyForm(at_risk_pct=str(policies.DEFAULT_AT_RISK_PCT))
    if form.validate_on_submit():
        try:
            policy = policies.create_policy(scope=scope, **form.values(), by=current_user.username)
        except policies.SlaChangeRefused as error:
            form.show_errors(error.errors)
        else:
            db.session.commit()
            flash(gettext("Policy %(id)s was created; it applies to work that begins from now on.", id=policy.id),
                  "success")
            return redirect(url_for("sla_admin.index", _anchor=f"policy-{policy.id}"))
    elif form.is_submitted():
        form.show_errors(policies.policy_problems(scope=scope, **form.values()))
    return _form_page(form, scope, None)


def _snapshot(row, names: tuple[str, ...]) -> dict:
    """The fields as they are now, to tell the person whether saving changed anything."""
    return {name: getattr(row, name) for name in names}


def _policy_or_404(policy_id: int) -> SlaPolicy:
    policy = db.session.get(SlaPolicy, policy_id)
    if policy is None:
        abort(404)
    return policy


def _active_or_409(policy: SlaPolicy) -> SlaPolicy:
    if not policy.active:
        raise Conflict(gettext("Policy %(id)s is deactivated; create a new one instead.", id=policy.id))
    return policy


@bp.route("/policies/<int:policy_id>/edit", methods=["GET", "POST"])
@manager_required
def edit_policy(policy_id: int):
    policy = _active_or_409(_policy_or_404(policy_id))
    form = PolicyForm() if request.method == "POST" else PolicyForm.of(policy)
    if form.validate_on_submit():
        before = _snapshot(policy, policies.POLICY_FIELDS)
        try:
            policies.update_policy(policy.id, scope=policy.scope, **form.values(), by=current_user.username)
        except policies.SlaChangeRefused as error:
            form.show_errors(error.errors)
        else:
            db.session.commit()
            if _snapshot(policy, policies.POLICY_FIELDS) == before:
                flash(gettext("Nothing was changed."), "info")
            else:
                flash(gettext("Policy %(id)s was changed; it applies to work that begins from now on.",
                              id=policy.id), "success")
            return redirect(url_for("sla_admin.index", _anchor=f"policy-{policy.id}"))
    elif form.is_submitted():
        form.show_errors(policies.policy_problems(scope=policy.scope, **form.values(), policy_id=policy.id))
    return _form_page(form, policy.scope, policy)


@bp.route("/policies/<int:policy_id>/deactivate", methods=["GET", "POST"])
@manager_required
def deactivate_policy(policy_id: int):
    policy = _active_or_409(_policy_or_404(policy_id))
    form = FlaskForm()
    if form.validate_on_submit():
        policies.deactivate_policy(policy.id, by=current_user.username)
        db.session.commit()
        flash(gettext("Policy %(id)s was deactivated.", id=policy.id), "success")
        return redirect(url_for("sla_admin.index"))
    refused = form.is_submitted()
    page = render_template("manager/sla_policy_deactivate.html", policy=policy, form=form, refused=refused,
                           task_names=policies.task_keys(), key_words=key_words)
    return page, 400 if refused else 200


# --- calendars ---------------------------------------------------------------------------------------------


class CalendarForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=policies.MAX_NAME)])
    zone = SelectField(_l("Time zone"), validate_choice=False)
    holidays = TextAreaField(_l("Holidays"), validators=[Length(max=20_000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.problems: list[str] = []
        self.hours_errors: list[str] = []  # about the week as a whole

    @classmethod
    def of(cls, calendar: SlaCalendar) -> "CalendarForm":
        days = {f"day_{day}": day_text((calendar.hours or {}).get(str(day))) for day in range(7)}
        return cls(name=calendar.name, zone=calendar.zone, holidays="\n".join(calendar.holidays or []), **days)

    @property
    def days(self) -> list:
        return [getattr(self, f"day_{day}") for day in range(7)]

    def _intervals(self, field) -> list[list[str]]:
        found = []
        for chunk in re.split(r"[,;]", field.data or ""):
            if not chunk.strip():
                continue
            match = INTERVAL.fullmatch(chunk.strip())
            if match is None:
                field.errors.append(gettext("Write each interval as 08:00-12:00, separated by commas."))
                return []
            found.append([part.zfill(5) for part in match.groups()])  # 8:00 → 08:00
        return found

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        self.hours = {str(day): self._intervals(field) for day, field in enumerate(self.days)}
        return valid and not any(field.errors for field in self)

    def values(self) -> dict:
        return {"name": self.name.data or "", "zone": self.zone.data or "", "hours": self.hours,
                "holidays": [line.strip() for line in (self.holidays.data or "").splitlines() if line.strip()]}

    def show_errors(self, errors: dict[str, policies.Problem]) -> None:
        """The service's refusals next to their fields, where the form found nothing wrong yet."""
        fields = {"name": self.name, "zone": self.zone, "holidays": self.holidays,
                  **{f"hours.{day}": field for day, field in enumerate(self.days)}}
        for name, problem in errors.items():
            if name in fields:
                if not fields[name].errors:
                    fields[name].errors = [*fields[name].errors, _shown(problem)]
            elif name == "hours":
                if not any(field.errors for field in self.days):  # a day it could not read may be the reason
                    self.hours_errors.append(_shown(problem))
            else:
                self.problems.append(_shown(problem))


for _day in range(7):
    setattr(CalendarForm, f"day_{_day}", StringField(validators=[Length(max=200)]))


def _calendar_page(form: CalendarForm, calendar: SlaCalendar | None):
    refused = form.is_submitted()
    page = render_template("manager/sla_calendar_form.html", form=form, calendar=calendar,
                           zones=policies.time_zones(), day_names=get_day_names("wide", locale=get_locale()),
                           refused=refused)
    return page, 422 if refused else 200


@bp.route("/calendars")
@manager_required
def calendars():
    rows = list(db.session.scalars(select(SlaCalendar).order_by(SlaCalendar.name)))
    used = dict(db.session.execute(select(SlaPolicy.calendar_id, func.count()).where(SlaPolicy.active.is_(True))
                                   .group_by(SlaPolicy.calendar_id)).all())
    return render_template("manager/sla_calendars.html", calendars=rows, used=used)


@bp.route("/calendars/new", methods=["GET", "POST"])
@manager_required
def new_calendar():
    form = CalendarForm() if request.method == "POST" else CalendarForm(
        zone="UTC", **{f"day_{day}": "09:00-17:00" for day in range(5)})
    if form.validate_on_submit():
        try:
            calendar = policies.create_calendar(**form.values(), by=current_user.username)
        except policies.SlaChangeRefused as error:
            form.show_errors(error.errors)
        else:
            db.session.commit()
            flash(gettext("Calendar %(name)s was created.", name=calendar.name), "success")
            return redirect(url_for("sla_admin.calendars", _anchor=f"calendar-{calendar.id}"))
    elif form.is_submitted():
        form.show_errors(policies.calendar_problems(**form.values()))
    return _calendar_page(form, None)


@bp.route("/calendars/<int:calendar_id>/edit", methods=["GET", "POST"])
@manager_required
def edit_calendar(calendar_id: int):
    calendar = db.session.get(SlaCalendar, calendar_id)
    if calendar is None:
        abort(404)
    form = CalendarForm() if request.method == "POST" else CalendarForm.of(calendar)
    if form.validate_on_submit():
        before = _snapshot(calendar, policies.CALENDAR_FIELDS)
        try:
            policies.update_calendar(calendar.id, **form.values(), by=current_user.username)
        except policies.SlaChangeRefused as error:
            form.show_errors(error.errors)
        else:
            db.session.commit()
            if _snapshot(calendar, policies.CALENDAR_FIELDS) == before:
                flash(gettext("Nothing was changed."), "info")
            else:
                flash(gettext("Calendar %(name)s was changed; it applies to work that begins from now on.",
                              name=calendar.name), "success")
            return redirect(url_for("sla_admin.calendars", _anchor=f"calendar-{calendar.id}"))
    elif form.is_submitted():
        form.show_errors(policies.calendar_problems(**form.values(), calendar_id=calendar.id))
    return _calendar_page(form, calendar)


# --- history -----------------------------------------------------------------------------------------------


FIELD_LABELS = {
    "scope": _l("Scope"), "key": _l("For"), "severity": _l("Severity"), "response_minutes": _l("First response"),
    "resolution_minutes": _l("Resolution"), "at_risk_pct": _l("At risk at"), "calendar_id": _l("Calendar"),
    "active": _l("Active"), "name": _l("Name"), "zone": _l("Time zone"), "hours": _l("Working hours"),
    "holidays": _l("Holidays"), "due_at": _l("Due"),
}
ACTION_LABELS = {"created": _l("created"), "changed": _l("changed"), "deactivated": _l("deactivated"),
                 "extended": _l("extended")}


@dataclass
class _Names:
    """What the history needs to put ids and codes into words."""

    calendars: dict[int, str]
    tasks: dict[str, str]
    scope: str = "task"


def _value_words(name: str, value, names: _Names) -> str:
    if name == "severity" and isinstance(value, str):
        return severity_words(value)
    if value is None or value == "":
        return "—"
    if name in ("response_minutes", "resolution_minutes") and isinstance(value, int):
        return duration_words(value)
    if name == "at_risk_pct":
        return f"{value}%"
    if name == "calendar_id":
        return names.calendars.get(value, str(value))
    if name == "active":
        return gettext("yes") if value else gettext("no")
    if name == "scope":
        return {"task": gettext("Task"), "exception": gettext("Exception")}.get(value, str(value))
    if name == "key" and isinstance(value, str):
        return f"{key_words(names.scope, value, names.tasks)} ({value})"
    if name == "hours" and isinstance(value, dict):
        return hours_words(value)
    if name == "holidays" and isinstance(value, list):
        return ", ".join(value) or "—"
    return str(value)


def _differences(change: SlaChange, names: _Names) -> list[tuple[str, str, str]]:
    """(field, before, after) for each changed field, in a steady order."""
    fields = [*(n for n in FIELD_LABELS if n in change.before or n in change.after),
              *sorted((change.before.keys() | change.after.keys()) - FIELD_LABELS.keys())]
    return [(str(FIELD_LABELS.get(name, name)),
             _value_words(name, change.before.get(name), names) if name in change.before else "",
             _value_words(name, change.after.get(name), names) if name in change.after else "")
            for name in fields]


@bp.route("/history")
@manager_required
def history():
    page = db.paginate(select(SlaChange).order_by(SlaChange.at.desc(), SlaChange.id.desc()),
                       page=numbers.page_arg(), per_page=HISTORY_PER_PAGE, error_out=False)
    calendar_names = dict(db.session.execute(select(SlaCalendar.id, SlaCalendar.name)).all())
    policy_rows = {str(p.id): p for p in db.session.scalars(select(SlaPolicy))}
    task_names = policies.task_keys()

    def subject_words(change: SlaChange) -> str:
        if change.subject == "policy" and change.subject_ref in policy_rows:
            policy = policy_rows[change.subject_ref]
            return gettext("Policy %(id)s: %(key)s, %(severity)s", id=policy.id,
                           key=key_words(policy.scope, policy.key, task_names),
                           severity=severity_words(policy.severity))
        if change.subject == "calendar" and change.subject_ref.isdigit():
            return gettext("Calendar %(name)s", name=calendar_names.get(int(change.subject_ref), change.subject_ref))
        return f"{change.subject} {change.subject_ref}"

    def differences(change: SlaChange) -> list[tuple[str, str, str]]:
        policy = policy_rows.get(change.subject_ref) if change.subject == "policy" else None
        return _differences(change, _Names(calendar_names, task_names, policy.scope if policy else "task"))

    entries = [(change, subject_words(change), str(ACTION_LABELS.get(change.action, change.action)),
                differences(change)) for change in page.items]
    return render_template("manager/sla_history.html", page=page, entries=entries)
