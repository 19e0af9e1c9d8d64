"""What one version of a process changes against another: the BPMN elements it adds, removes or changes.

Only the model counts. The diagram interchange (bpmndi: where shapes and lines are drawn) is left out, so
moving a shape changes nothing, while a new name, condition, script, timer, operation parameter, form,
flow or lane does. An element is anything in the BPMN namespace with an id of its own (flow nodes,
sequence flows, lanes, messages, data objects, participants…), except the parts that only describe their
owner (event definitions, conditions, loop settings, data inputs…): those count as a change of the owner.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass

from lxml import etree

from app.modeler.bpmn import BPMN, local, parse

# BPMN elements that, though they may carry an id, are part of the element holding them.
PARTS = frozenset({
    "definitions", "laneSet", "childLaneSet", "conditionExpression", "completionCondition", "loopCardinality",
    "timeDate", "timeDuration", "timeCycle", "multiInstanceLoopCharacteristics", "standardLoopCharacteristics",
    "ioSpecification", "dataInput", "dataOutput", "inputSet", "outputSet", "dataInputAssociation",
    "dataOutputAssociation", "property", "documentation", "extensionElements", "script", "text",
    "resourceRole", "performer", "humanPerformer", "potentialOwner", "resourceAssignmentExpression",
    "resourceParameterBinding", "assignment", "from", "to", "dataState", "correlationKey",
    "correlationPropertyRetrievalExpression", "messagePath", "dataPath", "inputDataItem", "outputDataItem",
    "complexBehaviorDefinition", "activationCondition",
})
# How a part is named in a change; event definitions read as their kind (timer, message, signal…).
ASPECTS = {
    "conditionExpression": "condition",
    "multiInstanceLoopCharacteristics": "loop",
    "standardLoopCharacteristics": "loop",
}
FIRST = ("type", "name")  # what a change names first; the rest alphabetically
# Not part of what an element says: its own id, and the expression type a modeler adds when it saves
# (tFormalExpression or none: the engine reads both alike).
IGNORED = frozenset({"id", "{http://www.w3.org/2001/XMLSchema-instance}type"})


@dataclass(frozen=True)
class Element:
    id: str
    name: str
    kind: str  # the BPMN element's local name: userTask, sequenceFlow, lane…


@dataclass(frozen=True)
class Change:
    id: str
    name: str
    kind: str
    what: tuple[str, ...]


@dataclass
class Diff:
    added: list[Element]
    removed: list[Element]
    changed: list[Change]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def as_dict(self) -> dict:
        return {
            "added": [asdict(e) for e in self.added],
            "removed": [asdict(e) for e in self.removed],
            "changed": [{**asdict(c), "what": list(c.what)} for c in self.changed],
        }


def _is_bpmn(node) -> bool:
    return isinstance(node.tag, str) and node.tag.startswith(BPMN)


def _is_element(node) -> bool:
    """An element of its own, compared by id."""
    if not _is_bpmn(node) or not node.get("id"):
        return False
    kind = local(node)
    return kind not in PARTS and not kind.endswith("EventDefinition")


def _aspect(part) -> str:
    kind = local(part)
    if _is_bpmn(part) and kind.endswith("EventDefinition"):
        return kind.removesuffix("EventDefinition")
    return ASPECTS.get(kind, kind)


def _text(node) -> str:
    return (node.text or "").replace("\r\n", "\n").strip()


def _canonical(part) -> tuple:
    """A part as comparable data: ids of parts and their order among siblings do not count (a modeler
    renumbers them and may reorder them), names, values and text do."""
    # the id of an extension's element is no BPMN id: spiffworkflow's operator and parameter ids are names
    ignored = IGNORED if _is_bpmn(part) else ()
    attributes = tuple(sorted((k, v) for k, v in part.attrib.items() if k not in ignored))
    children = tuple(sorted(_canonical(child) for child in part if isinstance(child.tag, str)
                            and not _is_element(child)))  # a lane in a lane set is compared on its own
    return part.tag, attributes, _text(part), children


class _Document:
    """The elements of one BPMN document, each reduced to what it says."""

    def __init__(self, root):
        self.elements: dict[str, etree._Element] = {}
        for node in root.iter():
            if _is_element(node):
                self.elements.setdefault(node.get("id"), node)  # a duplicate id (a broken draft): the first
        self.lanes = defaultdict(set)  # flow node id → ids of the lanes listing it
        self.incoming, self.outgoing = defaultdict(set), defaultdict(set)
        for element_id, node in self.elements.items():
            kind = local(node)
            if kind == "lane":
                for ref in node.findall(f"{BPMN}flowNodeRef"):
                    self.lanes[_text(ref)].add(element_id)
            elif kind == "sequenceFlow":
                self.outgoing[node.get("sourceRef")].add(element_id)
                self.incoming[node.get("targetRef")].add(element_id)

    def _parent(self, node) -> str:
        parent = node.getparent()
        while parent is not None and not _is_element(parent):
            parent = parent.getparent()
        return parent.get("id") if parent is not None else ""

    def aspects(self, element_id: str) -> dict[str, object]:
        node = self.elements[element_id]
        found: dict[str, object] = {"type": local(node), "parent": self._parent(node)}
        for key, value in node.attrib.items():
            if key not in IGNORED:
                found[etree.QName(key).localname] = value
        parts = defaultdict(list)
        for child in node:
            if not isinstance(child.tag, str) or _is_element(child):
                continue  # compared on its own
            if _is_bpmn(child) and local(child) in ("incoming", "outgoing"):
                continue  # what the sequence flows say counts; a hand-written file often leaves these out
            parts[_aspect(child)].append(_canonical(child))
        found.update({aspect: sorted(values) for aspect, values in parts.items()})
        if _text(node):
            found["content"] = _text(node)
        for aspect, index in (("lane", self.lanes), ("incoming", self.incoming), ("outgoing", self.outgoing)):
            if element_id in index:
                found[aspect] = sorted(index[element_id])
        return found

    def describe(self, element_id: str) -> Element:
        node = self.elements[element_id]
        return Element(element_id, node.get("name") or "", local(node))


def _what(before: dict, after: dict) -> tuple[str, ...]:
    differing = {aspect for aspect in before.keys() | after.keys() if before.get(aspect) != after.get(aspect)}
    return tuple(sorted(differing, key=lambda aspect: (FIRST.index(aspect) if aspect in FIRST else len(FIRST), aspect)))


def compare(base_xml: str | bytes, other_xml: str | bytes) -> Diff:
    """What `other` adds, removes and changes against `base`, in the order the documents hold them."""
    base, other = _Document(parse(base_xml, "base")), _Document(parse(other_xml, "other"))
    added = [other.describe(i) for i in other.elements if i not in base.elements]
    removed = [base.describe(i) for i in base.elements if i not in other.elements]
    changed = []
    for element_id in other.elements:
        if element_id not in base.elements:
            continue
        what = _what(base.aspects(element_id), other.aspects(element_id))
        if what:
            described = other.describe(element_id)
            changed.append(Change(element_id, described.name or base.describe(element_id).name, described.kind,
                                  what))
    return Diff(added, removed, changed)
