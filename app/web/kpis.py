"""The manager's key figures over a chosen period: the numbers in tables (readable without JavaScript)
and the same figures drawn as Chart.js charts from JSON embedded in the page."""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import Blueprint, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app import kpis
from app.accounts.roles import MANAGER
from app.clock import now
from app.exceptions import taxonomy
from app.i18n import translate
from app.kpis.period import PRESETS, Period
from app.kpis.receivables import AGE_BUCKETS
from app.web.access import roles_required
from app.web.labels import label

bp = Blueprint("kpis", __name__)

CUSTOM = "custom"
DEFAULT_PRESET = "last_30_days"
PERIOD_LABELS = {"last_7_days": _l("Last 7 days"), "last_30_days": _l("Last 30 days"),
                 "this_month": _l("This month"), CUSTOM: _l("From … to …")}
AGE_LABELS = {"current": _l("Not yet due"), "1_30": _l("1–30 days past due"), "31_60": _l("31–60 days past due"),
              "61_90": _l("61–90 days past due"), "over_90": _l("Over 90 days past due")}
LEVEL_LABELS = {0: _l("No reminder yet"), 1: _l("Reminder 1"), 2: _l("Reminder 2"), 3: _l("Reminder 3 (collections)")}
ESCALATION_LABELS = {"at_risk": _l("At risk"), "breached": _l("Breached"), "breached_long": _l("Long overdue")}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class PeriodChoice:
    """What the manager asked for: a preset, or the first and last day as typed; the period it makes,
    or the reasons it makes none (by field)."""

    preset: str
    first: str = ""
    last: str = ""
    period: Period | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _day(text: str, name: str, errors: dict[str, str], missing: str) -> date | None:
    if not text:
        errors[name] = missing
        return None
    try:
        if not ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = gettext("“%(text)s” is not a date: write it as year-month-day, such as %(example)s.",
                               text=text, example=now().date().isoformat())
        return None


def choose_period(args) -> PeriodChoice:
    """A preset (the last 30 days when nothing is asked for), or a custom first and last day: real
    dates, the first not after the last, the last not after today (UTC)."""
    first, last = (args.get("from") or "").strip()[:40], (args.get("to") or "").strip()[:40]
    preset = args.get("period") or (CUSTOM if first or last else DEFAULT_PRESET)
    today = now().date()
    if preset in PRESETS:
        period = Period.preset(preset, today)
        return PeriodChoice(preset, period.first_day.isoformat(), period.last_day.isoformat(), period)
    choice = PeriodChoice(CUSTOM, first, last)
    if preset != CUSTOM:
        choice.errors["period"] = gettext("Choose one of the periods offered.")
        return choice
    first_day = _day(first, "from", choice.errors, gettext("Enter the first day of the period."))
    last_day = _day(last, "to", choice.errors, gettext("Enter the last day of the period."))
    if first_day and last_day:
        if last_day < first_day:
            choice.errors["to"] = gettext("The last day (%(last)s) comes before the first day (%(first)s).",
                                          last=last_day.isoformat(), first=first_day.isoformat())
        elif last_day > today:
            choice.errors["to"] = gettext("The period cannot end after today (%(today)s).", today=today.isoformat())
        else:
            choice.period = Period.of_days(first_day, last_day)
    return choice


def duration_text(value: timedelta | None) -> str:
    if value is None:
        return "—"
    hours = value.total_seconds() / 3600
    if hours < 1:
        return gettext("%(minutes)s min", minutes=round(hours * 60))
    if hours < 48:
        return gettext("%(hours)s h", hours=format(hours, ".1f"))
    return gettext("%(days)s d", days=format(hours / 24, ".1f"))


def team_label(role: str) -> str:
    return label(role, "role") if role else gettext("no team (an order's promise)")


def _stage_labels(stages) -> list[str]:
    """Task names in the reader's language; names that several lanes share get their team added."""
    titles = [translate(stage.title) for stage in stages]
    return [f"{title} ({team_label(stage.role)})" if titles.count(title) > 1 else title
            for title, stage in zip(titles, stages, strict=True)]


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _hours(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 3600, 2)


def charts(report: kpis.Report) -> dict:
    """The figures for the page's script: per chart its labels and series (None where there is no data)."""
    receivables = report.receivables
    teams = report.teams
    return {
        "orders_by_status": {"labels": [label(status, "order status") for status in report.orders_by_status],
                             "series": [{"label": gettext("Orders"), "data": list(report.orders_by_status.values())}]},
        "open_tasks": {"labels": _stage_labels([row.stage for row in report.open_tasks]),
                       "series": [{"label": gettext("Open tasks"), "data": [row.count for row in report.open_tasks]}]},
        "cycle_times": {"labels": _stage_labels([row.stage for row in report.cycle_times]),
                        "series": [{"label": gettext("Median (hours)"),
                                    "data": [_hours(row.spread.median) for row in report.cycle_times]},
                                   {"label": gettext("90th percentile (hours)"),
                                    "data": [_hours(row.spread.p90) for row in report.cycle_times]}]},
        "exception_rate": {"labels": [translate(taxonomy.FAMILIES.get(family, family))
                                      for family in report.exceptions.by_family],
                           "series": [{"label": gettext("Exceptions per 100 orders"),
                                       "data": [_percent(rate.per_100)
                                                for rate in report.exceptions.by_family.values()]}]},
        "sla_compliance": {"labels": [team_label(team.role) for team in teams], "max": 100,
                           "series": [{"label": gettext("Completed on time, per cent"),
                                       "data": [_percent(team.compliance.percent) for team in teams]}]},
        "escalations": {"labels": [team_label(team.role) for team in teams], "stacked": True,
                        "series": [{"label": str(text), "data": [team.escalations.get(level, 0) for team in teams]}
                                   for level, text in ESCALATION_LABELS.items()]},
        "receivables_by_age": {"labels": [str(AGE_LABELS[key]) for key, _, _ in AGE_BUCKETS],
                               "series": [{"label": gettext("Receivables"),
                                           "data": [float(amount.amount) for amount in receivables.by_age.values()]}]},
        "receivables_by_level": {"labels": [str(LEVEL_LABELS.get(level, level)) for level in receivables.by_level],
                                 "series": [{"label": gettext("Receivables"),
                                             "data": [float(amount.amount)
                                                      for amount in receivables.by_level.values()]}]},
    }


@bp.context_processor
def helpers() -> dict:
    return {"duration_text": duration_text, "team_label": team_label, "stage_labels": _stage_labels,
            "period_labels": PERIOD_LABELS, "age_labels": AGE_LABELS, "level_labels": LEVEL_LABELS,
            "escalation_labels": ESCALATION_LABELS, "families": taxonomy.FAMILIES}


@bp.route("/manager/kpis")
@roles_required(MANAGER)
def index():
    choice = choose_period(request.args)
    if choice.period is None:
        return render_template("manager/kpis.html", choice=choice, report=None, charts=None), 400
    report = kpis.report(choice.period)
    return render_template("manager/kpis.html", choice=choice, report=report, charts=charts(report))
