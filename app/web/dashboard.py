"""The manager's dashboard (/manager): breaches and work at risk with live countdowns, acknowledged and
reassigned in place, and the workload per team and per person. app.sla.dashboard reads and acknowledges;
app.workflow.inbox reassigns; this module shows pages and rows.

With htmx a row action answers with the row itself (a refusal too, with its 4xx status and the reason in
the row); without it, the forms post as usual and come back to the page with a message."""

import math
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.accounts.roles import MANAGER
from app.clock import now
from app.extensions import db
from app.i18n import translate
from app.sla import dashboard
from app.sla.escalations import EscalationError
from app.sla.models import Escalation
from app.web import numbers
from app.web.access import roles_required
from app.web.inbox import span_in_words
from app.workflow import inbox
from app.workflow.errors import Conflict, InvalidData, WorkflowError

bp = Blueprint("dashboard", __name__, url_prefix="/manager")
manager_required = roles_required(MANAGER)  # and admins, as everywhere

POLL_SECONDS = 5
WORKLOAD_CHANGED = {"HX-Trigger": "workload-changed"}  # the page then draws its workload tables again
LEVEL_LABELS = {"at_risk": _l("At risk"), "breached": _l("Breached"), "breached_long": _l("Long overdue")}


@bp.app_template_global()
def may_see_dashboard(user) -> bool:
    return user.is_authenticated and user.has_role(MANAGER, "admin")


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


# --- countdowns ----------------------------------------------------------------------------------------------


