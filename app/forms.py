"""Task forms: `forms/<form_key>.json` is a JSON Schema for the data one kind of human task takes.

Two Orderly keywords let a form depend on the case at hand, by the instance's business key:
`"x-orderly-choices": "<provider>"` on a field limits its values to what CHOICES[provider] lists,
and `"x-orderly-check": "<check>"` on the form runs CHECKS[check] over the cleaned data, which
returns {field: message} for what the domain refuses. Feature packages register both.
"""

import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from flask import current_app
from jsonschema import Draft202012Validator

from app.i18n import N_

FORM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,79}$")

# provider name → f(business_key) → [(value, label)]
CHOICES: dict[str, Callable[[str | None], list[tuple[str, str]]]] = {}
# check name → f(business_key, cleaned data) → {field: message}
CHECKS: dict[str, Callable[[str | None, dict], dict[str, str]]] = {}


class FormError(ValueError):
    def __init__(self, message: str, errors: list[str] | None = None):
        super().__init__(message)
        self.errors = errors or [message]


def _path(form_key: str) -> Path:
    if not FORM_KEY.match(form_key):
        raise FormError(f"'{form_key}' is not a valid form key")
    return Path(current_app.config["FORMS_DIR"]) / f"{form_key}.json"


def exists(form_key: str) -> bool:
    try:
        return _path(form_key).is_file()
    except FormError:
        return False


@lru_cache(maxsize=256)
def _load(path: Path, mtime: float) -> dict:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


def load(form_key: str) -> dict:
    path = _path(form_key)
    if not path.is_file():
        raise FormError(f"form '{form_key}' does not exist")
    return _load(path, path.stat().st_mtime)


def for_case(schema: dict, business_key: str | None) -> dict:
    """The schema with every case-dependent field's choices filled in as `oneOf` constants."""
    properties = schema.get("properties", {})
    dynamic = {name: spec["x-orderly-choices"] for name, spec in properties.items()
               if isinstance(spec, dict) and "x-orderly-choices" in spec}
    if not dynamic:
        return schema
    resolved = {**schema, "properties": dict(properties)}
    for name, provider in dynamic.items():
        if provider not in CHOICES:
            raise FormError(f"field '{name}' names unknown choices '{provider}'")
        options = CHOICES[provider](business_key) or [("", N_("(nothing to choose)"))]
        resolved["properties"][name] = {**properties[name],
                                        "oneOf": [{"const": value, "title": label} for value, label in options]}
    return resolved


def clean(form_key: str | None, data: dict, business_key: str | None = None) -> dict:
    """The submitted data if it fits the form; only declared fields pass."""
    if not isinstance(data, dict):
        raise FormError("the submitted data must be an object")
    if form_key is None:
        if data:
            raise FormError("this task takes no data", [f"'{k}' is not a field of this task" for k in data])
        return {}
    schema = for_case(load(form_key), business_key)
    declared = schema.get("properties", {})
    undeclared = sorted(set(data) - set(declared))
    if undeclared:
        raise FormError(
            "the submission has fields the form does not declare",
            [f"'{name}' is not a field of this form" for name in undeclared],
        )
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    if errors:
        raise FormError(
            "the submission does not fit the form",
            [f"{'/'.join(map(str, e.path)) or 'form'}: {e.message}" for e in errors],
        )
    # Optional fields left out take the schema's default, so the diagram can always read them.
    defaults = {name: field["default"] for name, field in declared.items() if "default" in field and name not in data}
    cleaned = {**defaults, **data}
    check = schema.get("x-orderly-check")
    if check is not None:
        if check not in CHECKS:
            raise FormError(f"form '{form_key}' names unknown check '{check}'")
        refused = CHECKS[check](business_key, cleaned)
        if refused:
            raise FormError("the submission cannot be carried out",
                            [f"{name}: {message}" for name, message in refused.items()])
    return cleaned
