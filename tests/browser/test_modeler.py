"""In real Chromium, the process modeler (bpmn-js served by Orderly, the page's own properties panel):
a process owner adds a user task to the order process with the canvas's own context pad, gives it a form
in the panel, saves and deploys it, and the next order puts that task in the lane's inbox; an invalid
change is listed after saving and each entry leads to its element; saving the order process unchanged
keeps every SpiffWorkflow extension; and the page is for process owners only."""

import re
from collections import Counter
from decimal import Decimal

import pytest
from flask import current_app
from lxml import etree
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.catalog.models import Product
from app.customers.models import Customer
from app.extensions import db
from app.modeler.models import ProcessDraft
from app.orders.intake import place_order
from app.orders.service import LineInput
from app.web import markdown
from app.workflow import definitions
from app.workflow.models import HumanTask, ProcessDefinition

pytestmark = pytest.mark.browser

PASSWORD = "secret-pass"  # make_user's default
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()


def watch(page: Page, base: str) -> list[str]:
    """What goes wrong in the page from here on: script errors, errors on the console, foreign requests."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("request", lambda request: None if request.url.startswith(base) else problems.append(request.url))
    return problems


def open_modeler(page: Page, base: str, key: str = "order_process") -> None:
    page.goto(f"{base}/processes/{key}/edit")
    expect(page.locator("#modeler")).to_have_attribute("data-state", "ready")


def shape(page: Page, element_id: str):
    return page.locator(f'#modeler-canvas g.djs-element[data-element-id="{element_id}"]')


def selected_id(page: Page) -> str:
    ids = page.evaluate("() => window.orderlyModeler.get('selection').get().map(element => element.id)")
    assert len(ids) == 1, ids
    return ids[0]


def show(page: Page, element_id: str) -> None:
    """Zoom to where a person can click the element, and click it."""
    page.evaluate("""(id) => {
        const canvas = window.orderlyModeler.get('canvas');
        canvas.zoom(1);
        canvas.scrollToElement(window.orderlyModeler.get('elementRegistry').get(id));
    }""", element_id)
    shape(page, element_id).click()


def context_pad(page: Page, action: str) -> None:
    page.locator(f'.djs-context-pad .entry[data-action="{action}"]').click()


def change_into(page: Page, replacement: str) -> None:
    """The context pad's wrench: change the selected element into another kind."""
    context_pad(page, "replace")
    page.locator(f'.djs-popup .entry[data-id="{replacement}"]').click()


def save(page: Page) -> None:
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved")


def fresh_draft(key: str) -> ProcessDraft:
    db.session.expire_all()
    return db.session.scalars(select(ProcessDraft).where(ProcessDraft.key == key)).one()


def lane_of(xml: str, element_id: str) -> str:
    root = etree.fromstring(xml.encode())
    refs = root.xpath("//bpmn:lane[bpmn:flowNodeRef=$id]/@name", namespaces={"bpmn": BPMN}, id=element_id)
    assert len(refs) == 1, refs
    return refs[0]


