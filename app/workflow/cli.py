"""`flask processes …`: deploy and list process definitions."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.workflow.deployment import deploy, deploy_directory
from app.workflow.errors import DeploymentRefused
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
