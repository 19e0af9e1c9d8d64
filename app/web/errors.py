"""One place maps domain and engine errors to HTTP answers; the 500 handler rolls back."""

from flask import Flask, jsonify, render_template, request

from app.extensions import db
from app.workflow.errors import DeploymentRefused, InvalidData, WorkflowError


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _answer(status: int, title: str, message: str, details: list | None = None):
    if _wants_json():
        return jsonify(error=title, message=message, details=details or []), status
    page = render_template("errors/error.html", status=status, title=title, message=message, details=details or [])
    return page, status


def init_app(app: Flask) -> None:
    @app.errorhandler(WorkflowError)
    def workflow_error(error: WorkflowError):
        db.session.rollback()
        details = []
        if isinstance(error, DeploymentRefused):
            details = [p.as_dict() for p in error.problems]
        elif isinstance(error, InvalidData):
            details = error.errors
        return _answer(error.status_code, type(error).__name__, str(error), details)

    @app.errorhandler(403)
    def forbidden(error):
        return _answer(403, "Forbidden", "You may not do this.")

    @app.errorhandler(404)
    def not_found(error):
        return _answer(404, "Not found", "There is nothing here.")

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return _answer(500, "Server error", "Something went wrong on our side; nothing was changed.")
