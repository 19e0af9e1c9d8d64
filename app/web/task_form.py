"""A task's JSON Schema form (forms/<form_key>.json) as an HTML form: the fields to render, and a
posted form read back into typed data with a message per field.

What a browser posts is strings; the schema says what each field is. A missing checkbox is false, an
empty optional field is left out, text that is not a number is a message on that field. The typed
data is then checked against the schema here, so the page can say which field is wrong and how;
app.workflow.runtime checks it again (app.forms.clean) before anything is written.

Labels (titles, descriptions, choice labels) are shown in the reader's language; app/i18n_extract.py
collects them from forms/*.json with `label_of` and `choices`. Values are never translated.
"""

import math
import re
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext
from jsonschema import Draft202012Validator
from werkzeug.datastructures import MultiDict

from app.i18n import translate

TEXTAREA_OVER = 200  # a string field allowing more characters than this gets a textarea
RESERVED = ("csrf_token", "lock_version")  # posted with every task form, not task data
TRUE = ("true", "on", "1", "yes")
INTEGER = re.compile(r"^[+-]?\d{1,15}$")
NUMBER = re.compile(r"^[+-]?(\d{1,15}(\.\d{0,15})?|\.\d{1,15})([eE][+-]?\d{1,3})?$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Field:
    name: str
    label: str
    widget: str  # checkbox, select, number, date, text, textarea
    type: str  # the JSON type the value becomes
    required: bool
    help: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label) for a select
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    min_length: int | None = None
    max_length: int | None = None
    must_tick: bool = False  # a checkbox the schema wants true ("const": true)
    value: str = ""  # what the input shows
    checked: bool = False
    errors: list[str] = field(default_factory=list)


def _type_of(spec: dict) -> str:
    kind = spec.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return kind


def label_of(name: str, spec: dict) -> str:
    """A field's label in English: its title, else its name in words."""
    return str(spec.get("title") or name.replace("_", " ").capitalize())


def choices(spec: dict) -> list[tuple[object, str]]:
    """(value, English label) of a field with a fixed set of values."""
    if "enum" in spec:
        return [(value, str(value).replace("_", " ").capitalize() if isinstance(value, str) else str(value))
                for value in spec["enum"] if value is not None]
    for key in ("oneOf", "anyOf"):
        options = spec.get(key)
        if isinstance(options, list) and options and all(isinstance(o, dict) and "const" in o for o in options):
            return [(o["const"], str(o.get("title", o["const"]))) for o in options]
    return []


def _shown(value) -> str:
    """A typed value as an input shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _field(name: str, spec: dict, required: bool) -> Field:
    kind = _type_of(spec)
    made = Field(name=name, label=translate(label_of(name, spec)), widget="text",
                 type=kind, required=required, help=translate(str(spec.get("description") or "")))
    options = choices(spec)
    if kind == "boolean":
        made.widget = "checkbox"
        made.must_tick = spec.get("const") is True or spec.get("enum") == [True]
        made.checked = spec.get("default") is True
    elif options:
        made.widget = "select"
        made.options = [(_shown(value), translate(label)) for value, label in options]
    elif kind in ("integer", "number"):
        made.widget = "number"
        made.step = "1" if kind == "integer" else "any"
        made.minimum = spec.get("minimum", spec.get("exclusiveMinimum"))
        made.maximum = spec.get("maximum", spec.get("exclusiveMaximum"))
    elif kind == "string" and spec.get("format") == "date":
        made.widget = "date"
    elif kind == "string" and (spec.get("maxLength") or 0) > TEXTAREA_OVER:
        made.widget = "textarea"
    if kind == "string":
        made.min_length, made.max_length = spec.get("minLength"), spec.get("maxLength")
    if made.widget != "checkbox":
        made.value = _shown(spec.get("default"))
    return made


def _number(text: str, kind: str):
    """The number in the text, or None if it is not one of the field's kind."""
    if kind == "integer":
        return int(text) if INTEGER.match(text) else None
    if not NUMBER.match(text):
        return None
    number = float(text)
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and re.fullmatch(r"[+-]?\d+", text) else number


