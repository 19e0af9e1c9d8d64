"""Babel extractors for the texts Orderly shows from files, registered in babel.cfg's [extractors]:

- `bpmn`: the name of each process (shown with its deployed definitions), and the name and the
  instructions (`spiffworkflow:instructionsForEndUser`) of every user and manual task in
  workflows/*.bpmn, as app.workflow.projection copies them onto a task;
- `form`: the title of a form in forms/*.json, and of each field its label, its description and the
  labels of its choices, as app.web.task_form shows them. Values are data, never collected.

Each yields (line, funcname, message, comments) as Babel expects; the pages translate these texts
with `app.i18n.translate` when they show them.
"""

import json
from collections.abc import Iterator

from lxml import etree

from app.web.task_form import choices, label_of

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
HUMAN_TASKS = (f"{{{BPMN}}}userTask", f"{{{BPMN}}}manualTask")

Extracted = Iterator[tuple[int, str, str, list[str]]]


def extract_bpmn(fileobj, keywords, comment_tags, options) -> Extracted:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.parse(fileobj, parser).getroot()
    for process in root.iter(f"{{{BPMN}}}process"):
        if process.get("name"):
            yield process.sourceline or 0, "gettext", process.get("name"), [f"process name ({process.get('id')})"]
    for task in root.iter(*HUMAN_TASKS):
        name = task.get("name")
        if name:
            yield task.sourceline or 0, "gettext", name, [f"task name ({task.get('id')})"]
        for instructions in task.iterfind(f"{{{BPMN}}}extensionElements/{{{SPIFF}}}instructionsForEndUser"):
            if instructions.text and instructions.text.strip():
                yield (instructions.sourceline or 0, "gettext", instructions.text,
                       [f"instructions of the task {task.get('id')}"])


def _line_of(lines: list[str], text: str) -> int:
    """The first line of the JSON source holding the text (as JSON writes it), for the catalog's reference."""
    quoted = json.dumps(text, ensure_ascii=False)
    return next((number for number, line in enumerate(lines, 1) if quoted in line), 1)


def extract_form(fileobj, keywords, comment_tags, options) -> Extracted:
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    lines = source.splitlines()
    schema = json.loads(source)
    if schema.get("title"):
        yield _line_of(lines, schema["title"]), "gettext", str(schema["title"]), ["form title"]
    for name, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, dict):
            continue
        label = label_of(name, spec)
        yield _line_of(lines, label), "gettext", label, [f"label of the field {name}"]
        if spec.get("description"):
            yield _line_of(lines, spec["description"]), "gettext", str(spec["description"]), [f"help of {name}"]
        if "x-orderly-choices" in spec:
            continue  # its choices come from the case at hand, not from this file
        for value, choice in choices(spec):
            yield _line_of(lines, choice), "gettext", choice, [f"choice {value!r} of {name}"]
