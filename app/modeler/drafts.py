"""Saving, uploading, deploying and discarding a process's draft. Each verb is one transaction: what is
refused writes nothing."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.extensions import db
from app.modeler import checks
from app.modeler.models import ProcessDraft
from app.workflow import definitions, deployment
from app.workflow.errors import Conflict, DeploymentRefused, NotFound, Problem
from app.workflow.models import ProcessDefinition

MAX_COMMENT = 500


def get(key: str) -> ProcessDraft | None:
    return db.session.scalar(select(ProcessDraft).where(ProcessDraft.key == key))


def latest(key: str) -> ProcessDefinition | None:
    try:
        return definitions.latest(key)
    except NotFound:
        return None


def _bytes(xml: str | bytes) -> bytes:
    try:
        return xml.encode("utf-8") if isinstance(xml, str) else xml
    except UnicodeEncodeError:  # a lone surrogate, which JSON can carry and UTF-8 cannot
        raise DeploymentRefused([Problem("the document holds characters that are not valid Unicode")]) from None


# Sent by an editor that did not begin from a draft, or that does not say (a script): check nothing.
UNCHECKED = object()


def _stale(draft: ProcessDraft, current: ProcessDefinition | None) -> list[Problem]:
    """A version deployed by someone else since this draft began would be replaced by it."""
    if current is None or current.version == draft.base_version:
        return []
    return [Problem(f"version {current.version} was deployed by {current.deployed_by or 'someone'} after this "
                    f"draft began from {'version ' + str(draft.base_version) if draft.base_version else 'nothing'};"
                    " deploying replaces their change unless the draft includes it")]


def save(key: str, xml: str | bytes, *, by: str, filename: str = "",
         began_from=UNCHECKED) -> tuple[ProcessDraft, checks.Report]:
    """Store the draft of `key` with whatever errors it has (they only block deploying), and report them.
    Refused, writing nothing: a file that cannot be read, one that has become another process, a new
    process whose id cannot be found, and a save over someone else's newer save (`began_from` is when
    the draft the editor opened was saved, None for no draft)."""
    text = _bytes(xml)
    report = checks.check(text, filename)
    if report.key is not None and report.key != key:
        raise DeploymentRefused([Problem(
            f"the process id is '{report.key}', but this draft is for '{key}'; keep the id, or upload the file "
            "to make a new process", report.key)])
    draft = get(key)
    if report.key is None and draft is None and latest(key) is None:
        raise DeploymentRefused(report.errors or [Problem("the file holds no executable process")])
    if began_from is not UNCHECKED and draft is not None and began_from != draft.updated_at.isoformat():
        raise Conflict(f"{draft.updated_by or 'someone'} saved this draft at {draft.updated_at:%Y-%m-%d %H:%M} UTC "
                       "after you opened it; download your diagram, reload, and merge the changes")
    if draft is None:
        current = latest(key)
        draft = ProcessDraft(key=key, created_by=by, base_version=current.version if current else None,
                             filename=filename or (current.filename if current else f"{key}.bpmn"))
        db.session.add(draft)
    draft.bpmn_xml = text.decode("utf-8-sig")  # stored as text: a byte-order mark means nothing there
    draft.name = report.name or key
    draft.updated_by = by
    draft.updated_at = now()
    if filename:
        draft.filename = filename
    try:
        db.session.commit()
    except IntegrityError:  # two first saves at once: the other one made the draft
        db.session.rollback()
        raise Conflict("someone else saved a draft of this process at the same moment; reload it") from None
    report.warnings[:0] = _stale(draft, latest(key))
    return draft, report


def upload(xml: bytes, filename: str, *, by: str) -> tuple[ProcessDraft, checks.Report]:
    """A file from outside becomes the draft of the process it holds, new or existing."""
    root = checks.parse(xml, filename)
    key, _ = checks.main_process(root)
    return save(key, xml, by=by, filename=filename)


def report_for(draft: ProcessDraft) -> checks.Report:
    report = checks.check(_bytes(draft.bpmn_xml), draft.filename)
    report.warnings[:0] = _stale(draft, latest(draft.key))
    return report


def deploy(key: str, *, comment: str, by: str) -> ProcessDefinition:
    """Deploy the draft as the next version, and remove the draft, in one commit."""
    draft = get(key)
    if draft is None:
        raise Conflict(f"there is no draft of '{key}' to deploy")
    comment = comment.strip()
    if not comment or len(comment) > MAX_COMMENT:
        raise DeploymentRefused([Problem(f"say in a comment (1–{MAX_COMMENT} characters) what this version changes")])
    current = latest(key)
    if current is not None and current.bpmn_xml == draft.bpmn_xml:
        raise Conflict(f"the draft is the same as version {current.version}; there is nothing to deploy")
    report = checks.check(_bytes(draft.bpmn_xml), draft.filename)
    if report.errors:
        raise DeploymentRefused(report.errors)
    try:
        definition = deployment.deploy_unit(draft.bpmn_xml, draft.filename, by=by, comment=comment)
        db.session.delete(draft)
        db.session.commit()
    except IntegrityError:  # the same version number taken by a deployment at the same moment
        db.session.rollback()
        raise Conflict("another version was deployed at the same moment; reload and deploy again") from None
    except BaseException:
        db.session.rollback()
        raise
    return definition


def discard(key: str) -> None:
    draft = get(key)
    if draft is None:
        raise NotFound(f"there is no draft of '{key}'")
    db.session.delete(draft)
    db.session.commit()
