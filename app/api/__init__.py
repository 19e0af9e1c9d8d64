"""The JSON API, version 1: partner systems place orders, report receipts and payments, and report
what went wrong (changes, cancellations, carrier events, failed payments, refunds, complaints).

Clients authenticate with a bearer token (no session, so no CSRF token either). Every refusal is
JSON: {"error": code, "message": text, "details": {field: message}}.
"""

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.api import auth
from app.exceptions.intake import Refused
from app.extensions import csrf, db
from app.orders.service import OrderError
from app.workflow.errors import NotWaiting, WorkflowError

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_BODY_BYTES = 256 * 1024


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.details = status, error, message, details or {}


def answer(status: int, error: str, message: str, details: dict | None = None):
    return jsonify(error=error, message=message, details=details or {}), status


def _too_large():
    limit = current_app.config.get("API_MAX_BODY_BYTES", MAX_BODY_BYTES)
    return answer(413, "payload_too_large", f"the request body is larger than {limit // 1024} KB")


@bp.before_request
def _authenticate():
    client = auth.authenticate(request.headers.get("Authorization"))
    if client is None:
        presented = auth.bearer_token(request.headers.get("Authorization")) is not None
        response, status = answer(401, "unauthorized", "send a valid API token: Authorization: Bearer <token>")
        challenge = 'Bearer realm="orderly-api"' + (', error="invalid_token"' if presented else "")
        response.headers["WWW-Authenticate"] = challenge
        return response, status
    g.api_client = client
    limit = current_app.config.get("API_MAX_BODY_BYTES", MAX_BODY_BYTES)
    request.max_content_length = limit  # a streamed body is cut off at the limit as well
    if request.content_length is not None and request.content_length > limit:
        return _too_large()
    return None


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    db.session.rollback()
    return answer(error.status, error.error, error.message, error.details)


@bp.errorhandler(OrderError)
def _order_error(error: OrderError):
    db.session.rollback()
    return answer(422, "invalid_order", str(error), error.errors)


@bp.errorhandler(Refused)
def _refused(error: Refused):
    db.session.rollback()
    return answer(409, error.code, str(error))


@bp.errorhandler(WorkflowError)
def _workflow_error(error: WorkflowError):
    db.session.rollback()
    code = "not_waiting" if isinstance(error, NotWaiting) else {404: "not_found", 409: "conflict"}.get(
        error.status_code, "refused")
    return answer(error.status_code, code, str(error))


@bp.errorhandler(RequestEntityTooLarge)
def _body_too_large(_error):
    db.session.rollback()
    return _too_large()


def init_app(app: Flask) -> None:
    from app.api import cli, events, exceptions, orders  # noqa: F401 - the routes attach themselves to bp

    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.cli.add_command(cli.api_clients)
