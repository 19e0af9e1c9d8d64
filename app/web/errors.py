"""One place maps domain and engine errors to HTTP answers; the 500 handler rolls back."""

import math

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app import ratelimits
from app.extensions import db
from app.web.inbox import span_in_words
from app.workflow.errors import Conflict, DeploymentRefused, Forbidden, InvalidData, NotFound, WorkflowError

# What a person reads as the heading; the JSON answer keeps the class name.
TITLES = {Conflict: _l("Changed in the meantime"), Forbidden: _l("Not allowed"), NotFound: _l("Not found"),
          InvalidData: _l("Check the form")}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _reload_url() -> str | None:
    """Where to see the current state again after a conflict: the page itself, if it can be opened."""
    rule = request.url_rule
    if request.method != "GET" and rule is not None and "GET" in (rule.methods or ()):
        return request.path
    return None


# Under /api/ an answer no API view made (an unknown path, a method the path does not take) still has
# the API's error shape: {"error": code, "message": text, "details": {}}.
API_CODES = {403: "forbidden", 404: "not_found", 405: "method_not_allowed", 429: "rate_limited", 500: "server_error"}


def _answer(status: int, title: str, message: str, details: list | None = None, heading: str | None = None,
            shown: str | None = None):
    """JSON keeps the English title and message (API clients read them); a page shows the heading and
    the message as the person reads them (`shown`, translated; by default the message itself)."""
    if request.path.startswith("/api/") and status in API_CODES:
        return jsonify(error=API_CODES[status], message=message, details={}), status
    if _wants_json():
        return jsonify(error=title, message=message, details=details or []), status
    page = render_template("errors/error.html", status=status, title=str(heading or title),
                           message=shown or message, details=details or [],
                           reload_url=_reload_url() if status == 409 else None)
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
        heading = next((text for kind, text in TITLES.items() if isinstance(error, kind)), None)
        return _answer(error.status_code, type(error).__name__, str(error), details, heading)

    @app.errorhandler(403)
    def forbidden(error):
        return _answer(403, "Forbidden", "You may not do this.", heading=gettext("Forbidden"),
                       shown=gettext("You may not do this."))

    @app.errorhandler(404)
    def not_found(error):
        return _answer(404, "Not found", "There is nothing here.", heading=gettext("Not found"),
                       shown=gettext("There is nothing here."))

    @app.errorhandler(405)
    def method_not_allowed(error):
        response = make_response(_answer(405, "Method not allowed", f"{request.method} is not allowed here.",
                                         heading=gettext("Not allowed"), shown=gettext("You may not do this.")))
        response.headers["Allow"] = ", ".join(error.valid_methods or [])
        return response

    @app.errorhandler(429)
    def too_many_requests(error):
        # Only the login form is limited among the pages; the API answers its own 429s (app/api/limits.py).
        limit = ratelimits.breached()
        wait = ratelimits.retry_after(limit) if limit else 60
        response = make_response(_answer(
            429, "Too many requests", f"Too many attempts in a short time; try again in {wait} s.",
            heading=gettext("Too many attempts"),
            shown=gettext("Too many attempts in a short time. Try again in %(wait)s.",
                          wait=span_in_words(0 if wait < 60 else math.ceil(wait / 60)))))
        response.headers["Retry-After"] = str(wait)
        return response

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return _answer(500, "Server error", "Something went wrong on our side; nothing was changed.",
                       heading=gettext("Server error"),
                       shown=gettext("Something went wrong on our side; nothing was changed."))
