"""/api/v1/orders/<number>/exceptions: the exception cases of an order, as a partner sees them, and
their resolution: the API client does what the owning team's *Resolve exception* task does, through
that task, so the playbook, a refund's approval and the closing run as they do for staff."""

from flask import g, jsonify

from app.api import ApiError, bp, schemas
from app.api.orders import json_body, order_or_404, valid
from app.api.scopes import requires
from app.exceptions import service as cases
from app.exceptions.models import ExceptionCase
from app.workflow import inspect, runtime
from app.workflow.errors import InvalidData
from app.workflow.models import HumanTask

RESOLVE_FORM = "resolve_exception"


def _when(value) -> str | None:
    return value.isoformat() if value else None


def case_json(case: ExceptionCase) -> dict:
    """A case without its internal record (resolution notes, root cause, playbook outcome)."""
    order = case.order.number
    return {
        "number": case.number,
        "type": case.type,
        "family": case.family,
        "severity": case.severity,
        "status": case.status,
        "blocking": case.blocking,
        "source": case.source,
        "reported_by": case.reported_by,
        "description": case.description,
        "created_at": _when(case.created_at),
        "closed_at": _when(case.closed_at),
        "resolution_code": case.resolution_code or None,
        "links": {"self": f"/api/v1/orders/{order}/exceptions/{case.number}", "order": f"/api/v1/orders/{order}"},
    }


@bp.get("/orders/<number>/exceptions")
@requires("exceptions:read")
def list_exceptions(number: str):
    order = order_or_404(number)
    return jsonify(order=order.number, exceptions=[case_json(case) for case in cases.for_order(order)])


def _case_or_404(number: str, case_number: str) -> ExceptionCase:
    order = order_or_404(number)
    case = next((case for case in cases.for_order(order) if case.number == case_number[:20]), None)
    if case is None:
        raise ApiError(404, "not_found", f"{order.number} has no exception {case_number[:20]}")
    return case


@bp.get("/orders/<number>/exceptions/<case_number>")
@requires("exceptions:read")
def get_exception(number: str, case_number: str):
    return jsonify(case_json(_case_or_404(number, case_number)))


def _resolve_task(case: ExceptionCase) -> HumanTask:
    """The case's open *Resolve exception* task, or a 409 saying what the case waits for instead."""
    if not case.is_open:
        raise ApiError(409, "exception_closed", f"{case.number} is already {case.status}")
    tasks = inspect.open_tasks(case.number)
    task = next((task for task in tasks if task.form_key == RESOLVE_FORM), None)
    if task is None:
        doing = tasks[0].title if tasks else "nothing a person does"
        raise ApiError(409, "not_resolvable", f"{case.number} cannot be resolved now: it waits for '{doing}'",
                       {"waits_for": [task.element_id for task in tasks]})
    if task.assignee_id is not None:
        raise ApiError(409, "claimed", f"{case.number} is being resolved by a member of staff who claimed it")
    return task


def _form_data(body: dict) -> dict:
    """The request in the task form's terms (an amount is text there)."""
    data = dict(body)
    if "amount" in data:
        data["amount"] = str(data["amount"])
    return data


def _by_field(errors: list[str]) -> dict[str, str]:
    """The form's "field: message" lines as {field: message}."""
    found: dict[str, str] = {}
    for line in errors:
        field, _, message = line.partition(": ")
        found.setdefault(field if message else "body", message or line)
    return found


@bp.post("/orders/<number>/exceptions/<case_number>/resolve")
@requires("exceptions:write")
def resolve_exception(number: str, case_number: str):
    case = _case_or_404(number, case_number)
    body = json_body()
    valid(schemas.errors(schemas.RESOLUTION, body))
    task = _resolve_task(case)
    try:
        runtime.complete_task(task.instance_id, task.spiff_task_id, _form_data(body), actor=g.api_client.actor)
    except InvalidData as error:
        raise ApiError(422, "invalid_resolution", str(error), _by_field(error.errors)) from None
    return jsonify(case_json(cases.get(case.number)))
