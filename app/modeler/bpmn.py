"""Reading BPMN documents the way every part of the modeler does: the safe parser, the namespace, names."""

from lxml import etree

from app.workflow import definitions

BPMN = f"{{{definitions.BPMN_NS}}}"


def local(node) -> str:
    """An element's tag without its namespace ('' for comments and processing instructions)."""
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def parse(xml: str | bytes, filename: str = ""):
    """The document's root; DeploymentRefused for one that cannot be read (malformed, a DOCTYPE, not BPMN)."""
    return definitions.parse_bpmn(xml.encode("utf-8") if isinstance(xml, str) else xml, filename)
