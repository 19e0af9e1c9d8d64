"""JSON Schemas of the API's request bodies, and their validation into {field: message}.

Field names follow the domain's OrderError keys (`lines.1.sku`: positions count from 1), so a client
reads one kind of `details` whether the schema or the order rules refused the request."""

from jsonschema import Draft202012Validator, FormatChecker

from app.billing.service import PAYMENT_METHODS as PAID_BY
from app.orders.intake import EVENTS
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

EVENT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {"type": {"enum": list(EVENTS)}, "payload": {"type": "object"}},
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
}

_FORMATS = FormatChecker(formats=["date"])


def _field(path) -> str:
    return ".".join(str(part + 1) if isinstance(part, int) else str(part) for part in path)


def _join(base: str, name: str) -> str:
    return ".".join(part for part in (base, name) if part)


def errors(schema: dict, data, prefix: str = "") -> dict[str, str]:
    """Every problem of `data` against `schema`, one message per field (the first found)."""
    found: dict[str, str] = {}
    for error in sorted(Draft202012Validator(schema, format_checker=_FORMATS).iter_errors(data),
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


def event_errors(data) -> dict[str, str]:
    found = errors(EVENT, data)
    if not found:
        found = errors(PAYLOADS[data["type"]], data.get("payload", {}), prefix="payload")
    return found
