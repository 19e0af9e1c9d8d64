"""A task's JSON Schema as an HTML form, and posted strings read back into the schema's types."""

import pytest
from werkzeug.datastructures import MultiDict

from app.web.task_form import TaskForm

SCHEMA = {
    "title": "Everything",
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "title": "Approve"},
        "checked": {"type": "boolean", "title": "Goods checked", "const": True},
        "severity": {"type": "string", "title": "Severity", "enum": ["low", "high_risk"]},
        "channel": {"type": "string", "title": "Channel",
                    "oneOf": [{"const": "web", "title": "Web shop"}, {"const": "fax", "title": "Fax"}]},
        "level": {"type": "integer", "title": "Level", "enum": [1, 2, 3]},
        "packages": {"type": "integer", "title": "Packages", "minimum": 1, "maximum": 10},
        "weight": {"type": "number", "title": "Weight (kg)", "exclusiveMinimum": 0, "description": "Gross"},
        "carrier": {"type": "string", "title": "Carrier", "minLength": 1, "maxLength": 80},
        "note": {"type": "string", "maxLength": 2000},
        "ship_on": {"type": "string", "title": "Ship on", "format": "date"},
        "code": {"type": ["string", "null"], "title": "Code", "pattern": "^[A-Z]{3}$", "default": "ABC"},
        "amount": {"type": "string", "title": "Amount", "default": "",
                   "anyOf": [{"maxLength": 0}, {"pattern": "^[0-9]{1,10}(\\.[0-9]{1,2})?$"}]},
        "method": {"type": "string", "enum": ["bank_transfer", "card"], "default": "bank_transfer"},
    },
    "required": ["approved", "checked", "packages", "carrier"],
    "additionalProperties": False,
}


def fields(form: TaskForm) -> dict:
    return {f.name: f for f in form.fields}


def read(posted: dict) -> TaskForm:
    form = TaskForm(SCHEMA)
    form.read(MultiDict(posted))
    return form


GOOD = {"csrf_token": "t", "lock_version": "3", "checked": "true", "packages": "2", "carrier": " DHL "}


def test_widgets_labels_and_limits_come_from_the_schema():
    f = fields(TaskForm(SCHEMA))
    assert {name: field.widget for name, field in f.items()} == {
        "approved": "checkbox", "checked": "checkbox", "severity": "select", "channel": "select",
        "level": "select", "packages": "number", "weight": "number", "carrier": "text", "note": "textarea",
        "ship_on": "date", "code": "text", "amount": "text", "method": "select",
    }
    assert f["approved"].label == "Approve" and f["note"].label == "Note"  # no title: the name, readable
    assert f["severity"].options == [("low", "Low"), ("high_risk", "High risk")]
    assert f["channel"].options == [("web", "Web shop"), ("fax", "Fax")]
    assert f["level"].options == [("1", "1"), ("2", "2"), ("3", "3")]
    assert (f["packages"].minimum, f["packages"].maximum, f["packages"].step) == (1, 10, "1")
    assert (f["weight"].minimum, f["weight"].step, f["weight"].help) == (0, "any", "Gross")
    assert (f["carrier"].max_length, f["note"].max_length) == (80, 2000)
    assert [name for name, field in f.items() if field.required] == ["approved", "checked", "packages", "carrier"]
    assert f["checked"].must_tick and not f["approved"].must_tick
    assert f["code"].value == "ABC" and f["method"].value == "bank_transfer"  # defaults fill the empty form
    assert TaskForm(SCHEMA).marks_required
    assert not TaskForm({"properties": {"approved": {"type": "boolean"}}, "required": ["approved"]}).marks_required


def test_strings_become_the_schema_types():
    form = read({**GOOD, "approved": "true", "severity": "high_risk", "channel": "fax", "level": "2",
                 "weight": "12.5", "note": "line one\r\nline two\r\n", "ship_on": "2026-04-01", "code": "XYZ",
                 "amount": "12.50", "method": "card"})
    assert not form.has_errors, [(f.name, f.errors) for f in form.fields]
    assert form.data == {
        "approved": True, "checked": True, "severity": "high_risk", "channel": "fax", "level": 2, "packages": 2,
        "weight": 12.5, "carrier": "DHL", "note": "line one\nline two", "ship_on": "2026-04-01", "code": "XYZ",
        "amount": "12.50", "method": "card",
    }


