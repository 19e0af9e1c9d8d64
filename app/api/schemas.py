"""JSON Schemas of the API's request bodies, and their validation into {field: message}.

Field names follow the domain's OrderError keys (`lines.1.sku`: positions count from 1), so a client
reads one kind of `details` whether the schema or the order rules refused the request."""

from datetime import datetime

from jsonschema import Draft202012Validator, FormatChecker

from app.billing.service import PAYMENT_METHODS as PAID_BY
from app.exceptions.models import RESOLUTION_CODES
from app.exceptions.service import MAX_TEXT as MAX_CASE_TEXT
from app.exceptions.taxonomy import TYPES as EXCEPTION_TYPES
from app.orders.models import PAYMENT_METHODS
from app.orders.service import MAX_LINES, MAX_QUANTITY, MAX_TEXT

AMOUNT = {"type": ["string", "number"], "pattern": r"^\d{1,10}(\.\d{1,2})?$", "exclusiveMinimum": 0,
          "maximum": 9_999_999_999.99}

LINE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["sku", "quantity"],
    "properties": {
        "sku": {"type": "string", "minLength": 1, "maxLength": 40},
        "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
        "unit_price": {**AMOUNT, "type": ["string", "number", "null"]},
        "spec": {"type": "string", "maxLength": MAX_TEXT},
    },
}

NEW_ORDER = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["customer_code", "lines"],
    "properties": {
        "customer_code": {"type": "string", "minLength": 1, "maxLength": 20},
        "lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": LINE},
        "requested_date": {"type": ["string", "null"], "format": "date"},
        "payment_method": {"enum": list(PAYMENT_METHODS)},
        "remarks": {"type": "string", "maxLength": MAX_TEXT},
        "allow_partial": {"type": "boolean"},
        "shipping_address": {"type": ["string", "null"], "maxLength": MAX_TEXT},
    },
}

TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": r"\S"}  # not only blanks
SKU = {"type": "string", "minLength": 1, "maxLength": 40}


def _payload(required: list[str], **properties) -> dict:
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


# A carrier's event: its own id (the same id twice is one event), when and by whom, which parcel.
CARRIER = {
    "event_id": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,49}$"},
    "occurred_at": {"type": "string", "format": "date-time", "maxLength": 40},
    "carrier": {"type": "string", "maxLength": 80},
    "tracking_number": {"type": "string", "maxLength": 80},
    "note": {"type": "string", "maxLength": MAX_TEXT},
}

PAYLOADS = {
    "goods_received": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "signed_by": {"type": "string", "maxLength": 120},
            "received_on": {"type": "string", "format": "date"},
            "note": {"type": "string", "maxLength": MAX_TEXT},
        },
    },
    "payment_received": {
        "type": "object",
        "additionalProperties": False,
        "required": ["amount", "method"],
        "properties": {
            "amount": AMOUNT,
            "method": {"enum": list(PAID_BY)},
            "reference": {"type": "string", "maxLength": 80},
        },
    },
    "change_request": {
        **_payload(
            ["reason"],
            lines={"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": {
                "type": "object", "additionalProperties": False, "required": ["position"],
                "properties": {"position": {"type": "integer", "minimum": 1, "maximum": MAX_LINES},
                               "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
                               "sku": SKU}}},
            shipping_address=TEXT, reason=TEXT),
        # checked in _change_errors below
        "description": "the lines to change, a new shipping address, or both; each line a new quantity, "
                       "a new SKU, or both",
    },
    "cancellation": _payload(["reason"], reason=TEXT),
    "picked_up": _payload(["event_id"], **CARRIER),
    "delayed": _payload(["event_id"], **CARRIER, new_date={"type": "string", "format": "date"},
                        reason={"type": "string", "maxLength": MAX_TEXT}),
    "delivered": _payload(["event_id"], **CARRIER, signed_by={"type": "string", "maxLength": 120},
                          received_on={"type": "string", "format": "date"}),
    **{kind: _payload(["event_id"], **CARRIER, reason={"type": "string", "maxLength": MAX_TEXT})
       for kind in ("lost", "damaged", "wrong_address", "refused")},
    "payment_failed": _payload(["reason"], reason=TEXT, reference={"type": "string", "maxLength": 80}),
    "refund_request": _payload(["amount", "reason"], amount=AMOUNT, reason=TEXT),
    "complaint": _payload(["text"], text={**TEXT, "maxLength": MAX_CASE_TEXT}),
}

