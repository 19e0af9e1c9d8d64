"""The staff inbox: the queues, a task's page with its form, and claim, release and reassign."""

from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app import forms
from app.accounts.roles import LANE_ROLES, MANAGER
from app.clock import now
from app.extensions import db
from app.i18n import translate
from app.sla import clocks
from app.web import numbers
from app.web.access import roles_required
from app.web.auth import safe_next
from app.web.labels import label
from app.web.task_form import TaskForm
from app.workflow import InvalidData, inbox, runtime
from app.workflow.models import HumanTask

bp = Blueprint("inbox", __name__)
EXTENSION_HOURS = (1, 2, 4, 8, 24, 48)  # what a manager may add to a running task's clock

QUEUE_LABELS = {"mine": _l("Mine"), "team": _l("My team"), "all": _l("Everyone")}
DUE_LABELS = {"overdue": _l("Overdue"), "at_risk": _l("At risk"), "on_time": _l("On time"),
              "no_deadline": _l("No deadline")}
EMPTY = {
    "mine": _l("Nothing assigned to you. Claim a task from your team's queue."),
    "team": _l("Nothing waiting for your team."),
    "all": _l("Nothing waiting for anyone."),
}

inbox_required = roles_required(*LANE_ROLES)  # admins too, as everywhere


@bp.app_template_global()
def may_use_inbox(user) -> bool:
    return user.is_authenticated and inbox.may_use(user)


@bp.app_template_global()
def can_claim(task: HumanTask) -> bool:
    return inbox.may_claim(current_user, task)


@bp.app_template_global()
def can_release(task: HumanTask) -> bool:
    return inbox.may_release(current_user, task)


def _span(delta: timedelta) -> str:
    return span_in_words(int(abs(delta.total_seconds()) // 60))


def span_in_words(minutes: int) -> str:
    """A stretch of time in words ('1 h 12 min', '3 d'); app/static/js/dashboard.js says it the same way."""
    if minutes < 1:
        return gettext("less than a minute")
    if minutes < 60:
        return gettext("%(minutes)s min", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 10:
        if minutes:
            return gettext("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
        return gettext("%(hours)s h", hours=hours)
    if hours < 48:
        return gettext("%(hours)s h", hours=hours)
    return gettext("%(days)s d", days=hours // 24)


@bp.app_template_filter()
def relative(moment: datetime | None) -> str:
    """'in 3 h', '2 d ago': a moment from the app clock's now."""
    if moment is None:
        return ""
    delta = moment - now()
    if delta.total_seconds() >= 0:
        return gettext("in %(span)s", span=_span(delta))
    return gettext("%(span)s ago", span=_span(delta))


@bp.app_template_global()
def due_badge(task: HumanTask) -> dict:
    """The due state of a task as the inbox shows it: a class for its colour and words for it."""
    at = now()
    state = inbox.due_state(task, at)
    if state == "overdue":
        text = gettext("Overdue by %(span)s", span=_span(at - task.due_at))
    elif state == "no_deadline":
        text = gettext("No deadline")
    elif state == "at_risk":
        text = gettext("At risk · due %(when)s", when=relative(task.due_at)) if task.due_at else gettext("At risk")
    else:
        text = gettext("Due %(when)s", when=relative(task.due_at)) if task.due_at else gettext("Due soon")
    when = task.due_at.strftime("%Y-%m-%d %H:%M UTC") if task.due_at else ""
    return {"state": state, "text": text, "when": when}


@bp.route("/")
@login_required
def home():
    """Staff start in their inbox; the others at the processes overview."""
    return redirect(url_for("inbox.index" if inbox.may_use(current_user) else "processes.home"))


def _page_number() -> int:
    return numbers.page_arg()


@bp.route("/inbox")
@inbox_required
def index():
    queue = request.args.get("queue") or None
    filters = inbox.Filters.parse(request.args.get("type"), request.args.get("q"), request.args.get("due"))
    view = inbox.open_queue(current_user, queue, filters, _page_number())
    return render_template(
        "inbox/index.html", view=view, queue_labels=QUEUE_LABELS, due_labels=DUE_LABELS,
        empty=str(EMPTY[view.queue]), here=request.full_path.rstrip("?"),
    )


def _back(default: str) -> str:
    return safe_next(request.form.get("next"), default)


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@inbox_required
def claim(task_id: int):
    task = inbox.claim(task_id, current_user)
    db.session.commit()
    flash(gettext("You claimed %(task)s for %(key)s.", task=translate(task.title), key=task.business_key), "success")
    return redirect(_back(url_for("inbox.index")))


@bp.route("/tasks/<int:task_id>/release", methods=["POST"])
@inbox_required
def release(task_id: int):
    task = inbox.release(task_id, current_user)
    db.session.commit()
    flash(gettext("%(task)s for %(key)s is back with the %(team)s team.", task=translate(task.title),
                  key=task.business_key, team=label(task.role, "role")), "success")
    return redirect(_back(url_for("inbox.index")))


@bp.route("/tasks/<int:task_id>/reassign", methods=["POST"])
@roles_required(MANAGER)
def reassign(task_id: int):
    assignee_id = numbers.form_id("assignee_id")
    if assignee_id is None:
        abort(400)
    task = inbox.reassign(task_id, assignee_id, current_user)
    db.session.commit()
    flash(gettext("%(task)s for %(key)s was reassigned.", task=translate(task.title), key=task.business_key),
          "success")
    return redirect(_back(url_for("inbox.task", task_id=task.id)))


def _task_form(task: HumanTask) -> TaskForm:
    return TaskForm(forms.for_case(forms.load(task.form_key), task.business_key) if task.form_key else None)


def _render_task(task: HumanTask, form: TaskForm, status: int = 200, version: int | None = None):
    """The task page; a form sent back with messages keeps the version it was opened at, so a
    change by someone else in between is still noticed."""
    instance = inbox.instance_summary(task)
    oversees = inbox.oversees(current_user)
    assignees = []
    if oversees and task.state in inbox.OPEN_STATES:
        assignees = [person for person in inbox.eligible_assignees(task) if person.id != task.assignee_id]
    page = render_template(
        "inbox/task.html", task=task, form=form, instance=instance,
        lock_version=instance.lock_version if version is None else version,
        may_work=inbox.may_work(current_user, task), oversees=oversees, assignees=assignees,
        assignee=inbox.assignee_name(task), timeline=inbox.timeline(task),
        submitted=form.describe(inbox.submitted_data(task)) if task.state == "completed" else [],
        clock_pause=clocks.open_pause(task.instance_id) if task.state in inbox.OPEN_STATES else None,
        extension_hours=EXTENSION_HOURS,
    )
    return page, status


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@inbox_required
def task(task_id: int):
    item = inbox.task_for(current_user, task_id)
    form = _task_form(item)
    if request.method == "GET":
        return _render_task(item, form)
    if item.state not in inbox.OPEN_STATES:
        raise inbox.not_open(item)
    try:
        version = int(request.form.get("lock_version", ""))
    except ValueError:
        abort(400)
    inbox.require_work(current_user, item)
    if not form.read(request.form):
        return _render_task(item, form, 422, version)
    try:
        runtime.complete_task(item.instance_id, item.spiff_task_id, form.data, user=current_user,
                              expected_version=version)
    except InvalidData as error:
        form.add_errors(error.errors)
        return _render_task(item, form, 422, version)
    flash(gettext("%(task)s for %(key)s is done.", task=translate(item.title), key=item.business_key), "success")
    return redirect(url_for("inbox.index"))