def _fmt(number) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def _message(error) -> str:
    """A sentence a person understands, for one jsonschema error about a field."""
    rule, limit, value = error.validator, error.validator_value, error.instance
    if rule == "type":
        if limit == "integer":
            return gettext("Enter a whole number.")
        if limit == "number":
            return gettext("Enter a number.")
        if limit == "boolean":
            return gettext("Tick the box or leave it empty.")
        return gettext("Enter a %(kind)s.", kind=limit)
    if rule == "minimum":
        return gettext("At least %(limit)s.", limit=_fmt(limit))
    if rule == "exclusiveMinimum":
        return gettext("More than %(limit)s.", limit=_fmt(limit))
    if rule == "maximum":
        return gettext("At most %(limit)s.", limit=_fmt(limit))
    if rule == "exclusiveMaximum":
        return gettext("Less than %(limit)s.", limit=_fmt(limit))
    if rule == "minLength":
        return gettext("Required.") if limit == 1 else gettext("At least %(limit)s characters.", limit=limit)
    if rule == "maxLength":
        return gettext("At most %(limit)s characters (this has %(length)s).", limit=limit, length=len(value))
    if rule == "enum":
        return gettext("Choose one of the options.")
    if rule == "const":
        if limit is True:
            return gettext("Tick this box to go on.")
        return gettext("Must be %(value)s.", value=_shown(limit))
    if rule in ("pattern", "anyOf", "oneOf", "format"):
        return gettext("This is not in the expected form.")
    if rule == "multipleOf":
        return gettext("Must be a multiple of %(limit)s.", limit=_fmt(limit))
    return error.message


class TaskForm:
    """The fields of one task's form, their values and messages."""

    def __init__(self, schema: dict | None):
        self.schema = schema or {"type": "object", "properties": {}}
        required = set(self.schema.get("required", []))
        self.fields = [_field(name, spec, name in required)
                       for name, spec in self.schema.get("properties", {}).items()]
        self.by_name = {f.name: f for f in self.fields}
        self.errors: list[str] = []  # messages about no one field
        self.data: dict = {}

    @property
    def marks_required(self) -> bool:
        """Whether some field carries the required mark (a plain checkbox never does: unticked is an answer)."""
        return any(f.must_tick if f.widget == "checkbox" else f.required for f in self.fields)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(f.errors for f in self.fields)

    def read(self, posted: MultiDict) -> bool:
        """Take the posted strings into typed `data`; True when they fit the schema."""
        self.data = {}
        for name in posted:
            if name not in self.by_name and name not in RESERVED:
                self.errors.append(gettext("'%(name)s' is not a field of this form.", name=name[:80]))
        for f in self.fields:
            values = posted.getlist(f.name)
            if len(values) > 1:
                f.errors.append(gettext("Give one value."))
                continue
            raw = values[0] if values else ""
            if f.widget == "checkbox":
                f.checked = raw.strip().lower() in TRUE
                if raw and not f.checked and raw.strip().lower() not in ("false", "off", "0", "no"):
                    f.errors.append(gettext("Tick the box or leave it empty."))
                self.data[f.name] = f.checked
                continue
            f.value = raw
            text = raw.replace("\r\n", "\n").strip()
            if not text:
                continue  # an empty optional field is left out; a required one is reported below
            self._convert(f, text)
        self._check()
        return not self.has_errors

    def _convert(self, f: Field, text: str) -> None:
        if f.widget == "select":
            value = next((v for v, _label in choices(self.schema["properties"][f.name]) if _shown(v) == text), None)
            if value is None:
                f.errors.append(gettext("Choose one of the options."))
            else:
                self.data[f.name] = value
        elif f.type in ("integer", "number"):
            number = _number(text, f.type)
            if number is None:
                f.errors.append(gettext("Enter a whole number.") if f.type == "integer" else gettext("Enter a number."))
            else:
                self.data[f.name] = number
        elif f.widget == "date":
            try:
                if not ISO_DATE.match(text):
                    raise ValueError(text)
                date.fromisoformat(text)
            except ValueError:
                f.errors.append(gettext("Enter a date as YYYY-MM-DD."))
            else:
                self.data[f.name] = text
        else:
            self.data[f.name] = text

    def _check(self) -> None:
        """Check the typed data against the schema, each message on its field."""
        for name in self.schema.get("required", []):
            f = self.by_name.get(name)
            if f is not None and name not in self.data and not f.errors:
                f.errors.append(gettext("Required."))
        for error in Draft202012Validator(self.schema).iter_errors(self.data):
            if error.validator in ("required", "additionalProperties"):
                continue  # said above, in the words of this page
            name = error.path[0] if error.path else None
            target = self.by_name.get(name) if isinstance(name, str) else None
            message = _message(error)
            if target is None:
                self.errors.append(error.message)
            elif message not in target.errors:
                target.errors.append(message)

    def add_errors(self, messages: list[str]) -> None:
        """Messages from the runtime's check ("field: message"), each on its field where it names one."""
        for message in messages:
            name, _sep, rest = message.partition(": ")
            if name in self.by_name and rest:
                self.by_name[name].errors.append(rest)
            else:
                self.errors.append(message)

    def describe(self, data: dict) -> list[tuple[str, str]]:
        """(label, value) of submitted data, in the form's order, for a read-only page."""
        shown = []
        for f in self.fields:
            if f.name not in data:
                continue
            value = data[f.name]
            if isinstance(value, bool):
                text = gettext("Yes") if value else gettext("No")
            elif f.options:
                text = dict(f.options).get(_shown(value), _shown(value))
            else:
                text = _shown(value)
            shown.append((f.label, text))
        return shown