EVENT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {"type": {"enum": list(PAYLOADS)}, "payload": {"type": "object"}},
}

# Resolving a case: the remedy from its type's playbook, what it needs, and what was learned (the
# staff form forms/resolve_exception.json takes the same fields; which action fits the case, and what
# the action refuses, the playbook decides).
NOTE = {"type": "string", "maxLength": 2000}
RESOLUTION = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["action", "resolution"],
    "properties": {
        "action": {"enum": sorted({action for kind in EXCEPTION_TYPES.values() for action in kind.actions})},
        "resolution": {**TEXT, "maxLength": MAX_CASE_TEXT},
        "resolution_code": {"enum": list(RESOLUTION_CODES)},
        "amount": AMOUNT,
        "new_date": {"type": "string", "format": "date"},
        "line": {"type": "integer", "minimum": 1, "maximum": MAX_LINES},
        "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
        "sku": SKU,
        "shipping_address": {**TEXT, "maxLength": 2000},
        "carrier": {"type": "string", "maxLength": 80},
        "tracking_number": {"type": "string", "maxLength": 80},
        "claim_reference": {"type": "string", "maxLength": 80},
        "root_cause": NOTE,
        "corrective_action": NOTE,
        "preventive_action": NOTE,
    },
}

# Paging of lists, read from the query string (?page=&per_page=).
PAGE = {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1}
PER_PAGE = {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}

_FORMATS = FormatChecker(formats=["date"])


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    """RFC 3339: a date, 'T', a time and a UTC offset (jsonschema checks it only with an extra package)."""
    if not isinstance(value, str):
        return True
    if len(value) < 20 or value[10] not in "Tt":
        raise ValueError("not a date-time")
    return datetime.fromisoformat(value.upper()).tzinfo is not None


def _field(path) -> str:
    return ".".join(str(part + 1) if isinstance(part, int) else str(part) for part in path)


def _join(base: str, name: str) -> str:
    return ".".join(part for part in (base, name) if part)


_validators: dict[int, Draft202012Validator] = {}


def _validator(schema: dict) -> Draft202012Validator:
    # Built once per schema (they are module constants): building one cost as much as using it.
    validator = _validators.get(id(schema))
    if validator is None or validator.schema is not schema:
        validator = _validators[id(schema)] = Draft202012Validator(schema, format_checker=_FORMATS)
    return validator


def errors(schema: dict, data, prefix: str = "") -> dict[str, str]:
    """Every problem of `data` against `schema`, one message per field (the first found)."""
    found: dict[str, str] = {}
    for error in sorted(_validator(schema).iter_errors(data),
                        key=lambda e: [str(p) for p in e.absolute_path]):
        base = _join(prefix, _field(error.absolute_path))
        if error.validator == "required":
            for name in error.validator_value:
                if isinstance(error.instance, dict) and name not in error.instance:
                    found.setdefault(_join(base, name), "is required")
        elif error.validator == "additionalProperties":
            declared = set(error.schema.get("properties", {}))
            for name in sorted(set(error.instance) - declared):
                found.setdefault(_join(base, str(name)[:40]), "is not a known field")
        else:
            found.setdefault(base or "body", error.message[:300])
    return found


def _change_errors(payload: dict) -> dict[str, str]:
    """What a change request must hold beyond its schema: something to change, once per line."""
    found: dict[str, str] = {}
    if "lines" not in payload and "shipping_address" not in payload:
        found["payload.lines"] = "give the lines to change, a new shipping address, or both"
    positions: set[int] = set()
    for n, line in enumerate(payload.get("lines", []), start=1):
        if "quantity" not in line and "sku" not in line:
            found[f"payload.lines.{n}"] = "give a new quantity, a new SKU, or both"
        if line["position"] in positions:
            found[f"payload.lines.{n}.position"] = f"line {line['position']} is listed twice"
        positions.add(line["position"])
    return found


def event_errors(data) -> dict[str, str]:
    found = errors(EVENT, data)
    if not found:
        payload = data.get("payload", {})
        found = errors(PAYLOADS[data["type"]], payload, prefix="payload")
        if not found and data["type"] == "change_request":
            found = _change_errors(payload)
    return found
