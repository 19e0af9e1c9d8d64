"""The modeler's server side: the editing page, saving a draft with its findings, deploying it, discarding
it, uploading a .bpmn file, and what the properties panel offers. Process owners only."""

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.accounts.roles import PROCESS_OWNER
from app.modeler import catalog as panel_catalog
from app.modeler import drafts
from app.modeler.checks import FileTooLarge
from app.web import markdown
from app.web.access import roles_required
from app.workflow.errors import Conflict, DeploymentRefused, NotFound
from app.workflow.models import ProcessDefinition

bp = Blueprint("modeler", __name__)

# JSON escaping can double a document's size; the draft's own limit is checked on the XML itself.
JSON_OVERHEAD = 2


def _limit() -> int:
    return current_app.config["MAX_BPMN_BYTES"]


def _refusal(status: int, message: str, problems=()):
    return jsonify(saved=False, error=message, errors=[p.as_dict() for p in problems]), status


def _source(key: str):
    draft, latest = drafts.get(key), drafts.latest(key)
    if draft is None and latest is None:
        abort(404)
    return draft, latest


def _version_of(definition: ProcessDefinition | None) -> int | None:
    return definition.version if definition else None


@bp.route("/processes/<key>/edit")
@roles_required(PROCESS_OWNER)
def edit(key: str):
    draft, latest = _source(key)
    return render_template("modeler/edit.html", key=key, draft=draft, latest=latest)


@bp.route("/processes/<key>/draft.json")
@roles_required(PROCESS_OWNER)
def draft_json(key: str):
    draft, latest = _source(key)
    report = drafts.report_for(draft) if draft else None
    return jsonify(
        key=key,
        name=(draft or latest).name,
        xml=(draft or latest).bpmn_xml,
        source="draft" if draft else "deployed",
        base_version=draft.base_version if draft else latest.version,
        latest_version=_version_of(latest),
        updated_by=draft.updated_by if draft else latest.deployed_by,
        updated_at=(draft.updated_at if draft else latest.deployed_at).isoformat(),
        **(report.as_dict() if report else {"errors": [], "warnings": []}),
    )


@bp.route("/processes/<key>/draft", methods=["POST"])
@roles_required(PROCESS_OWNER)
def save_draft(key: str):
    request.max_content_length = _limit() * JSON_OVERHEAD + 4096
    try:
        body = request.get_json(silent=True)
    except RequestEntityTooLarge:
        return _refusal(413, f"the diagram is larger than {_limit():,} bytes")
    if not isinstance(body, dict) or not isinstance(body.get("xml"), str) or not body["xml"].strip():
        return _refusal(400, 'send a JSON object {"xml": "<the BPMN document>"}')
    began_from = body.get("draft_updated_at", drafts.UNCHECKED)
    if began_from is not drafts.UNCHECKED and not isinstance(began_from, str | None):
        return _refusal(400, "draft_updated_at is the time the draft you opened was saved, or null")
    try:
        draft, report = drafts.save(key, body["xml"], by=current_user.username, began_from=began_from)
    except DeploymentRefused as refused:
        status = 413 if isinstance(refused, FileTooLarge) else 422
        return _refusal(status, gettext("The draft was not saved."), refused.problems)
    except Conflict as conflict:
        return _refusal(409, str(conflict))
    return jsonify(saved=True, updated_at=draft.updated_at.isoformat(), **report.as_dict())


@bp.route("/processes/<key>/deploy", methods=["POST"])
@roles_required(PROCESS_OWNER)
def deploy(key: str):
    body = request.get_json(silent=True)
    comment = body.get("comment") if isinstance(body, dict) else None
    if not isinstance(comment, str):
        return jsonify(error='send a JSON object {"comment": "what this version changes"}'), 400
    try:
        definition = drafts.deploy(key, comment=comment, by=current_user.username)
    except DeploymentRefused as refused:
        return jsonify(error=gettext("The draft was not deployed."),
                       errors=[p.as_dict() for p in refused.problems]), 422
    except Conflict as conflict:
        return jsonify(error=str(conflict)), 409
    flash(gettext("Version %(version)s of %(name)s is deployed; new instances use it.",
                  version=definition.version, name=definition.name), "success")
    return jsonify(version=definition.version, versions_url=url_for("versions.history", key=key))


@bp.route("/processes/<key>/draft/discard", methods=["POST"])
@roles_required(PROCESS_OWNER)
def discard(key: str):
    try:
        drafts.discard(key)
    except NotFound:
        abort(404)
    flash(gettext("The draft was discarded."), "success")
    if drafts.latest(key) is None:
        return redirect(url_for("processes.home"))
    return redirect(url_for("versions.history", key=key))


@bp.route("/processes/upload", methods=["POST"])
@roles_required(PROCESS_OWNER)
def upload():
    request.max_content_length = _limit() + 64 * 1024  # the file and the form around it
    too_large = _upload_refused(413, [gettext("The file is larger than %(limit)s bytes.", limit=f"{_limit():,}")])
    if (request.content_length or 0) > request.max_content_length:
        return too_large  # said before reading a byte of it
    try:
        upload_file = request.files.get("file")
    except RequestEntityTooLarge:
        return too_large
    if upload_file is None or not upload_file.filename:
        return _upload_refused(400, [gettext("Choose a .bpmn file to upload.")])
    content = upload_file.read(_limit() + 1)
    try:
        draft, report = drafts.upload(content, upload_file.filename[:200], by=current_user.username)
    except DeploymentRefused as refused:
        status = 413 if isinstance(refused, FileTooLarge) else 400
        return _upload_refused(status, [str(p) for p in refused.problems])
    except Conflict as conflict:
        return _upload_refused(409, [str(conflict)])
    if report.errors:
        flash(ngettext("The file is now the draft of %(name)s. It has %(num)d error to fix before deploying.",
                       "The file is now the draft of %(name)s. It has %(num)d errors to fix before deploying.",
                       len(report.errors), name=draft.name), "error")
    else:
        flash(gettext("The file is now the draft of %(name)s.", name=draft.name), "success")
    return redirect(url_for("modeler.edit", key=draft.key))


def _upload_refused(status: int, reasons: list[str]):
    return render_template("modeler/upload_refused.html", reasons=reasons), status


@bp.route("/processes/modeler/catalog.json")
@roles_required(PROCESS_OWNER)
def catalog():
    return jsonify(panel_catalog.catalog())


@bp.route("/processes/modeler/preview", methods=["POST"])
@roles_required(PROCESS_OWNER)
def preview():
    body = request.get_json(silent=True)
    text = body.get("markdown") if isinstance(body, dict) else None
    if not isinstance(text, str) or len(text) > 20_000:
        return jsonify(error='send a JSON object {"markdown": "..."} of at most 20,000 characters'), 400
    return jsonify(html=str(markdown.render(text)))
