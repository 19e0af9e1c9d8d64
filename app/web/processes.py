"""Overview of process definitions and instances; an admin retries or cancels an instance."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app.accounts.roles import ADMIN, MANAGER, PROCESS_OWNER
from app.extensions import db
from app.web.access import roles_required
from app.workflow import runtime
from app.workflow.models import HumanTask, InstanceEvent, ProcessDefinition, ProcessInstance

bp = Blueprint("processes", __name__)


@bp.route("/processes")
@login_required
def home():
    definitions = db.session.scalars(
        select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
    ).all()
    counts = dict(
        db.session.execute(select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)).all()
    )
    instances = db.session.scalars(select(ProcessInstance).order_by(ProcessInstance.id.desc()).limit(50)).all()
    return render_template("processes/home.html", definitions=definitions, counts=counts, instances=instances)


def _instance_or_404(instance_id: int) -> ProcessInstance:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        abort(404)
    return instance


@bp.route("/instances/<int:instance_id>")
@roles_required(MANAGER, PROCESS_OWNER)
def instance(instance_id: int):
    item = _instance_or_404(instance_id)
    tasks = db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == item.id).order_by(HumanTask.id)
    ).all()
    events = db.session.scalars(
        select(InstanceEvent).where(InstanceEvent.instance_id == item.id).order_by(InstanceEvent.id)
    ).all()
    return render_template("processes/instance.html", instance=item, tasks=tasks, events=events)


@bp.route("/instances/<int:instance_id>/retry", methods=["POST"])
@roles_required(ADMIN)
def retry(instance_id: int):
    item = _instance_or_404(instance_id)
    runtime.retry(item.id, actor=current_user.username)
    flash(gettext("%(key)s was retried.", key=item.business_key), "success")
    return redirect(url_for("processes.instance", instance_id=item.id))


@bp.route("/instances/<int:instance_id>/cancel", methods=["POST"])
@roles_required(ADMIN)
def cancel(instance_id: int):
    item = _instance_or_404(instance_id)
    reason = (request.form.get("reason") or "").strip()[:500]
    if not reason:
        flash(gettext("Say why the instance is cancelled."), "error")
        return redirect(url_for("processes.instance", instance_id=item.id))
    runtime.cancel(item.id, actor=current_user.username, reason=reason)
    flash(gettext("%(key)s was cancelled.", key=item.business_key), "success")
    return redirect(url_for("processes.instance", instance_id=item.id))
