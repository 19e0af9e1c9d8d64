"""BPMN files drawn with other modelers (tests/bpmn/foreign/): each one deploys and runs, or is refused with
problems that name the element at fault (an element the file really has) or, for what is wrong with the file
as a whole, no element at all. Nothing else ever escapes, and a refusal writes nothing."""

from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from app.extensions import db
from app.workflow import DeploymentRefused, definitions, deployment, runtime
from app.workflow.errors import Problem
from app.workflow.models import ProcessDefinition

FOREIGN = Path(__file__).parents[1] / "bpmn" / "foreign"
FILE = ""  # a refusal about the file as a whole names no element

# filename → ("deploys", process key) or ("refused", element a problem names or FILE, words that problem says)
EXPECTED = {
    "activiti_leave_request.bpmn": ("refused", "flow4", "the condition is not Python: ${!approved} is JUEL"),
    "artifacts_and_data.bpmn": ("deploys", "Process_billing_run"),
    "billion_laughs.bpmn": ("refused", FILE, "DOCTYPE or entity declaration"),
    "bizagi_purchase_request.bpmn": ("refused", "Id_c0ffee01-0000-4a00-9000-000000000012",
                                     "a task without a type is done by a person, so it must sit in a lane"),
    "bpmn1_xpdl_package.bpmn": ("refused", FILE, "not a BPMN 2.0 document"),
    "bpmnio_coloured.bpmn": ("deploys", "Process_0b3qjz1"),
    "bpmnio_pasted_message_event.bpmn": ("refused", "Event_paid", "refers to message 'Message_3h1v9q0', which this "
                                                                  "file does not define"),
    "call_activity_unknown_process.bpmn": ("refused", "Activity_kyc", "calls process 'kyc_check_v3'"),
    "camunda7_conditional_juel.bpmn": ("refused", "Event_stock_arrived", "the condition is not Python"),
    "camunda7_decision_and_timer.bpmn": ("refused", "Event_wait_pickup", "the timer is not Python: ${pickupDelay}"),
    "camunda7_groovy_script.bpmn": ("refused", "Activity_discount",
                                    "the script is not Python: it is written in groovy"),
    "camunda7_invoice_approval.bpmn": ("refused", "Flow_big", "the condition is not Python: ${amount > 100} is JUEL"),
    "camunda7_plain_steps.bpmn": ("refused", "Activity_unload", "must sit in a lane"),
    "chorjs_choreography.bpmn": ("refused", FILE, "exactly one executable top-level process (found: none)"),
    "collaboration_three_pools.bpmn": ("deploys", "Process_shop"),
    "conversation_with_process.bpmn": ("deploys", "supplier_process"),
    "data_store_ledger.bpmn": ("refused", "DataStoreReference_ledger", "data stores are not supported"),
    "default_namespace_no_prefix.bpmn": ("deploys", "stock_check"),
    "dmn_decision_table.bpmn": ("refused", FILE, "not a BPMN 2.0 document"),
    "doctype_declared.bpmn": ("refused", FILE, "DOCTYPE or entity declaration"),
    "duplicate_ids_copy_paste.bpmn": ("refused", "Activity_1", "the id is used by 2 elements"),
    "empty.bpmn": ("refused", FILE, "malformed XML"),
    "escalation_signal_conditional.bpmn": ("deploys", "Process_events"),
    "event_subprocess_error.bpmn": ("deploys", "Process_reserve_goods"),
    "external_entity.bpmn": ("refused", FILE, "DOCTYPE or entity declaration"),
    "flowable_python_script.bpmn": ("deploys", "parcelWeight"),
    "html_fragment_no_doctype.bpmn": ("refused", FILE, "not a BPMN 2.0 document: html_fragment_no_doctype.bpmn is an "
                                                       "HTML page"),
    "html_login_page.bpmn": ("refused", FILE, "is an HTML page"),
    "multi_instance_parcels.bpmn": ("deploys", "Process_label_parcels"),
    "no_diagram_generated.bpmn": ("deploys", "nightly_tidy"),
    "non_executable_sketch.bpmn": ("refused", "Process_1wz3k8d", 'marked as not executable (isExecutable="false")'),
    "odd_process_id_spaces_quotes.bpmn": ("refused", "customer's order/v2 [draft]", "cannot name a process"),
    "odd_process_id_unicode.bpmn": ("deploys", "Bestellprüfung-v2.1_ÄÖÜ"),
    "schema_misordered_children.bpmn": ("refused", "_3", "Element 'bpmn:documentation': This element is not expected"),
    "signavio_complaint.bpmn": ("refused", "sid-8d2a6f40-1c9b-4f55-a1e3-2b7c9d0e4f62", "marked as not executable"),
    "spiffarena_http_connector.bpmn": ("refused", "Activity_get_rates", "unknown operation 'http/GetRequestV2'"),
    "spiffarena_order_review.bpmn": ("deploys", "Process_order_review_x8k2p1q"),
    "transaction_compensation.bpmn": ("refused", "Event_hotel_compensation", "compensation is not supported"),
    "trisotech_semantic_prefix.bpmn": ("deploys", "handle_return"),
    "truncated_download.bpmn": ("refused", FILE, "malformed XML"),
    "utf16_encoded.bpmn": ("refused", FILE, "must be encoded as UTF-8"),
    "utf8_with_bom.bpmn": ("deploys", "Process_notepad_saved"),
    "zeebe_order_fulfilment.bpmn": ("refused", "Activity_charge", "zeebe:taskDefinition is for another engine"),
}
# What each file does, for tests elsewhere (the upload page) that only need the outcome.
OUTCOMES = {filename: expected[0] for filename, expected in EXPECTED.items()}