def test_a_user_task_drawn_and_deployed_reaches_its_lanes_inbox(live_server, page, make_user, deployed):
    make_user("olive", "process_owner")
    make_user("dora", "order_desk")
    db.session.add_all([
        Customer(code="HARBOUR", name="Harbour Tools Ltd", contact_name="Pat Buyer", email="ap@harbour.example",
                 shipping_address="1 Harbour Road", credit_limit=Decimal("100000"), payment_terms_days=30),
        Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=1000),
    ])
    db.session.commit()
    log_in(page, live_server, "olive")
    problems = watch(page, live_server)
    open_modeler(page, live_server)
    expect(page.locator("[data-source]")).to_contain_text("Version 1")
    expect(page.get_by_role("button", name="Deploy…")).to_be_disabled()  # nothing changed yet

    # From the start event: a new task, made a user task, followed by an end event.
    show(page, "start")
    context_pad(page, "append.append-task")
    task_id = selected_id(page)
    change_into(page, "replace-with-user-task")
    assert selected_id(page) == task_id  # bpmn-js keeps the id when it changes the kind
    panel = page.locator("[data-panel]")
    expect(panel.locator("h3")).to_have_text(f"User task {task_id}")
    expect(panel.get_by_label("ID")).to_have_value(task_id)
    panel.get_by_label("Name").fill("Welcome call")
    panel.get_by_label("Name").press("Tab")
    panel.get_by_label("Form").select_option("follow_up")
    panel.get_by_label("Instructions for the person doing the task").fill("Call the **customer** to say thanks.")
    panel.get_by_role("button", name="Preview").click()
    expect(panel.locator("[data-preview] strong")).to_have_text("customer")  # the server's rendering
    context_pad(page, "append.end-event")
    expect(page.locator("[data-save-state]")).to_have_text("Unsaved changes")

    save(page)
    expect(page.locator("[data-problem-count]")).to_contain_text("0 errors")
    expect(page.locator("#modeler")).to_have_attribute("data-errors", "0")
    expect(page.locator("[data-source]")).to_contain_text("Draft saved by olive")
    draft = fresh_draft("order_process")
    assert lane_of(draft.bpmn_xml, task_id) == "order_desk"
    assert '<spiffworkflow:property name="formKey" value="follow_up"' in draft.bpmn_xml

    page.get_by_role("button", name="Deploy…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("What does this version change?").fill("Thank the customer for every order")
    dialog.get_by_role("button", name="Deploy", exact=True).click()
    page.wait_for_url(f"{live_server}/processes/order_process/versions")
    expect(page.get_by_role("status")).to_contain_text("Version 2")
    log_out(page)

    db.session.expire_all()
    version = definitions.latest("order_process")
    assert (version.version, version.comment, version.deployed_by) == (2, "Thank the customer for every order", "olive")
    assert db.session.scalar(select(ProcessDraft).where(ProcessDraft.key == "order_process")) is None

    order = place_order("HARBOUR", "phone", [LineInput("BOLT-M8", 4)], entered_by="dora")
    task = db.session.scalars(select(HumanTask).where(HumanTask.element_id == task_id)).one()
    assert (task.business_key, task.role, task.form_key, task.state) == (
        order.number, "order_desk", "follow_up", "open")
    assert "<strong>customer</strong>" in markdown.render(task.instructions)

    log_in(page, live_server, "dora")
    page.goto(f"{live_server}/inbox?queue=team")
    row = page.get_by_role("row").filter(has_text=order.number).filter(
        has=page.get_by_role("link", name="Welcome call", exact=True))
    expect(row).to_have_count(1)
    assert problems == []


def test_an_invalid_change_is_listed_and_each_entry_leads_to_its_element(live_server, page, make_user, deployed):
    make_user("olive", "process_owner")
    log_in(page, live_server, "olive")
    problems = watch(page, live_server)
    open_modeler(page, live_server)

    # A service task calling an operation Orderly does not have, then a timer waiting "PT1H" unquoted.
    show(page, "start")
    context_pad(page, "append.append-task")
    change_into(page, "replace-with-service-task")
    service_id = selected_id(page)
    page.locator("[data-panel]").get_by_label("Operation").select_option("check_intake")
    # The panel offers only the operations Orderly has; a file from elsewhere may name any other.
    page.evaluate("""(id) => {
        const modeler = window.orderlyModeler;
        const task = modeler.get('elementRegistry').get(id);
        const operator = task.businessObject.extensionElements.values[0];
        modeler.get('modeling').updateModdleProperties(task, operator, { id: 'fax_the_customer' });
    }""", service_id)
    expect(page.get_by_label("Operation")).to_have_value("fax_the_customer")
    expect(page.get_by_label("Operation").locator("option:checked")).to_have_text(
        "fax_the_customer (no such operation)")
    context_pad(page, "append.intermediate-event")
    change_into(page, "replace-with-timer-intermediate-catch")
    timer_id = selected_id(page)
    panel = page.locator("[data-panel]")
    expect(panel.get_by_label("Kind of timer")).to_have_value("timeDuration")
    expect(panel).to_contain_text('quote an ISO value, e.g. "PT4H"')
    panel.get_by_label("Timer expression (Python)").fill("PT1H")
    panel.get_by_label("Timer expression (Python)").press("Tab")
    context_pad(page, "append.end-event")

    save(page)  # saved with its errors: they only block deploying
    errors = page.locator("[data-problems] li.error")
    expect(errors).to_have_count(2)
    expect(page.locator("[data-problem-count]")).to_contain_text("2 errors")
    service_error = errors.filter(has=page.locator(f'button[data-element-id="{service_id}"]'))
    timer_error = errors.filter(has=page.locator(f'button[data-element-id="{timer_id}"]'))
    expect(service_error).to_contain_text("unknown operation 'fax_the_customer'")
    expect(timer_error).to_contain_text("must be quoted")
    expect(page.get_by_role("button", name="Deploy…")).to_be_disabled()
    for element_id in (service_id, timer_id):
        expect(shape(page, element_id)).to_have_class(_classes("has-error"))
    assert "PT1H</bpmn:timeDuration>" in fresh_draft("order_process").bpmn_xml

    timer_error.get_by_role("button").click()
    assert selected_id(page) == timer_id
    expect(shape(page, timer_id)).to_have_class(_classes("selected"))
    expect(page.locator("[data-panel] h3")).to_have_text(f"Intermediate catch event {timer_id}")
    expect(page.locator("[data-panel]").get_by_label("Timer expression (Python)")).to_have_value("PT1H")

    service_error.get_by_role("button").click()
    assert selected_id(page) == service_id
    expect(shape(page, service_id)).to_have_class(_classes("selected"))
    expect(shape(page, timer_id)).not_to_have_class(_classes("selected"))
    expect(page.locator("[data-panel] h3")).to_have_text(f"Service task {service_id}")
    assert problems == []


def _classes(name: str):
    return re.compile(rf"(^|\s){name}(\s|$)")


def _extension_counts(xml: str) -> Counter:
    root = etree.fromstring(xml.encode())
    return Counter(etree.QName(node).localname for node in root.iter(f"{{{SPIFF}}}*"))


def _meaning(xml: str) -> dict:
    """What the engine reads from each element: its kind, lane, extensions, scripts, event, where it leads
    and on what condition."""
    _key, _name, (spec, subprocesses), _called = definitions.validate(
        xml, "order_process.bpmn", current_app.extensions["orderly.operations"], current_app.config["MAX_BPMN_BYTES"])
    meaning = {}
    for process in [spec, *subprocesses.values()]:
        for name, task_spec in process.task_specs.items():
            event = getattr(task_spec, "event_definition", None)
            conditions = [(condition.args[0] if condition else None, target)
                          for condition, target in getattr(task_spec, "cond_task_specs", [])]
            meaning[(process.name, name)] = (
                type(task_spec).__name__, getattr(task_spec, "lane", None), getattr(task_spec, "extensions", None),
                getattr(task_spec, "script", None), getattr(task_spec, "prescript", None),
                getattr(task_spec, "postscript", None), type(event).__name__ if event else None,
                getattr(event, "name", None), getattr(event, "expression", None), getattr(event, "variable", None),
                sorted(output.name for output in task_spec.outputs), conditions,
            )
    return meaning


def test_saving_the_order_process_unchanged_keeps_every_extension(live_server, page, make_user, deployed):
    make_user("olive", "process_owner")
    log_in(page, live_server, "olive")
    problems = watch(page, live_server)
    open_modeler(page, live_server)
    save(page)
    expect(page.locator("[data-problem-count]")).to_contain_text("0 errors")

    original = db.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == "order_process")).one()
    saved = fresh_draft("order_process").bpmn_xml
    assert saved != original.bpmn_xml  # written anew by bpmn-js, not sent back as it came
    counts = _extension_counts(saved)
    assert counts == _extension_counts(original.bpmn_xml)
    assert counts["serviceTaskOperator"] > 50 and counts["messageVariable"] > 5 and counts["property"] > 5
    assert _meaning(saved) == _meaning(original.bpmn_xml)
    assert problems == []


