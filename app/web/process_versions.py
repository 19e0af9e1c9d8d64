"""The versions of a process, for managers, process owners and admins: who deployed which version when and
why, how many instances each ran, each version's BPMN to download, and two versions (or the draft against
a version) compared element by element, side by side on two diagrams (app/static/js/version_diff.js)."""

import re
from dataclasses import dataclass
from io import BytesIO

from flask import Blueprint, abort, jsonify, render_template, request, send_file, url_for
from flask_babel import gettext, pgettext
from sqlalchemy import func, select

from app.accounts.roles import ADMIN, MANAGER, PROCESS_OWNER
from app.extensions import db
from app.modeler import diff as bpmn_diff
from app.modeler import drafts
from app.web.access import roles_required
from app.web.heatmap import Refused, _refusal
from app.workflow.errors import DeploymentRefused
from app.workflow.models import ProcessDefinition, ProcessInstance

bp = Blueprint("versions", __name__)

VERSION = re.compile(r"[0-9]{1,9}")
DRAFT = "draft"


def aspects() -> dict[str, str]:
    """What changed, as a reader says it (one gettext context: a word reads as what it means here);
    anything else (an attribute rarely edited) shows its BPMN name."""
    return {
        "type": pgettext("what changed", "type of element"),
        "name": pgettext("what changed", "name"),
        "condition": pgettext("what changed", "condition"),
        "script": pgettext("what changed", "script"),
        "extensionElements": pgettext("what changed", "settings (form, operation, instructions…)"),
        "timer": pgettext("what changed", "timer"),
        "message": pgettext("what changed", "message"),
        "signal": pgettext("what changed", "signal"),
        "error": pgettext("what changed", "error"),
        "escalation": pgettext("what changed", "escalation"),
        "incoming": pgettext("what changed", "incoming flows"),
        "outgoing": pgettext("what changed", "outgoing flows"),
        "lane": pgettext("what changed", "lane"),
        "flowNodeRef": pgettext("what changed", "elements in the lane"),
        "sourceRef": pgettext("what changed", "where the flow starts"),
        "targetRef": pgettext("what changed", "where the flow leads"),
        "default": pgettext("what changed", "default flow"),
        "documentation": pgettext("what changed", "documentation"),
        "loop": pgettext("what changed", "repetition"),
        "parent": pgettext("what changed", "containing process"),
        "attachedToRef": pgettext("what changed", "attached to"),
        "cancelActivity": pgettext("what changed", "interrupting"),
        "messageRef": pgettext("what changed", "message"),
        "calledElement": pgettext("what changed", "called process"),
    }


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a deployed version or the draft."""

    arg: str  # as the query string names it: "3" or "draft"
    version: int | str
    xml: str
    name: str
    when: str  # who saved it and when, for the caption


def _versions(key: str) -> list[ProcessDefinition]:
    return list(db.session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc())
    ))


def _definition(key: str, version: int) -> ProcessDefinition | None:
    return db.session.scalar(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    )


def _moment(value) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


def _side(key: str, which: str) -> Side:
    """The version the query argument `which` (base or other) names, or Refused saying what is wrong."""
    text = (request.args.get(which) or "").strip()
    if not text:
        raise Refused(400, gettext("Choose two versions to compare (base and other)."))
    if text == DRAFT:
        draft = drafts.get(key)
        if draft is None:
            raise Refused(404, gettext("There is no draft of “%(key)s”.", key=key))
        return Side(DRAFT, DRAFT, draft.bpmn_xml, draft.name or key,
                    gettext("draft, saved by %(who)s at %(when)s", who=draft.updated_by,
                            when=_moment(draft.updated_at)))
    if not VERSION.fullmatch(text):
        raise Refused(400, gettext("“%(text)s” is not a version number.", text=text[:40]))
    definition = _definition(key, int(text))
    if definition is None:
        if _versions(key):
            raise Refused(404, gettext("The process “%(key)s” has no version %(version)s.", key=key,
                                       version=int(text)))
        raise Refused(404, gettext("No process “%(key)s” has been deployed.", key=key))
    return Side(str(definition.version), definition.version, definition.bpmn_xml, definition.name or key,
                gettext("deployed by %(who)s at %(when)s", who=definition.deployed_by or "—",
                        when=_moment(definition.deployed_at)))


def _compared(key: str) -> tuple[Side, Side, bpmn_diff.Diff]:
    base, other = _side(key, "base"), _side(key, "other")
    try:
        found = bpmn_diff.compare(base.xml, other.xml)
    except DeploymentRefused as refused:  # stored XML is always readable; said plainly should it not be
        raise Refused(400, gettext("The versions cannot be compared: %(reason)s", reason=str(refused))) from None
    return base, other, found


@bp.route("/processes/<key>/versions")
@roles_required(MANAGER, PROCESS_OWNER, ADMIN)
def history(key: str):
    versions, draft = _versions(key), drafts.get(key)
    if not versions and draft is None:
        abort(404)
    instances = dict(db.session.execute(
        select(ProcessInstance.definition_id, func.count())
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .where(ProcessDefinition.key == key)
        .group_by(ProcessInstance.definition_id)
    ).all())
    latest = next((v for v in versions if v.status == "deployed"), None)
    return render_template(
        "modeler/versions.html", key=key, name=(latest or draft or versions[0]).name or key, versions=versions,
        instances=instances, draft=draft, latest=latest,
        base_choice=versions[1].version if len(versions) > 1 else (versions[0].version if versions else None),
        other_choice=versions[0].version if versions else DRAFT,
    )


@bp.route("/processes/<key>/versions/<int:version>.bpmn")
@roles_required(MANAGER, PROCESS_OWNER, ADMIN)
def download(key: str, version: int):
    definition = _definition(key, version)
    if definition is None:
        abort(404)
    return _attachment(definition.bpmn_xml, f"{key}-v{version}.bpmn")


@bp.route("/processes/<key>/draft.bpmn")
@roles_required(PROCESS_OWNER, ADMIN)
def download_draft(key: str):
    draft = drafts.get(key)
    if draft is None:
        abort(404)
    return _attachment(draft.bpmn_xml, f"{key}-draft.bpmn")


def _attachment(xml: str, filename: str):
    return send_file(BytesIO(xml.encode("utf-8")), mimetype="application/xml", as_attachment=True,
                     download_name=filename, max_age=0)


@bp.route("/processes/<key>/diff")
@roles_required(MANAGER, PROCESS_OWNER, ADMIN)
def diff(key: str):
    try:
        base, other, found = _compared(key)
    except Refused as refused:
        return _refusal(refused, as_json=False)
    return render_template(
        "modeler/diff.html", key=key, name=other.name, base=base, other=other, found=found, aspects=aspects(),
        versions=[v.version for v in _versions(key)], has_draft=drafts.get(key) is not None,
        data_url=url_for("versions.diff_json", key=key, base=base.arg, other=other.arg),
    )


@bp.route("/processes/<key>/diff.json")
@roles_required(MANAGER, PROCESS_OWNER, ADMIN)
def diff_json(key: str):
    try:
        base, other, found = _compared(key)
    except Refused as refused:
        return _refusal(refused, as_json=True)
    return jsonify(base={"version": base.version, "xml": base.xml}, other={"version": other.version, "xml": other.xml},
                   **found.as_dict())
