"""Changing a running task's SLA clock from its page: pause it while waiting on the customer,
resume it, and (managers) give the task more time."""

from datetime import timedelta

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.roles import MANAGER
from app.extensions import db
from app.sla import clocks
from app.web.access import roles_required
from app.web.inbox import EXTENSION_HOURS, inbox_required
from app.workflow import inbox

bp = Blueprint("sla_clocks", __name__)


def _task_page(task_id: int):
    return redirect(url_for("inbox.task", task_id=task_id), code=303)


def _refused(error: clocks.ClockError, task_id: int):
    db.session.rollback()
    flash(gettext("Nothing was changed: %(reason)s.", reason=str(error)), "error")
    return _task_page(task_id)


@bp.route("/tasks/<int:task_id>/clock/pause", methods=["POST"])
@inbox_required
def pause(task_id: int):
    task = inbox.task_for(current_user, task_id)
    if not (inbox.may_work(current_user, task) or inbox.oversees(current_user)):
        inbox.require_work(current_user, task)
    try:
        clocks.pause(task.id, current_user.username, request.form.get("reason", ""))
    except clocks.ClockError as error:
        return _refused(error, task_id)
    flash(gettext("The clock of %(key)s stands still until the customer answers.", key=task.business_key),
          "success")
    return _task_page(task_id)


@bp.route("/tasks/<int:task_id>/clock/resume", methods=["POST"])
@inbox_required
def resume(task_id: int):
    task = inbox.task_for(current_user, task_id)
    if not (inbox.may_work(current_user, task) or inbox.oversees(current_user)):
        inbox.require_work(current_user, task)
    try:
        record = clocks.resume(task.instance_id, current_user.username)
    except clocks.ClockError as error:
        return _refused(error, task_id)
    flash(gettext("The clock runs again; its due times moved out by the pause (%(span)s).",
                  span=_hours(record.resumed_at - record.paused_at)), "success")
    return _task_page(task_id)


@bp.route("/tasks/<int:task_id>/clock/extend", methods=["POST"])
@roles_required(MANAGER)
def extend(task_id: int):
    task = inbox.task_for(current_user, task_id)
    try:
        hours = int(request.form.get("hours", ""))
    except ValueError:
        hours = 0
    if hours not in EXTENSION_HOURS:
        return _refused(clocks.ClockError(gettext("choose how many hours to add")), task_id)
    try:
        clocks.extend(task.id, timedelta(hours=hours), current_user.username, request.form.get("note", ""))
    except clocks.ClockError as error:
        return _refused(error, task_id)
    flash(gettext("%(key)s has %(hours)s more hours.", key=task.business_key, hours=hours), "success")
    return _task_page(task_id)


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min"