@bp.app_template_global()
def countdown(moment: datetime | None) -> dict:
    """'Due in 1 h 12 min' or 'Overdue by 25 min' from the app clock's now, and whether it is overdue."""
    if moment is None:
        return {"overdue": False, "text": gettext("No deadline")}
    seconds = (moment - now()).total_seconds()
    if seconds <= 0:
        return {"overdue": True, "text": gettext("Overdue by %(span)s", span=span_in_words(int(-seconds // 60)))}
    # Time left rounds up: what a countdown shows until the last minute has run out.
    return {"overdue": False, "text": gettext("Due in %(span)s", span=span_in_words(math.ceil(seconds / 60)))}


@bp.app_template_global()
def ago(moment: datetime) -> str:
    """'3 min ago' from the app clock's now (a moment just now reads 'less than a minute ago')."""
    return gettext("%(span)s ago", span=span_in_words(max(0, int((now() - moment).total_seconds() // 60))))


def countdown_words() -> dict[str, str]:
    """The words of the countdowns (and of "3 min ago") for the script, with {placeholders} for the numbers."""
    return {
        "due": gettext("Due in %(span)s", span="{span}"),
        "overdue": gettext("Overdue by %(span)s", span="{span}"),
        "less": gettext("less than a minute"),
        "minutes": gettext("%(minutes)s min", minutes="{m}"),
        "hours_minutes": gettext("%(hours)s h %(minutes)s min", hours="{h}", minutes="{m}"),
        "hours": gettext("%(hours)s h", hours="{h}"),
        "days": gettext("%(days)s d", days="{d}"),
        "ago": gettext("%(span)s ago", span="{span}"),
    }


# --- the page --------------------------------------------------------------------------------------------------


def _assignees(items: list[dashboard.Item]) -> dict[str, list]:
    """Whom each role's tasks may be given to: one query per role shown, not per row."""
    found: dict[str, list] = {}
    for item in items:
        task = item.open_task
        if task is not None and task.role not in found:
            found[task.role] = inbox.eligible_assignees(task)
    return found


def _watch_context() -> dict:
    watch = dashboard.watch()
    return {"watch": watch, "assignees": _assignees(watch.breaches + watch.at_risk), "levels": LEVEL_LABELS,
            "poll_seconds": POLL_SECONDS}


@bp.route("/")
@manager_required
def index():
    return render_template("manager/dashboard.html", teams=dashboard.team_workload(),
                           people=dashboard.person_workload(), words=countdown_words(), **_watch_context())


@bp.route("/watch")
@manager_required
def watch():
    """The breaches and at-risk lists alone, which the page polls. Nothing changed since the version the
    page shows (`seen`, which app/static/js/dashboard.js sends): 204, and htmx leaves the page (and any
    choice being made in it) as it is."""
    context = _watch_context()
    if request.args.get("seen") == context["watch"].signature:
        return "", 204
    return render_template("manager/_dashboard_watch.html", **context), 200, WORKLOAD_CHANGED


@bp.route("/workload")
@manager_required
def workload():
    """The workload tables alone, which the page draws again when something changed."""
    return render_template("manager/_dashboard_workload.html", teams=dashboard.team_workload(),
                           people=dashboard.person_workload())


# --- acting on a row ---------------------------------------------------------------------------------------------


def _row(item: dashboard.Item, *, message: str = "", error: str = "", status: int = 200):
    task = item.open_task
    assignees = {task.role: inbox.eligible_assignees(task)} if task is not None else {}
    page = render_template("manager/_dashboard_row.html", item=item, assignees=assignees, levels=LEVEL_LABELS,
                           message=message, error=error)
    return page, status


def _refused(item: dashboard.Item | None, error: WorkflowError):
    """A refusal, after the session was rolled back: the row with the reason (and the error's 4xx status)
    for htmx; the error page otherwise."""
    if item is None:
        abort(404)
    if _is_htmx():
        return _row(item, error=str(error), status=error.status_code)
    raise error


def _page_is_current() -> bool:
    """Whether the page acting shows the lists as they are (it sends the version it shows as `seen`)."""
    seen = request.form.get("seen")
    return bool(seen) and seen == dashboard.watch().signature


def _done(item: dashboard.Item, message: str, page_was_current: bool):
    """The row after a change. A page that was current before is current again with this row, if the lists
    still hold it as it is now: it is told their new version, so its next poll does not redraw them (and
    this row's message stays). Otherwise the next poll redraws them (a finished task's row goes)."""
    if _is_htmx():
        page, status = _row(item, message=message)
        headers = dict(WORKLOAD_CHANGED)
        if page_was_current:
            after = dashboard.watch()
            if after.shows(item):
                headers["X-Watch-Signature"] = after.signature
        return page, status, headers
    flash(message, "success")
    return redirect(url_for("dashboard.index"))


@bp.route("/escalations/<int:escalation_id>/acknowledge", methods=["POST"])
@manager_required
def acknowledge(escalation_id: int):
    current = _is_htmx() and _page_is_current()
    try:
        escalation = dashboard.acknowledge(escalation_id, current_user.username)
    except EscalationError:
        db.session.rollback()
        known = db.session.get(Escalation, escalation_id)
        if known is None or known.acknowledged_at is None:
            abort(404)
        who = gettext("you") if known.acknowledged_by == current_user.username else known.acknowledged_by
        return _refused(dashboard.item_for_escalation(escalation_id), Conflict(gettext(
            "Already acknowledged by %(who)s at %(when)s.", who=who,
            when=known.acknowledged_at.strftime("%Y-%m-%d %H:%M UTC"))))
    db.session.commit()
    return _done(dashboard.item_for_escalation(escalation.id),
                 gettext("You acknowledged %(what)s for %(key)s.", what=translate(escalation.what),
                         key=escalation.business_key), current)


@bp.route("/tasks/<int:task_id>/reassign", methods=["POST"])
@manager_required
def reassign(task_id: int):
    assignee_id = numbers.form_id("assignee_id")
    if assignee_id is None:
        message = gettext("Choose whom to give the task to.")
        return _refused(dashboard.item_for_task(task_id), InvalidData(message, []))
    current = _is_htmx() and _page_is_current()
    try:
        task = inbox.reassign(task_id, assignee_id, current_user)
    except WorkflowError as error:
        db.session.rollback()
        return _refused(dashboard.item_for_task(task_id), error)
    db.session.commit()
    return _done(dashboard.item_for_task(task.id),
                 gettext("%(task)s for %(key)s is now with %(name)s.", task=translate(task.title),
                         key=task.business_key, name=inbox.assignee_name(task)), current)