def test_a_missing_checkbox_is_false_and_an_empty_optional_field_is_left_out():
    form = read({**GOOD, "severity": "", "weight": "  ", "note": "", "ship_on": "", "code": ""})
    assert not form.has_errors
    assert form.data == {"approved": False, "checked": True, "packages": 2, "carrier": "DHL"}
    assert read({**GOOD, "weight": "3"}).data["weight"] == 3  # a whole number stays whole


@pytest.mark.parametrize(("posted", "field", "message"), [
    ({"packages": "two"}, "packages", "Enter a whole number."),
    ({"packages": "2.0"}, "packages", "Enter a whole number."),
    ({"packages": "9" * 40}, "packages", "Enter a whole number."),
    ({"packages": "11"}, "packages", "At most 10."),
    ({"packages": "0"}, "packages", "At least 1."),
    ({"packages": ""}, "packages", "Required."),
    ({"weight": "nan"}, "weight", "Enter a number."),
    ({"weight": "1e999"}, "weight", "Enter a number."),
    ({"weight": "0"}, "weight", "More than 0."),
    ({"carrier": "x" * 81}, "carrier", "At most 80 characters (this has 81)."),
    ({"carrier": "   "}, "carrier", "Required."),
    ({"severity": "medium"}, "severity", "Choose one of the options."),
    ({"level": "4"}, "level", "Choose one of the options."),
    ({"checked": ""}, "checked", "Tick this box to go on."),
    ({"checked": "perhaps"}, "checked", "Tick the box or leave it empty."),
    ({"ship_on": "01/04/2026"}, "ship_on", "Enter a date as YYYY-MM-DD."),
    ({"ship_on": "2026-02-30"}, "ship_on", "Enter a date as YYYY-MM-DD."),
    ({"code": "abc"}, "code", "This is not in the expected form."),
    ({"amount": "12.345"}, "amount", "This is not in the expected form."),
])
def test_bad_input_is_a_message_on_its_field(posted, field, message):
    form = read({**GOOD, **posted})
    assert form.has_errors
    assert message in fields(form)[field].errors
    assert [f.name for f in form.fields if f.errors] == [field]
    assert fields(form)[field].value == posted[field] or fields(form)[field].widget == "checkbox"


def test_fields_the_form_does_not_declare_are_refused():
    form = read({**GOOD, "is_admin": "true", "x" * 200: "1"})
    assert form.errors == ["'is_admin' is not a field of this form.", f"'{'x' * 80}' is not a field of this form."]
    assert "is_admin" not in form.data


def test_two_values_for_one_field_are_refused():
    posted = MultiDict([*GOOD.items()])
    posted.add("packages", "3")
    form = TaskForm(SCHEMA)
    assert not form.read(posted)
    assert fields(form)["packages"].errors == ["Give one value."]


def test_a_task_without_a_form_takes_nothing():
    form = TaskForm(None)
    assert form.read(MultiDict({"csrf_token": "t", "lock_version": "1"})) and form.data == {}
    assert not TaskForm(None).read(MultiDict({"lock_version": "1", "anything": "x"}))


def test_runtime_messages_land_on_their_fields():
    form = TaskForm(SCHEMA)
    form.add_errors(["packages: 0 is less than the minimum of 1", "the instance is stopped", "nope: x"])
    assert fields(form)["packages"].errors == ["0 is less than the minimum of 1"]
    assert form.errors == ["the instance is stopped", "nope: x"]


def test_describe_submitted_data_for_a_read_only_page():
    form = TaskForm(SCHEMA)
    shown = form.describe({"approved": False, "severity": "high_risk", "channel": "web", "packages": 2, "other": 1})
    assert shown == [("Approve", "No"), ("Severity", "High risk"), ("Channel", "Web shop"), ("Packages", "2")]


def test_every_shipped_form_renders_and_reads_back(ctx):
    """The forms in forms/ (whatever the diagrams use next): each builds its fields, and the form as
    first shown, sent back untouched, is either accepted or refused only for its required fields."""
    from pathlib import Path

    from app import forms

    shipped = sorted(Path(ctx.config["FORMS_DIR"]).glob("*.json"))
    assert shipped
    for path in shipped:
        form = TaskForm(forms.load(path.stem))
        assert form.fields, path.name
        untouched = MultiDict({f.name: f.value for f in form.fields if f.widget != "checkbox" and f.value}
                              | {f.name: "true" for f in form.fields if f.checked})
        form.read(untouched)
        assert form.errors == [], path.name
        refused = {f.name for f in form.fields if f.errors}
        assert refused <= {f.name for f in form.fields if f.required or f.must_tick}, path.name
