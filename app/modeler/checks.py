"""Everything a process owner is told when saving a draft: the deployment gate's refusals, and what the
engine would accept but a procedure should not have (a path that stops nowhere, a message nobody sends).
Errors block deploying; warnings are advice."""

from dataclasses import dataclass, field

from flask import current_app

from app.modeler.bpmn import BPMN, local
from app.workflow import definitions
from app.workflow.errors import DeploymentRefused, Problem
from app.workflow.messages import MESSAGES

CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}
FLOW_NODES = {
    "task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess", "exclusiveGateway", "inclusiveGateway",
    "parallelGateway", "eventBasedGateway", "complexGateway", "startEvent", "endEvent", "intermediateCatchEvent",
    "intermediateThrowEvent", "boundaryEvent",
}
CATCHING = {"receiveTask", "intermediateCatchEvent", "boundaryEvent", "startEvent"}
THROWING = {"sendTask", "intermediateThrowEvent", "endEvent"}


class FileTooLarge(DeploymentRefused):
    status_code = 413


@dataclass
class Report:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    key: str | None = None
    name: str = ""

    def as_dict(self) -> dict:
        return {"errors": [p.as_dict() for p in self.errors], "warnings": [p.as_dict() for p in self.warnings]}


def _problem(element, message: str) -> Problem:
    return Problem(message, element.get("id", ""), element.get("name", ""), element.sourceline)


def _has(element, definition: str) -> bool:
    return element.find(f"{BPMN}{definition}") is not None


def _exempt_from_flow(node) -> bool:
    """Compensation handlers and link events are joined by associations and links, not sequence flows;
    an event subprocess starts by its event; the steps of an ad-hoc subprocess have no order at all."""
    return (node.get("isForCompensation") == "true" or node.get("triggeredByEvent") == "true"
            or _has(node, "compensateEventDefinition")
            or _has(node, "linkEventDefinition") or local(node.getparent()) == "adHocSubProcess")


def _flow_problems(root) -> tuple[list[Problem], list[Problem]]:
    dead_ends, unreachable = [], []
    for container in root.iter(*(f"{BPMN}{c}" for c in CONTAINERS)):
        flows = [f for f in container if local(f) == "sequenceFlow"]
        sources = {f.get("sourceRef") for f in flows}
        targets = {f.get("targetRef") for f in flows}
        for node in container:
            kind = local(node)
            if kind not in FLOW_NODES or _exempt_from_flow(node):
                continue
            if kind != "endEvent" and node.get("id") not in sources:
                dead_ends.append(_problem(
                    node, "nothing follows this element: connect it to the next step, or end the path with an "
                          "end event"))
            if kind not in ("startEvent", "boundaryEvent") and node.get("id") not in targets:
                unreachable.append(_problem(node, "no sequence flow leads here, so it never runs"))
    return dead_ends, unreachable


def _message_problems(root) -> list[Problem]:
    names = {m.get("id"): m.get("name") or m.get("id") for m in root.iter(f"{BPMN}message")}

    def message_of(node):
        definition = node.find(f"{BPMN}messageEventDefinition")
        ref = node.get("messageRef") if local(node) in ("receiveTask", "sendTask") else (
            definition.get("messageRef") if definition is not None else None)
        return (definition is not None or local(node) in ("receiveTask", "sendTask")), ref

    thrown, waiting = set(), []
    for node in root.iter(*(f"{BPMN}{kind}" for kind in CATCHING | THROWING)):
        uses_message, ref = message_of(node)
        if not uses_message:
            continue
        if local(node) in THROWING:
            thrown.add(names.get(ref, ref))
        else:
            waiting.append((node, ref))
    problems = []
    for node, ref in waiting:
        if not ref:
            problems.append(_problem(node, "waits for a message but does not name one"))
            continue
        name = names.get(ref)
        if name is None:
            problems.append(_problem(node, f"refers to message '{ref}', which the file does not declare"))
        elif name not in MESSAGES and name not in thrown:
            problems.append(_problem(
                node, f"waits for message '{name}', which Orderly never sends (it sends: {', '.join(MESSAGES)})"))
    return problems


def _advice(root) -> list[Problem]:
    advice = []
    for task in root.iter(f"{BPMN}userTask", f"{BPMN}manualTask"):
        form_key = [p for p in task.iter("{*}property") if p.get("name") == "formKey" and p.get("value")]
        if local(task) == "userTask" and not form_key:
            advice.append(_problem(task, "has no form: the person doing it can only mark it done"))
    for gateway in root.iter(f"{BPMN}exclusiveGateway", f"{BPMN}inclusiveGateway"):
        container = gateway.getparent()
        outgoing = [f for f in container if local(f) == "sequenceFlow" and f.get("sourceRef") == gateway.get("id")]
        if len(outgoing) > 1 and not gateway.get("default") and all(_has(f, "conditionExpression") for f in outgoing):
            advice.append(_problem(gateway, "has no default flow: when no condition holds, the instance stops "
                                            "with an error"))
    return advice


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, unique = set(), []
    for problem in problems:
        if (problem.element_id, problem.message) not in seen:
            seen.add((problem.element_id, problem.message))
            unique.append(problem)
    return unique


def parse(xml: bytes, filename: str = ""):
    """The document's root, or DeploymentRefused for what cannot be stored at all (size, DOCTYPE, XML)."""
    limit = current_app.config["MAX_BPMN_BYTES"]
    if len(xml) > limit:
        raise FileTooLarge([Problem(f"the file is {len(xml):,} bytes; the limit is {limit:,}")])
    return definitions.parse_bpmn(xml, filename)


def main_process(root) -> tuple[str, str]:
    """The id and name of the process a file deploys as."""
    key = definitions._main_process_id(root)
    process = definitions._process(root, key)
    return key, process.get("name") or key


def check(xml: bytes, filename: str = "") -> Report:
    """Every finding about a document; raises only DeploymentRefused for a document that cannot be read."""
    root = parse(xml, filename)
    report = Report()
    try:
        report.key, report.name = main_process(root)
    except DeploymentRefused as refused:
        report.errors.extend(refused.problems)
    try:
        definitions.validate(xml, filename, current_app.extensions["orderly.operations"],
                             current_app.config["MAX_BPMN_BYTES"])
    except DeploymentRefused as refused:
        report.errors.extend(refused.problems)
    dead_ends, unreachable = _flow_problems(root)
    report.errors.extend(dead_ends + _message_problems(root))
    report.warnings.extend(unreachable + _advice(root))
    report.errors, report.warnings = _unique(report.errors), _unique(report.warnings)
    return report
