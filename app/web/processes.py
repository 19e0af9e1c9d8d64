"""Overview of process definitions and instances. One instance: its diagram with where it stands
and what failed, the data it carries, its tasks and audit trail; an admin retries, cancels or sends
it a message."""

import json

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from app.accounts.roles import ADMIN, MANAGER, PROCESS_OWNER
from app.extensions import db
from app.modeler.models import ProcessDraft
from app.web.access import roles_required
from app.web.orders import summarize
from app.workflow import WorkflowError, inspect, migration, runtime, snapshot
from app.workflow.models import HumanTask, InstanceEvent, ProcessDefinition, ProcessInstance

MAX_PAYLOAD_BYTES = 10 * 1024

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
    drafts = db.session.scalars(select(ProcessDraft).order_by(ProcessDraft.key)).all()
    return render_template("processes/home.html", definitions=definitions, counts=counts, instances=instances,
                           drafts=drafts)


def _instance_or_404(instance_id: int) -> ProcessInstance:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        abort(404)
    return instance


class MessageForm(FlaskForm):
    name = StringField(_l("Message"), validators=[DataRequired(), Length(max=200)])
    payload = TextAreaField(_l("Payload"))
    payload_object: dict = {}

    def validate_payload(self, field) -> None:
        self.payload_object = parse_payload(field.data or "")


MAX_PAYLOAD_DEPTH = 32


def _depth(value) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [child for item in level if isinstance(item, dict | list)
                 for child in (item.values() if isinstance(item, dict) else item)]
    return depth - 1


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_payload(text: str) -> dict:
    """The payload an admin typed: empty, or one JSON object of at most 10 KB."""
    text = text.strip()
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise ValidationError(gettext("The payload is larger than 10 KB."))
    if not text:
        return {}
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise ValidationError(gettext("The payload is not valid JSON: %(error)s", error=error)) from None
    if not isinstance(value, dict):
        raise ValidationError(gettext("The payload must be a JSON object, like {\"reason\": \"…\"}."))
    if _depth(value) > MAX_PAYLOAD_DEPTH:
        raise ValidationError(gettext("The payload is nested too deeply."))
    return value


def _text(value) -> tuple[str, bool]:
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=True), True
    if isinstance(value, bool):
        return ("true" if value else "false"), False
    return ("—" if value is None else str(value)), False


def readable(data: dict) -> list[tuple[str, str, bool]]:
    """(name, text, whether the text is a block) per variable, by name: lists and objects as indented JSON."""
    return [(str(name), *_text(data[name])) for name in sorted(data, key=str)]


def _history_url(item: ProcessInstance) -> str | None:
    # The versions page comes with its own blueprint; without it the version is shown unlinked.
    if "versions.history" not in current_app.view_functions:
        return None
    return url_for("versions.history", key=item.process_key)


def _instance_page(item: ProcessInstance, form: MessageForm | None = None, status: int = 200):
    tasks = db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == item.id).order_by(HumanTask.id)
    ).all()
    events = db.session.scalars(
        select(InstanceEvent).where(InstanceEvent.instance_id == item.id).order_by(InstanceEvent.id)
    ).all()
    submitted = {e.spiff_task_id: readable(e.detail.get("data") or {}) for e in events
                 if e.kind == "task_completed" and e.spiff_task_id and isinstance(e.detail, dict)}
    view = snapshot.take(item)
    page = render_template(
        "processes/instance.html", instance=item, tasks=tasks, events=events, submitted=submitted,
        data=readable(view.data), messages=view.messages, form=form or MessageForm(formdata=None),
        history_url=_history_url(item), summarize=summarize, move=migration.assess(item),
    )
    return page, status


@bp.route("/instances/<int:instance_id>")
@roles_required(MANAGER, PROCESS_OWNER)
def instance(instance_id: int):
    return _instance_page(_instance_or_404(instance_id))


@bp.route("/instances/<int:instance_id>/diagram.json")
@roles_required(MANAGER, PROCESS_OWNER)
def instance_diagram(instance_id: int):
    """The BPMN of the version this instance runs and the element ids to mark, the failed ones apart."""
    item = _instance_or_404(instance_id)
    positions = inspect.positions(item)
    errored = snapshot.errored_elements(item, snapshot.restore(item))
    return jsonify(
        xml=item.definition.bpmn_xml,
        instance={"id": item.id, "process": item.process_key, "version": item.definition.version,
                  "status": item.status},
        completed=positions["completed"],
        current=[element for element in positions["current"] if element not in errored],
        flows=positions["flows"],
        errored=errored,
    )


@bp.route("/instances/<int:instance_id>/message", methods=["POST"])
@roles_required(ADMIN)
def send_message(instance_id: int):
    item = _instance_or_404(instance_id)
    form = MessageForm()
    if not form.validate_on_submit():
        flash(gettext("Nothing was sent; correct the form below."), "error")
        return _instance_page(item, form, 400)
    name = form.name.data.strip()
    try:
        delivered = runtime.send_message(item.business_key, name, form.payload_object, actor=current_user.username)
    except WorkflowError as error:
        flash(gettext("%(message)s was not delivered: %(reason)s", message=name, reason=str(error)), "error")
        return _instance_page(item, form, error.status_code)
    flash(gettext("%(message)s was delivered to %(key)s.", message=name, key=delivered.business_key), "success")
    return redirect(url_for("processes.instance", instance_id=delivered.id))


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


@bp.route("/instances/<int:instance_id>/migrate", methods=["POST"])
@roles_required(ADMIN)
def migrate(instance_id: int):
    item = _instance_or_404(instance_id)
    seen = request.form.get("lock_version", type=int)
    if seen is None:
        abort(400)
    moved = migration.migrate(item.id, actor=current_user.username, expected_version=seen)
    flash(gettext("%(key)s now runs version %(version)s.", key=moved.business_key, version=moved.definition.version),
          "success")
    return redirect(url_for("processes.instance", instance_id=moved.id))
