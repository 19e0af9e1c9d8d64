"""`flask processes …`: deploy, list and export process definitions."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from werkzeug.utils import secure_filename

from app.extensions import db
from app.workflow.definitions import latest
from app.workflow.deployment import deploy, deploy_directory
from app.workflow.errors import DeploymentRefused, NotFound
from app.workflow.models import ProcessDefinition


@click.group()
def processes():
    """Process definitions."""


@processes.command("deploy")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--comment", default="", help="Why this version exists.")
@with_appcontext
def deploy_command(files: tuple[Path, ...], comment: str):
    """Deploy BPMN files (default: every file in workflows/). Unchanged files keep their version."""
    try:
        if files:
            deployed = [deploy(f.read_bytes(), f.name, by="cli", comment=comment) for f in files]
        else:
            deployed = deploy_directory(current_app.config["WORKFLOWS_DIR"], by="cli")
    except DeploymentRefused as refused:
        click.echo("Deployment refused:", err=True)
        for problem in refused.problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(1) from None
    for definition in deployed:
        click.echo(f"{definition.key} v{definition.version} ({definition.sha256[:12]})")


@processes.command("list")
@with_appcontext
def list_command():
    """List every deployed version."""
    rows = db.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version))
    for row in rows:
        when = f"{row.deployed_at:%Y-%m-%d %H:%M}"
        click.echo(f"{row.key:<24} v{row.version:<4} {row.status:<9} {when} {row.deployed_by}")


def _newest_versions(keys: tuple[str, ...]) -> list[ProcessDefinition]:
    """The newest deployed version of each named process (of every process when none is named)."""
    wanted = set(keys) or set(db.session.scalars(
        select(ProcessDefinition.key).where(ProcessDefinition.status == "deployed")))
    newest = {}
    for key in sorted(wanted):
        try:
            newest[key] = latest(key)
        except NotFound:
            raise click.ClickException(f"no deployed process '{key}'") from None
    return list(newest.values())


def _export_name(definition: ProcessDefinition, taken: set[str]) -> str:
    """The file it was deployed from, when that name is usable and not already taken by another process."""
    usable = [name for name in (secure_filename(definition.filename or ""), secure_filename(f"{definition.key}.bpmn"))
              if name.endswith(".bpmn") and len(name) > len(".bpmn") and name not in taken]
    # A key of letters secure_filename drops (Chinese, say) or a name two processes share: one by row id.
    name = usable[0] if usable else f"process-{definition.id}.bpmn"
    taken.add(name)
    return name


@processes.command("export")
@click.argument("keys", nargs=-1)
@click.option("--to", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write to (default: the workflows/ directory deployments read).")
@with_appcontext
def export_command(keys: tuple[str, ...], directory: Path | None):
    """Write the newest deployed version of each process (or of the named KEYS) as BPMN files."""
    definitions = _newest_versions(keys)  # every key checked before anything is written
    directory = directory or Path(current_app.config["WORKFLOWS_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    for definition in definitions:
        path = directory / _export_name(definition, taken)
        if path.is_file() and path.read_text(encoding="utf-8") == definition.bpmn_xml:
            click.echo(f"{definition.key} v{definition.version} unchanged {path}")
            continue
        path.write_text(definition.bpmn_xml, encoding="utf-8", newline="")
        click.echo(f"{definition.key} v{definition.version} -> {path}")