def pick(page: Page, element_id: str) -> None:
    """Select an element as clicking it would (many of the order process's shapes are small at any zoom)."""
    page.evaluate("""(id) => {
        const modeler = window.orderlyModeler;
        modeler.get('selection').select(modeler.get('elementRegistry').get(id));
    }""", element_id)
    expect(page.locator("[data-panel] h3 code")).to_have_text(element_id)


def test_the_panel_shows_and_changes_what_the_engine_runs(live_server, page, make_user, deployed):
    make_user("olive", "process_owner")
    log_in(page, live_server, "olive")
    problems = watch(page, live_server)
    open_modeler(page, live_server)
    panel = page.locator("[data-panel]")

    pick(page, "lane_credit")
    expect(panel.get_by_label("Role of the lane")).to_have_value("credit")
    panel.get_by_label("Role of the lane").select_option("finance")

    pick(page, "review_order")
    expect(panel.get_by_label("Form")).to_have_value("review_order")
    expect(panel.get_by_label("Instructions for the person doing the task")).to_have_value(
        re.compile("^Check the results"))

    pick(page, "count_clarification")
    expect(panel.get_by_label("Script (Python)")).to_have_value("clarify_round += 1")

    pick(page, "do_ask_customer")
    expect(panel.get_by_label("Operation")).to_have_value("ask_customer")
    expect(panel.get_by_label("Result variable")).to_have_value("clarification")
    expect(panel.get_by_label("missing *")).to_have_value("intake['missing']")
    panel.get_by_label("Script before the task (Python)").fill("asked = True")
    panel.get_by_label("Script before the task (Python)").press("Tab")

    pick(page, "f_credit_gw_to_credit_review")
    expect(panel.get_by_label("Condition (Python)")).to_have_value("not checks['credit']['ok']")
    panel.get_by_label("Condition (Python)").fill("not checks['credit']['ok'] or order_total > 50000")
    panel.get_by_label("Condition (Python)").press("Tab")
    expect(panel.get_by_label("Default flow: taken when no condition is true")).not_to_be_checked()
    pick(page, "f_intake_incomplete")
    expect(panel.get_by_label("Default flow: taken when no condition is true")).to_be_checked()
    pick(page, "intake_gw")
    expect(panel.get_by_label("Default flow")).to_have_value("f_intake_incomplete")
    panel.get_by_label("Default flow").select_option("f_intake_gw_to_review_checks")
    pick(page, "f_intake_incomplete")
    expect(panel.get_by_label("Default flow: taken when no condition is true")).not_to_be_checked()
    pick(page, "f_intake_gw_to_review_checks")  # bpmn-js drops the condition of a flow made the default
    expect(panel.get_by_label("Default flow: taken when no condition is true")).to_be_checked()
    expect(panel.get_by_label("Condition (Python)")).to_have_value("")

    pick(page, "review_order_breached_long")
    expect(panel.get_by_label("Kind of timer")).to_have_value("timeDate")
    expect(panel.get_by_label("Timer expression (Python)")).to_have_value("sla_late('review_order')")
    expect(panel.get_by_label("Interrupting: the activity stops when the event happens")).not_to_be_checked()
    panel.get_by_role("button", name='in_duration("PT4H")').click()
    expect(panel.get_by_label("Timer expression (Python)")).to_have_value('in_duration("PT4H")')
    panel.get_by_label("Interrupting: the activity stops when the event happens").check()

    pick(page, "review_order_changed")
    expect(panel.get_by_label("Message name")).to_have_value("order_changed")
    pick(page, "goods_received")
    expect(panel.get_by_label("Message name")).to_have_value("goods_received")
    panel.get_by_label("Message name").fill("delivery_confirmed")
    panel.get_by_label("Message name").press("Tab")

    save(page)
    root = etree.fromstring(fresh_draft("order_process").bpmn_xml.encode())
    ns = {"bpmn": BPMN, "spiffworkflow": SPIFF}

    def one(path: str) -> str:
        found = root.xpath(path, namespaces=ns)
        assert len(found) == 1, (path, found)
        return found[0]

    assert one("//bpmn:lane[@id='lane_credit']/@name") == "finance"
    assert one("//bpmn:serviceTask[@id='do_ask_customer']//spiffworkflow:preScript/text()") == "asked = True"
    assert one("//bpmn:sequenceFlow[@id='f_credit_gw_to_credit_review']/bpmn:conditionExpression/text()") == (
        "not checks['credit']['ok'] or order_total > 50000")
    assert not root.xpath("//bpmn:sequenceFlow[@id='f_intake_gw_to_review_checks']/bpmn:conditionExpression",
                          namespaces=ns)
    assert one("//bpmn:exclusiveGateway[@id='intake_gw']/@default") == "f_intake_gw_to_review_checks"
    assert one("//bpmn:boundaryEvent[@id='review_order_breached_long']//bpmn:timeDate/text()") == (
        'in_duration("PT4H")')
    assert root.xpath("//bpmn:boundaryEvent[@id='review_order_breached_long']/@cancelActivity",
                      namespaces=ns) in ([], ["true"])  # interrupting, which is what no attribute means
    message_id = one("//bpmn:message[@name='delivery_confirmed']/@id")
    assert one("//bpmn:receiveTask[@id='goods_received']/@messageRef") == message_id
    assert one("//bpmn:message[@name='goods_received']/@id") == "msg_goods_received"  # left as it was
    assert problems == []


