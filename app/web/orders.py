"""Orders for every member of staff: the filtered list, and one order with its documents, open tasks,
timeline and the process diagram with the order's current position."""

import json

from flask import Blueprint, abort, jsonify, render_template, request
from flask_babel import gettext
from flask_login import login_required

from app.extensions import db
from app.orders import queries, states
from app.orders.models import Order
from app.web import numbers
from app.web.labels import label
from app.workflow import inspect

bp = Blueprint("orders", __name__)

PER_PAGE = 25
FILTERS = {"status": states.ORDER, "shipment_status": states.SHIPMENT, "payment_status": states.PAYMENT}
SUMMARY_LENGTH = 160


def _order_or_404(number: str) -> Order:
    order = queries.by_number(number)
    if order is None:
        abort(404)
    return order


@bp.route("/orders")
@login_required
def index():
    filters = {name: request.args.get(name) if request.args.get(name) in allowed else None
               for name, allowed in FILTERS.items()}
    text = (request.args.get("q") or "").strip()[:100]
    page = db.paginate(queries.listing(**filters, text=text), page=numbers.page_arg(),
                       per_page=PER_PAGE, error_out=False)
    return render_template("orders/index.html", page=page, filters=filters, q=text,
                           choices={name: list(allowed) for name, allowed in FILTERS.items()})


@bp.route("/orders/<number>")
@login_required
def detail(number: str):
    order = _order_or_404(number)
    instances = inspect.instances_of(order.number)
    names: dict[str, str] = {}
    for instance in instances:
        names.update(inspect.element_names(instance.definition))
    timeline = [(event, names.get(event.element_id or ""), summarize(event.kind, event.detail))
                for event in inspect.timeline(order.number)]
    return render_template("orders/detail.html", order=order, documents=queries.documents(order),
                           tasks=inspect.open_tasks(order.number), timeline=timeline,
                           instance=instances[-1] if instances else None)


@bp.route("/orders/<number>/diagram")
@login_required
def diagram(number: str):
    """The BPMN of the order's newest instance (the version it runs) and the element ids to mark."""
    order = _order_or_404(number)
    instances = inspect.instances_of(order.number)
    if not instances:
        abort(404)
    instance = instances[-1]
    return jsonify(
        xml=instance.definition.bpmn_xml,
        instance={"id": instance.id, "process": instance.process_key, "version": instance.definition.version,
                  "status": instance.status},
        **inspect.positions(instance),
    )


def _value(value) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if value is None or value == "":
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _pairs(data: dict) -> str:
    return ", ".join(f"{key.replace('_', ' ')}: {_value(value)}" for key, value in data.items())


def summarize(kind: str, detail: dict | None) -> str:
    """One short line saying what an audit row holds (the form data, the message, the error …)."""
    detail = detail if isinstance(detail, dict) else {}
    if kind == "started":
        text = gettext("version %(version)s", version=detail.get("version", "?"))
    elif kind == "task_completed":
        text = _pairs(detail.get("data") or {})
    elif kind == "message_received":
        payload = detail.get("payload") or {}
        text = f"{detail.get('message', '')}" + (f" — {_pairs(payload)}" if payload else "")
    elif kind == "message_refused":
        text = gettext("%(message)s refused while the process was %(status)s", message=detail.get("message", ""),
                       status=label(detail.get("status"), "process status") or "?")
    elif kind == "timer_fired":
        text = gettext("due %(when)s", when=_value(detail.get("due")))
    elif kind == "error":
        text = detail.get("message") or ""
    elif kind == "retried":
        text = gettext("tasks: %(tasks)s", tasks=", ".join(detail.get("tasks") or []) or "—")
        if detail.get("data"):
            text += gettext("; fixed: %(data)s", data=_pairs(detail["data"]))
    elif kind == "cancelled":
        text = detail.get("reason") or ""
    else:
        text = _pairs(detail)
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"
