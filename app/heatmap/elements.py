"""What a deployed diagram says about where its instances can stand: the elements a token waits at
(people's tasks, receive tasks, catch events, joins, called processes), their names and kinds, and
whether a token can wait at one of them while a person's task of the same instance is open."""

from collections import deque
from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

# A person's task: the inbox (`human_task`) knows who stands there, no workflow needs restoring.
HUMAN = frozenset({"userTask", "manualTask"})
# Where a token waits for something other than a person: a message, a timer, the other branches of a
# join, a called process. Only the stored workflow knows who stands there.
WAITS = frozenset({
    "receiveTask", "intermediateCatchEvent", "eventBasedGateway", "parallelGateway", "inclusiveGateway",
    "complexGateway", "callActivity", "subProcess", "transaction", "adHocSubProcess",
})
# Splits that let one instance be in two places at once.
_FORKS = frozenset({"parallelGateway", "inclusiveGateway", "complexGateway"})
_CONTAINERS = frozenset({"callActivity", "subProcess", "transaction", "adHocSubProcess"})


@dataclass(frozen=True)
class Element:
    id: str
    name: str
    kind: str  # the BPMN tag: userTask, receiveTask, intermediateCatchEvent, …
    trigger: str = ""  # what a catch event waits for: message, timer, signal, conditional, … ("" otherwise)

    @property
    def human(self) -> bool:
        return self.kind in HUMAN


@dataclass(frozen=True)
class Layout:
    """The places of one process in a BPMN file, by element id, and whether a running instance (one
    with a person's task open) may also wait somewhere else."""

    places: dict[str, Element]
    waits_beside_people: bool


def _tag(element) -> str:
    return etree.QName(element).localname


def _trigger(node) -> str:
    kinds = [_tag(child).removesuffix("EventDefinition") for child in node
             if isinstance(child.tag, str) and _tag(child).endswith("EventDefinition")]
    return kinds[0] if len(kinds) == 1 else ("multiple" if kinds else "")


def _reachable(start: str, flows: dict[str, list[str]]) -> set[str]:
    seen, todo = {start}, deque([start])
    while todo:
        for target in flows.get(todo.popleft(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@lru_cache(maxsize=128)
def layout(bpmn_xml: str, process_key: str) -> Layout:
    """Read once per deployed version (its XML never changes)."""
    root = etree.fromstring(bpmn_xml.encode(), _PARSER)
    process = next((p for p in root.iterfind(f"{{{BPMN_NS}}}process") if p.get("id") == process_key), None)
    if process is None:
        return Layout({}, False)
    places: dict[str, Element] = {}
    kinds: dict[str, str] = {}
    flows: dict[str, list[str]] = {}
    side_starts: list[str] = []  # where a second token can begin beside the first
    for node in process.iter():
        if not isinstance(node.tag, str) or not node.get("id"):
            continue
        kind = _tag(node)
        kinds[node.get("id")] = kind
        if kind == "sequenceFlow":
            flows.setdefault(node.get("sourceRef"), []).append(node.get("targetRef"))
        elif kind in _FORKS or (kind == "boundaryEvent" and node.get("cancelActivity") == "false"):
            side_starts.append(node.get("id"))
        if kind in HUMAN or (kind in WAITS and node.get("triggeredByEvent") != "true"):
            places[node.get("id")] = Element(node.get("id"), node.get("name") or node.get("id"), kind,
                                             _trigger(node) if kind == "intermediateCatchEvent" else "")
    waiting = {element_id for element_id, element in places.items() if not element.human}
    waits_beside = any(kinds.get(element_id) in _CONTAINERS for element_id in waiting) or any(
        _reachable(start, flows) & waiting for start in side_starts)
    return Layout(places, waits_beside)
