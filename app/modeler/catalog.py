"""What the modeler's properties panel offers: the roles lanes stand for, the forms in forms/, the
operations service tasks may call with their parameters, the messages Orderly sends, and timer helpers."""

import inspect
from pathlib import Path

from flask import current_app
from flask_babel import gettext

from app import forms
from app.accounts.roles import LANE_ROLES
from app.i18n import N_
from app.web.labels import label
from app.workflow.messages import MESSAGES

# Timer expressions are Python: an ISO value is a quoted string, or a helper builds one.
TIMER_HELPERS = (
    ("sla_warn", 'sla_warn("pick_goods")', N_("When the task's SLA policy says it is at risk.")),
    ("sla_due", 'sla_due("pick_goods")', N_("When the task's SLA policy says it is due.")),
    ("sla_late", 'sla_late("pick_goods")', N_("Long overdue: twice the SLA target.")),
    ("ship_by", "ship_by(order_number)", N_("The order's expected ship date.")),
    ("in_duration", 'in_duration("PT4H")', N_("A moment a duration from now (for a time-date timer).")),
    ("duration", '"PT4H"', N_("An ISO-8601 duration, quoted (for a duration timer).")),
    ("date", '"2027-01-31T17:00:00+01:00"', N_("An ISO-8601 moment with its UTC offset, quoted.")),
    ("cycle", '"R3/PT1H"', N_("Repeat: three times, an hour apart (for a cycle timer).")),
)


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0]


def _parameters(fn) -> list[dict]:
    params = []
    for name, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        required = param.default is param.empty
        params.append({"name": name, "required": required, "default": None if required else repr(param.default)})
    return params


def _forms() -> list[dict]:
    found = []
    for path in sorted(Path(current_app.config["FORMS_DIR"]).glob("*.json")):
        try:
            title = forms.load(path.stem).get("title", path.stem)
        except (forms.FormError, ValueError):
            continue  # a broken form file is not offered; deployment names it if a diagram uses it
        found.append({"key": path.stem, "title": title})
    return found


def catalog() -> dict:
    operations = current_app.extensions["orderly.operations"]
    return {
        "roles": [{"id": role, "label": label(role, "role")} for role in LANE_ROLES],
        "forms": _forms(),
        "operations": [{"name": name, "doc": _first_line(fn.__doc__), "params": _parameters(fn)}
                       for name, fn in sorted(operations.items())],
        "messages": [{"name": name, "doc": gettext(doc)} for name, doc in MESSAGES.items()],
        "timer_helpers": [{"name": name, "example": example, "doc": gettext(doc)}
                          for name, example, doc in TIMER_HELPERS],
    }