def _definitions() -> int:
    return db.session.scalar(select(func.count(ProcessDefinition.id)))


def _ids_in(content: bytes) -> set[str]:
    """Every id the file holds, read without resolving anything it declares."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=True)
    root = etree.fromstring(content, parser)
    return {element.get("id") for element in root.iter() if isinstance(element.tag, str) and element.get("id")}


def _assert_well_formed(problem: Problem, content: bytes) -> None:
    assert isinstance(problem.message, str) and problem.message.strip()
    assert isinstance(problem.element_name, str)
    assert problem.line is None or (isinstance(problem.line, int) and problem.line > 0)
    if problem.element_id:
        assert problem.element_id in _ids_in(content), f"{problem.element_id!r} is not an id of the file"
    assert "Traceback" not in problem.message and "{http" not in problem.message


def test_every_file_in_the_corpus_has_an_expected_outcome():
    assert sorted(path.name for path in FOREIGN.glob("*.bpmn")) == sorted(EXPECTED)


@pytest.mark.parametrize("filename", sorted(EXPECTED))
def test_a_foreign_file_deploys_or_is_refused_naming_what_is_wrong(ctx, filename):
    content = (FOREIGN / filename).read_bytes()
    outcome, *details = EXPECTED[filename]
    before = _definitions()
    try:
        definition = deployment.deploy(content, filename, by="tests")
    except DeploymentRefused as refused:
        assert outcome == "refused", f"{filename} was refused: {refused}"
        assert refused.problems
        for problem in refused.problems:
            _assert_well_formed(problem, content)
        element_id, words = details
        if element_id == FILE:
            assert all(problem.element_id == "" for problem in refused.problems), str(refused)
        assert any(problem.element_id == element_id and words in problem.message for problem in refused.problems), (
            f"no problem names {element_id!r} saying {words!r}: {[str(p) for p in refused.problems]}")
        assert "root:" not in str(refused)  # nothing of /etc/passwd, whatever the file asked for
        db.session.expire_all()
        assert _definitions() == before
        return
    assert outcome == "deploys", f"{filename} deployed as {definition.key}"
    assert (definition.key, definition.version, _definitions()) == (details[0], 1, before + 1)
    assert definition.bpmn_xml.startswith("<?xml")  # stored without a byte order mark
    instance = runtime.start(definition.key, f"FOREIGN-{filename[:20]}")
    assert (instance.status, instance.error) in {("completed", None), ("running", None)}


def test_a_camunda_file_is_refused_for_each_thing_only_camunda_runs_at_once(ctx):
    # Camunda 7: two JUEL conditions and a Java expression, each named where it is drawn, all at once.
    error = pytest.raises(DeploymentRefused, deployment.deploy,
                          (FOREIGN / "camunda7_invoice_approval.bpmn").read_bytes(), "invoice.bpmn").value
    assert [(p.element_id, p.line) for p in error.problems] == [("Flow_big", 13), ("Flow_small", 16),
                                                                 ("Activity_book", 23)]
    assert error.problems[1].message.startswith("the condition is not Python: ${amount <= 100} is JUEL")
    assert "camunda:expression is for another engine" in error.problems[2].message


def test_a_file_over_the_size_limit_is_refused_and_writes_nothing(ctx):
    content = (FOREIGN / "bpmnio_coloured.bpmn").read_bytes()
    ctx.config["MAX_BPMN_BYTES"] = len(content) - 1
    with pytest.raises(DeploymentRefused) as refused:
        deployment.deploy(content, "bpmnio_coloured.bpmn")
    [problem] = refused.value.problems
    assert problem.element_id == "" and problem.message == (
        f"the file is {len(content)} bytes; the limit is {len(content) - 1}")
    db.session.expire_all()
    assert _definitions() == 0


def test_a_file_padded_beyond_the_default_limit_is_refused_before_it_is_parsed(ctx):
    content = (FOREIGN / "bpmnio_coloured.bpmn").read_bytes()
    padded = content.replace(b"<bpmn:process", b"<!--" + b"x" * ctx.config["MAX_BPMN_BYTES"] + b"-->\n<bpmn:process")
    with pytest.raises(DeploymentRefused) as refused:
        deployment.deploy(padded, "padded.bpmn")
    assert "the limit is" in refused.value.problems[0].message
    db.session.expire_all()
    assert _definitions() == 0


@pytest.mark.parametrize(("trips_on", "element_id", "message"), [
    ("scriptTask", "Activity_0ru8p4n", "the engine could not read this scriptTask: KeyError: 'value'"),
    (None, "", "the engine could not read the file: KeyError: 'value'"),
])
def test_whatever_the_parser_trips_over_is_a_refusal_naming_the_element_it_was_reading(
        ctx, monkeypatch, trips_on, element_id, message):
    class TrippingParser(definitions.SpiffBpmnParser):
        def add_bpmn_xml(self, bpmn, filename=None):
            node = bpmn.find(f".//{{*}}{trips_on}") if trips_on else None  # noqa: F841 - what a parser frame holds
            raise KeyError("value")

    monkeypatch.setattr(definitions, "_new_parser", lambda: TrippingParser(validator=definitions.VALIDATOR))
    with pytest.raises(DeploymentRefused) as refused:
        deployment.deploy((FOREIGN / "bpmnio_coloured.bpmn").read_bytes(), "bpmnio_coloured.bpmn")
    [problem] = refused.value.problems
    assert (problem.element_id, problem.message) == (element_id, message)
    db.session.expire_all()
    assert _definitions() == 0
