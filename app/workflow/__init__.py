"""The engine boundary: the only package that imports SpiffWorkflow.

definitions (deploy and validate BPMN) · runtime (the verbs that move an instance) · sandbox
(diagram code) · projection (inbox and wake-up rows) · timers (claim and fire due wake-ups).
"""

from collections.abc import Callable, Mapping

from flask import Flask

from app.workflow.errors import (  # noqa: F401 - the package's public names
    Conflict,
    DeploymentRefused,
    Forbidden,
    InvalidData,
    NotFound,
    NotWaiting,
    Problem,
    WorkflowError,
)


def init_app(app: Flask, operations: Mapping[str, Callable]) -> None:
    app.extensions["orderly.operations"] = dict(operations)
    from app.workflow.cli import processes

    app.cli.add_command(processes)


def register_operation(app: Flask, name: str, fn: Callable) -> None:
    """Add a named operation after start-up (plug-ins and tests)."""
    from app.workflow.runtime import OPERATIONS_GENERATION

    app.extensions["orderly.operations"][name] = fn
    # runtime's script engine was built with the operations it had: a new generation rebuilds it
    app.extensions[OPERATIONS_GENERATION] = app.extensions.get(OPERATIONS_GENERATION, 0) + 1
