"""A second version of the shipped order process for the version pages: a step added after counting a
clarification round (drawn, in the order desk's lane), a task renamed, a condition changed, and a shape
moved, which changes nothing in the model."""

ADDED_TASK = "log_clarification"
ADDED_FLOW = "f_log_clarification_to_ask_customer"
# What comparing v1 (base) with the revision (other) finds: added ids, and changed ids with what changed.
ADDED = [ADDED_TASK, ADDED_FLOW]
CHANGED = {
    "lane_order_desk": ["flowNodeRef"],
    "review_order": ["name"],
    "f_count_clarification_to_ask_customer": ["targetRef"],
    "do_ask_customer": ["incoming"],
    "f_credit_gw_to_credit_review": ["condition"],
}


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the shipped order process no longer holds exactly one {old!r}"
    return text.replace(old, new)


def revised(xml: str) -> str:
    xml = _replace(xml, "<bpmn:flowNodeRef>count_clarification</bpmn:flowNodeRef>",
                   "<bpmn:flowNodeRef>count_clarification</bpmn:flowNodeRef>"
                   f"<bpmn:flowNodeRef>{ADDED_TASK}</bpmn:flowNodeRef>")
    xml = _replace(xml, 'sourceRef="count_clarification" targetRef="do_ask_customer"/>',
                   f'sourceRef="count_clarification" targetRef="{ADDED_TASK}"/>'
                   f'<bpmn:scriptTask id="{ADDED_TASK}" name="Log the clarification round">'
                   "<bpmn:script>clarification_logged = True</bpmn:script></bpmn:scriptTask>"
                   f'<bpmn:sequenceFlow id="{ADDED_FLOW}" sourceRef="{ADDED_TASK}" targetRef="do_ask_customer"/>')
    xml = _replace(xml, 'name="Review order"', 'name="Review the order"')
    xml = _replace(xml, "<bpmn:conditionExpression>not checks['credit']['ok']</bpmn:conditionExpression>",
                   "<bpmn:conditionExpression>not checks['credit'].get('ok', False)</bpmn:conditionExpression>")
    xml = _replace(xml, '<bpmndi:BPMNShape id="count_clarification_di" bpmnElement="count_clarification">',
                   f'<bpmndi:BPMNShape id="{ADDED_TASK}_di" bpmnElement="{ADDED_TASK}">'
                   '<dc:Bounds x="850" y="400" width="100" height="80"/></bpmndi:BPMNShape>'
                   f'<bpmndi:BPMNEdge id="{ADDED_FLOW}_di" bpmnElement="{ADDED_FLOW}">'
                   '<di:waypoint x="950" y="440"/><di:waypoint x="982" y="440"/><di:waypoint x="982" y="322"/>'
                   "</bpmndi:BPMNEdge>"
                   '<bpmndi:BPMNShape id="count_clarification_di" bpmnElement="count_clarification">')
    return _replace(xml, '<dc:Bounds x="1146" y="242" width="100" height="80"/>',
                    '<dc:Bounds x="1146" y="262" width="100" height="80"/>')  # Clarify with customer, moved
