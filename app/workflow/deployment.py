"""Deploying from the application: the registry and limits of the running app, one commit."""

from pathlib import Path

from flask import current_app

from app.extensions import db
from app.workflow import definitions
from app.workflow.models import ProcessDefinition


def deploy_unit(xml: str | bytes, filename: str = "", *, by: str = "", comment: str = "") -> ProcessDefinition:
    """Validate and add the next version of the file's process to the session, for the caller to commit
    with whatever else belongs to the same change."""
    return definitions.deploy(
        xml, filename, operations=current_app.extensions["orderly.operations"],
        max_bytes=current_app.config["MAX_BPMN_BYTES"], by=by, comment=comment,
    )


def deploy(xml: str | bytes, filename: str = "", *, by: str = "", comment: str = "") -> ProcessDefinition:
    """Validate and deploy one BPMN file as the next version of its process, and commit.
    A refused file raises DeploymentRefused and changes nothing: the previous version stays."""
    try:
        definition = deploy_unit(xml, filename, by=by, comment=comment)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return definition


def deploy_directory(directory: str | Path, *, by: str = "system") -> list[ProcessDefinition]:
    """Deploy every *.bpmn file in a directory; files already deployed unchanged keep their version."""
    return [
        deploy(path.read_bytes(), path.name, by=by, comment=f"from {path.name}")
        for path in sorted(Path(directory).glob("*.bpmn"))
    ]
