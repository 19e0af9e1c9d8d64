"""The JSON API, version 1: partner systems place orders, report receipts and payments, and report
what went wrong (changes, cancellations, carrier events, failed payments, refunds, complaints).

Clients authenticate with a bearer token (no session, so no CSRF token either) and need the scope
each route names (app/api/scopes.py). Every POST honours an Idempotency-Key (app/api/idempotency.py);
every call of a known client is audited (app/api/audit.py). Every refusal is
JSON: {"error": code, "message": text, "details": {field: message}}.
"""

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.api import audit, auth, idempotency, scopes
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


def _view():
    return current_app.view_functions.get(request.endpoint)


def _is_public() -> bool:
    """Routes marked @scopes.public (the API's own description and its page) need no token."""
    return scopes.is_declared(_view()) and scopes.required(_view()) is None


# What one request notes in g; cleared at its start, as g outlives a request when an app context is shared.
REQUEST_STATE = ("api_client", "api_client_id", "api_identified", "api_finished", "idempotency_record_id",
                 "idempotency_replayed")


@bp.url_value_preprocessor
def _start(_endpoint, _values):
    # runs before every before_request (the rate limiter's too), so durations include them
    for name in REQUEST_STATE:
        g.pop(name, None)
    audit.start()


@bp.before_request
def _authenticate():
    if _is_public():
        return None
    client = auth.identify(request.headers.get("Authorization"))
    g.api_identified = True
    if client is not None:
        g.api_client_id = client.id  # audited from here on, answered or refused
    if client is None or not client.active:
        presented = auth.bearer_token(request.headers.get("Authorization")) is not None
        response, status = answer(401, "unauthorized", "send a valid API token: Authorization: Bearer <token>")
        challenge = 'Bearer realm="orderly-api"' + (', error="invalid_token"' if presented else "")
        response.headers["WWW-Authenticate"] = challenge
        return response, status
    needed, granted = scopes.required(_view()), scopes.held(client.scopes)
    auth.touch(client)
    g.api_client = auth.Caller.of(client)  # plain values: still readable after the request's commits
    if needed is None or needed not in granted:  # a route naming no scope is open to nobody
        return _insufficient_scope(needed)
    limit = current_app.config.get("API_MAX_BODY_BYTES", MAX_BODY_BYTES)
    request.max_content_length = limit  # a streamed body is cut off at the limit as well
    if request.content_length is not None and request.content_length > limit:
        return _too_large()
    if request.method == "POST" and idempotency.HEADER in request.headers:
        return _idempotent(client.id, request.headers[idempotency.HEADER])
    return None


def _insufficient_scope(needed: str | None):
    message = (f"this API client lacks the scope {needed}" if needed
               else "this endpoint names no scope, so no API client may call it")
    response, status = answer(403, "insufficient_scope", message, {"scope": needed})
    response.headers["WWW-Authenticate"] = ('Bearer realm="orderly-api", error="insufficient_scope"'
                                            + (f', scope="{needed}"' if needed else ""))
    return response, status


def _idempotent(client_id: int, key: str):
    problem = idempotency.key_problem(key)
    if problem:
        return answer(400, "invalid_idempotency_key", f"the {idempotency.HEADER} header must be {problem}",
                      {idempotency.HEADER: problem})
    outcome = idempotency.begin(client_id, key)
    if isinstance(outcome, idempotency.Refusal):
        response, status = answer(outcome.status, outcome.error, outcome.message, {idempotency.HEADER: key})
        if outcome.retry_after is not None:
            response.headers["Retry-After"] = str(outcome.retry_after)
        return response, status
    return outcome


@bp.after_request
def _keep_and_audit(response):
    """After the answer is made: its Idempotency-Key record and the audit row, in one small transaction
    (whatever the request left unfinished is rolled back first: it would be lost anyway); should that
    fail, each is tried on its own, so failing to write the audit row never loses the stored answer.
    Should storing the answer fail, the key stays in flight (until API_IDEMPOTENCY_ABANDONED_MINUTES)
    and the call is audited on its own; the client's answer is unchanged."""
    g.api_finished = True
    db.session.rollback()
    client_id = _audited_client()
    record_id = g.get("idempotency_record_id")
    try:
        idempotency.finish(response)
        if client_id is not None:
            audit.add(client_id, response.status_code)
        db.session.commit()
        return response
    except Exception:
        db.session.rollback()
    # One of the two failed: each on its own, so a failed audit row never loses the stored answer.
    try:
        g.idempotency_record_id = record_id
        idempotency.finish(response)
        db.session.commit()
    except Exception:
        db.session.rollback()
        current_app.logger.exception("could not store the answer for an Idempotency-Key")
    audit.record_safely(client_id, response)
    return response


@bp.teardown_request
def _after_failure(error):
    """An exception that escaped every handler (only under PROPAGATE_EXCEPTIONS, as in tests): no
    after_request ran, so free the key for a retry and audit the call as a 500 here."""
    if g.get("api_finished") or error is None:
        return
    db.session.rollback()
    try:
        idempotency.forget()
    except Exception:
        db.session.rollback()
        current_app.logger.exception("could not release an Idempotency-Key after a failure")
    audit.record_safely(_audited_client(), None)


def _audited_client() -> int | None:
    """The client a call is audited under: the one its token names, revoked or not. A call turned away
    before authentication (rate limited) is looked up here; public routes are not audited."""
    if "api_identified" not in g and not _is_public():
        client = auth.identify(request.headers.get("Authorization"))
        g.api_identified, g.api_client_id = True, client.id if client else None
    return g.get("api_client_id")


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
    # Importing them attaches to bp their routes, and the rate limits with their 429 and X-RateLimit-* headers.
    from app.api import cli, customers, events, exceptions, limits, openapi, orders  # noqa: F401

    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.cli.add_command(cli.api_clients)