def test_download_undo_discard_and_leaving_with_unsaved_changes(live_server, page, make_user, deployed):
    make_user("olive", "process_owner")
    log_in(page, live_server, "olive")
    problems = watch(page, live_server)
    open_modeler(page, live_server)
    expect(page.get_by_role("button", name="Discard draft")).to_be_hidden()  # there is no draft yet
    expect(page.get_by_role("link", name="Version history")).to_have_attribute(
        "href", "/processes/order_process/versions")

    panel = page.locator("[data-panel]")  # nothing selected: the process itself
    expect(panel.locator("h3")).to_have_text("Process order_process")
    panel.get_by_label("Name").fill("Customer order, revised")
    panel.get_by_label("Name").press("Tab")
    expect(page.locator("[data-save-state]")).to_have_text("Unsaved changes")
    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Download .bpmn").click()
    assert downloaded.value.suggested_filename == "order_process.bpmn"
    with open(downloaded.value.path(), encoding="utf-8") as file:
        content = file.read()
    assert 'name="Customer order, revised"' in content and "<spiffworkflow:serviceTaskOperator" in content

    save(page)
    assert fresh_draft("order_process").name == "Customer order, revised"
    page.get_by_role("button", name="Undo").click()  # one step: the rename
    expect(panel.get_by_label("Name")).to_have_value("Customer order")
    expect(page.locator("[data-save-state]")).to_have_text("Unsaved changes")

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Discard draft").click()
    expect(page).to_have_url(f"{live_server}/processes/order_process/edit")
    assert fresh_draft("order_process") is not None
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Discard draft").click()
    page.wait_for_url(f"{live_server}/processes/order_process/versions")
    assert asked == ["Discard the draft? Its changes are lost; the deployed version stays as it is."]
    db.session.expire_all()
    assert db.session.scalar(select(ProcessDraft).where(ProcessDraft.key == "order_process")) is None

    open_modeler(page, live_server)
    page.locator("[data-panel]").get_by_label("Name").fill("Another name")
    page.locator("[data-panel]").get_by_label("Name").press("Tab")
    leaving = []
    page.once("dialog", lambda dialog: (leaving.append(dialog.type), dialog.dismiss()))
    page.close(run_before_unload=True)
    expect(page.locator("#modeler")).to_be_visible()  # the person chose to stay
    assert leaving == ["beforeunload"]
    assert problems == []


@pytest.mark.parametrize("path", ["/processes/order_process/edit", "/processes/order_process/draft.json",
                                  "/processes/modeler/catalog.json"])
def test_a_warehouse_user_may_not_model(live_server, page, make_user, deployed, path):
    make_user("wes", "warehouse")
    log_in(page, live_server, "wes")
    response = page.goto(f"{live_server}{path}")
    assert response.status == 403
