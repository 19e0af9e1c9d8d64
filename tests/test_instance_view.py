"""The instance page for managers, process owners and admins: the diagram of the version the instance
runs with the failed task marked, the data it carries, what each task was completed with, and an
admin sending it one of the messages it waits for."""

import json
import re

import pytest
from sqlalchemy import select

from app.accounts.roles import ALL
from app.extensions import db
from app.workflow import runtime
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance
from tests.engine import bpmn_factory as bf
from tests.support import csrf_token, login

READERS = ("manager", "process_owner", "admin")


def _waiting_process(key: str = "sb_msgs") -> str:
    """start → fork → the user task `work` (an interrupting boundary message `recall`) · the receive
    task `await_goods` (`goods_in`, into `goods`) · the catch event `await_payment` (`payment_in`)
    → join → end; an event subprocess starts on `stop`."""
    nodes = [
        bf.start(), bf.parallel("fork"), bf.user("work", name="Work"),
        bf.Node("recall", '<bpmn:boundaryEvent id="recall" attachedToRef="work" cancelActivity="true">'
                          '<bpmn:messageEventDefinition id="recall_def" messageRef="msg_recall"/>'
                          '</bpmn:boundaryEvent>'),
        bf.end("recalled"),
        bf.Node("await_goods", '<bpmn:receiveTask id="await_goods" name="Await goods" messageRef="msg_goods">'
                               '<bpmn:extensionElements><spiffworkflow:messageVariable>goods'
                               '</spiffworkflow:messageVariable></bpmn:extensionElements></bpmn:receiveTask>'),
        bf.script("goods_noted", "goods_seen = True"),
        bf.Node("await_payment", '<bpmn:intermediateCatchEvent id="await_payment"><bpmn:messageEventDefinition '
                                 'id="payment_def" messageRef="msg_payment"/></bpmn:intermediateCatchEvent>'),
        bf.parallel("join"), bf.end(),
        bf.Node("stopped", '<bpmn:subProcess id="stopped" triggeredByEvent="true">'
                           '<bpmn:startEvent id="stop_requested"><bpmn:messageEventDefinition id="stop_def" '
                           'messageRef="msg_stop"/></bpmn:startEvent><bpmn:endEvent id="stop_end"/>'
                           '<bpmn:sequenceFlow id="f_stop" sourceRef="stop_requested" targetRef="stop_end"/>'
                           '</bpmn:subProcess>'),
    ]
    pairs = [("start", "fork"), ("fork", "work"), ("work", "join"), ("recall", "recalled"),
             ("fork", "await_goods"), ("await_goods", "goods_noted"), ("goods_noted", "join"),
             ("fork", "await_payment"), ("await_payment", "join"), ("join", "end")]
    messages = "".join(f'<bpmn:message id="msg_{name}" name="{name}_in"/>' for name in ("goods", "payment")) + (
        '<bpmn:message id="msg_recall" name="recall"/><bpmn:message id="msg_stop" name="stop"/>')
    return bf.document(messages, bf.process(key, nodes, [bf.flow(*pair) for pair in pairs]), doc_id=key)


@pytest.fixture
def waiting(ctx):
    bf.deploy(_waiting_process())
    return runtime.start("sb_msgs", "MSG-1", {"order_number": "MSG-1", "lines": [{"sku": "A", "qty": 2}]})


@pytest.fixture
def failed(ctx):
    bf.deploy(bf.linear("sb_fail", bf.script("prepare", "ready = True"),
                        bf.script("split", "share = total / parts", name="Split the total")))
    instance = runtime.start("sb_fail", "ERR-1", {"total": 100, "parts": 0})
    assert bf.reload(instance).status == "error"
    return instance


def _state(instance) -> tuple[str, int, int]:
    """What a refused request must leave alone: status, version and number of audit rows."""
    db.session.expire_all()
    row = db.session.get(ProcessInstance, instance.id)
    count = len(db.session.scalars(select(InstanceEvent.id).where(InstanceEvent.instance_id == instance.id)).all())
    return row.status, row.lock_version, count


def _options(html: str) -> list[str]:
    form = html[html.index('id="message-name"'):html.index("</select>")]
    return re.findall(r'<option value="([^"]+)"', form)


def _send(client, instance, name: str, payload: str = "", follow: bool = False):
    page = client.get(f"/instances/{instance.id}")
    return client.post(f"/instances/{instance.id}/message",
                       data={"csrf_token": csrf_token(page.text), "name": name, "payload": payload},
                       follow_redirects=follow)


# --- who may see and do what ----------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL)
def test_page_and_diagram_are_for_managers_process_owners_and_admins(client, make_user, waiting, role):
    make_user("someone", role)
    login(client, "someone")
    allowed = role in READERS
    for url in (f"/instances/{waiting.id}", f"/instances/{waiting.id}/diagram.json"):
        assert client.get(url).status_code == (200 if allowed else 403), url


def test_warehouse_user_is_refused_the_diagram(client, make_user, failed):
    make_user("wes", "warehouse")
    login(client, "wes")
    response = client.get(f"/instances/{failed.id}/diagram.json")
    assert response.status_code == 403 and "xml" not in response.text


@pytest.mark.parametrize("role", [r for r in ALL if r != "admin"])
def test_only_admins_send_messages(client, make_user, waiting, role):
    make_user("someone", role)
    login(client, "someone")
    before = _state(waiting)
    token = csrf_token(client.get("/processes").text)
    response = client.post(f"/instances/{waiting.id}/message", data={"csrf_token": token, "name": "goods_in"})
    assert response.status_code == 403
    assert _state(waiting) == before


def test_a_message_without_csrf_token_changes_nothing(client, make_user, waiting):
    make_user("root", "admin")
    login(client, "root")
    before = _state(waiting)
    assert client.post(f"/instances/{waiting.id}/message", data={"name": "goods_in"}).status_code == 400
    assert _state(waiting) == before


def test_unknown_instance_diagram_is_404(client, make_user, ctx):
    make_user("boss", "manager")
    login(client, "boss")
    assert client.get("/instances/999/diagram.json").status_code == 404


# --- the diagram --------------------------------------------------------------------------------

def test_manager_sees_the_failed_task_marked_as_errored(client, make_user, failed):
    make_user("boss", "manager")
    login(client, "boss")
    response = client.get(f"/instances/{failed.id}/diagram.json")
    assert response.status_code == 200
    data = response.get_json()
    assert data["errored"] == ["split"]
    assert "split" not in data["current"]  # red, not amber
    assert data["completed"] == ["prepare", "start"]
    assert data["xml"] == failed.definition.bpmn_xml
    assert data["instance"] == {"id": failed.id, "process": "sb_fail", "version": 1, "status": "error"}


def test_the_diagram_is_of_the_version_the_instance_runs(client, make_user, failed):
    bf.deploy(bf.linear("sb_fail", bf.script("split", "share = 1")))  # version 2, after the instance started
    make_user("boss", "manager")
    login(client, "boss")
    data = client.get(f"/instances/{failed.id}/diagram.json").get_json()
    assert data["instance"]["version"] == 1 and 'id="prepare"' in data["xml"]
    page = client.get(f"/instances/{failed.id}")
    assert "sb_fail v1" in page.text and f'data-diagram-url="/instances/{failed.id}/diagram.json"' in page.text


def test_a_healthy_instance_has_nothing_errored(client, make_user, waiting):
    make_user("boss", "manager")
    login(client, "boss")
    data = client.get(f"/instances/{waiting.id}/diagram.json").get_json()
    assert data["errored"] == []
    assert {"work", "await_goods", "await_payment"} <= set(data["current"])


def test_the_version_links_to_its_history_when_that_page_exists(client, make_user, waiting, app):
    make_user("boss", "manager")
    login(client, "boss")
    page = client.get(f"/instances/{waiting.id}").text
    if "versions.history" in app.view_functions:
        assert 'href="/processes/sb_msgs/versions"' in page
    else:
        assert '<span class="instance-version">sb_msgs v1</span>' in page


# --- the data -----------------------------------------------------------------------------------

def test_the_page_shows_the_data_the_instance_carries_escaped(client, make_user, ctx):
    bf.deploy(bf.linear("sb_data", bf.user("work", name="Work")))
    instance = runtime.start("sb_data", "DATA-1", {"note": "<script>alert(1)</script>",
                                                   "lines": [{"sku": "A-1", "qty": 2}], "rush": True})
    make_user("boss", "manager")
    login(client, "boss")
    page = client.get(f"/instances/{instance.id}").text
    data = page[page.index('class="facts process-data"'):]
    data = data[:data.index("</dl>")]
    assert "<dt>note</dt><dd>&lt;script&gt;alert(1)&lt;/script&gt;</dd>" in data
    assert "<dt>rush</dt><dd>true</dd>" in data
    pretty = json.dumps([{"qty": 2, "sku": "A-1"}], indent=2).replace('"', "&#34;")
    assert f"<dt>lines</dt><dd><pre>{pretty}</pre></dd>" in data
    assert "<script>alert(1)" not in page


def test_a_task_row_shows_what_it_was_completed_with(client, make_user, ctx):
    bf.deploy(bf.linear("sb_two", bf.user("first", name="First"), bf.user("second", name="Second")))
    instance = runtime.start("sb_two", "TWO-1")
    first = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id))
    runtime.complete_task(instance.id, first.spiff_task_id, {}, actor="dana")
    # Forms keep only their declared fields; the audit row is what the page reads.
    event = db.session.scalar(select(InstanceEvent).where(InstanceEvent.kind == "task_completed"))
    event.detail = {"data": {"approved": True, "comment": "<b>fine</b>"}}
    db.session.commit()
    make_user("boss", "manager")
    login(client, "boss")
    page = client.get(f"/instances/{instance.id}").text
    row = next(r for r in page.split("<tr>") if "First" in r)
    assert "2 fields" in row and "<dt>comment</dt><dd>&lt;b&gt;fine&lt;/b&gt;</dd>" in row
    assert "<dt>approved</dt><dd>true</dd>" in row
    assert "fields" not in next(r for r in page.split("<tr>") if "Second" in r)


# --- sending a message ----------------------------------------------------------------------------

def test_admin_sees_the_messages_the_instance_waits_for(client, make_user, waiting):
    make_user("root", "admin")
    login(client, "root")
    page = client.get(f"/instances/{waiting.id}").text
    assert _options(page) == ["goods_in", "payment_in", "recall", "stop"]


def test_a_manager_sees_no_message_form(client, make_user, waiting):
    make_user("boss", "manager")
    login(client, "boss")
    assert 'id="message-name"' not in client.get(f"/instances/{waiting.id}").text


def test_admin_sends_a_message_and_the_instance_moves_on(client, make_user, waiting):
    make_user("root", "admin")
    login(client, "root")
    response = _send(client, waiting, "goods_in", '{"qty": 2, "note": "left at the gate"}')
    assert response.status_code == 302 and response.headers["Location"] == f"/instances/{waiting.id}"
    event = db.session.scalar(select(InstanceEvent).where(InstanceEvent.kind == "message_received"))
    assert (event.actor, event.detail) == ("root", {"message": "goods_in",
                                                    "payload": {"qty": 2, "note": "left at the gate"}})
    page = client.get(f"/instances/{waiting.id}").text
    assert "goods_in was delivered to MSG-1." in page
    assert _options(page) == ["payment_in", "recall", "stop"]
    assert "<dt>goods_seen</dt><dd>true</dd>" in page
    assert client.get(f"/instances/{waiting.id}/diagram.json").get_json()["completed"].count("await_goods") == 1


def test_an_empty_payload_is_an_empty_object(client, make_user, waiting):
    make_user("root", "admin")
    login(client, "root")
    assert _send(client, waiting, "payment_in").status_code == 302
    event = db.session.scalar(select(InstanceEvent).where(InstanceEvent.kind == "message_received"))
    assert event.detail == {"message": "payment_in", "payload": {}}


@pytest.mark.parametrize("payload, says", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('"text"', "must be a JSON object"),
    ('{"n": NaN}', "not valid JSON"),
    ('{"big": "' + "x" * 10_300 + '"}', "larger than 10 KB"),
    ('{"a": ' * 40 + "1" + "}" * 40, "nested too deeply"),
])
def test_a_bad_payload_is_a_form_error_and_changes_nothing(client, make_user, waiting, payload, says):
    make_user("root", "admin")
    login(client, "root")
    before = _state(waiting)
    response = _send(client, waiting, "goods_in", payload)
    assert response.status_code == 400
    assert says in response.text and "Nothing was sent" in response.text
    assert _state(waiting) == before
    assert 'aria-invalid="true"' in response.text  # the form is shown again, marked


def test_a_message_nobody_waits_for_gets_a_readable_error(client, make_user, waiting):
    make_user("root", "admin")
    login(client, "root")
    status, version, _count = _state(waiting)
    response = _send(client, waiting, "refund_approved", '{"amount": 5}')
    assert response.status_code == 409
    assert "refund_approved was not delivered: MSG-1 is not waiting for &#39;refund_approved&#39;" in response.text
    assert _state(waiting)[:2] == (status, version)  # refused: recorded, not delivered
    [refused] = db.session.scalars(select(InstanceEvent).where(InstanceEvent.kind == "message_refused")).all()
    assert refused.detail["message"] == "refund_approved"


def test_no_message_form_for_an_instance_in_error(client, make_user, failed):
    make_user("root", "admin")
    login(client, "root")
    page = client.get(f"/instances/{failed.id}").text
    assert 'id="message-name"' not in page and "Retry the failed task" in page
    response = _send(client, failed, "anything")
    assert response.status_code == 409 and "was not delivered" in response.text


# --- moving to the newest version ---------------------------------------------------------------

@pytest.fixture
def on_old_version(ctx):
    bf.deploy(bf.linear("sb_move", bf.user("first", name="First"), bf.user("second", name="Second")))
    instance = runtime.start("sb_move", "MOVE-1")
    return instance


def _move(client, instance, lock_version=None):
    page = client.get(f"/instances/{instance.id}")
    seen = bf.reload(instance).lock_version if lock_version is None else lock_version
    return client.post(f"/instances/{instance.id}/migrate",
                       data={"csrf_token": csrf_token(page.text), "lock_version": seen})


def test_the_newest_version_shows_no_move(client, make_user, on_old_version):
    make_user("root", "admin")
    login(client, "root")
    assert 'id="newest-version"' not in client.get(f"/instances/{on_old_version.id}").text


def test_admin_moves_a_compatible_instance_to_the_newest_version(client, make_user, on_old_version):
    bf.deploy(bf.linear("sb_move", bf.user("first", name="First step"), bf.user("second", name="Second")))
    make_user("root", "admin")
    login(client, "root")
    page = client.get(f"/instances/{on_old_version.id}").text
    assert "the newest is version 2" in page and "It can move to it." in page and "Move to version 2" in page
    response = _move(client, on_old_version)
    assert response.status_code == 302
    assert bf.reload(on_old_version).definition.version == 2
    [event] = bf.events(on_old_version.id, "migrated")
    assert (event.actor, event.detail["from_version"], event.detail["to_version"]) == ("root", 1, 2)
    page = client.get(f"/instances/{on_old_version.id}").text
    assert "MOVE-1 now runs version 2." in page and 'id="newest-version"' not in page and "First step" in page


def test_a_manager_sees_whether_it_can_move_but_may_not_move_it(client, make_user, on_old_version):
    bf.deploy(bf.linear("sb_move", bf.user("first"), bf.user("second")))
    make_user("boss", "manager")
    login(client, "boss")
    page = client.get(f"/instances/{on_old_version.id}").text
    assert "It can move to it." in page and "Move to version 2" not in page
    assert _move(client, on_old_version).status_code == 403
    assert bf.reload(on_old_version).definition.version == 1


def test_an_incompatible_version_says_why_and_refuses(client, make_user, on_old_version):
    bf.deploy(bf.linear("sb_move", bf.user("second", name="Second")))
    make_user("root", "admin")
    login(client, "root")
    page = client.get(f"/instances/{on_old_version.id}").text
    assert "It cannot move to it:" in page and "Move to version 2" not in page
    assert "&#39;First&#39; (first) is reached or done in this instance and is not in version 2" in page
    response = _move(client, on_old_version)
    assert response.status_code == 409 and "cannot move to version 2" in response.text
    assert bf.reload(on_old_version).definition.version == 1


def test_a_move_from_a_stale_page_is_refused(client, make_user, on_old_version):
    bf.deploy(bf.linear("sb_move", bf.user("first"), bf.user("second")))
    make_user("root", "admin")
    login(client, "root")
    stale = bf.reload(on_old_version).lock_version - 1
    response = _move(client, on_old_version, lock_version=stale)
    assert response.status_code == 409 and "changed by someone else" in response.text
    assert bf.reload(on_old_version).definition.version == 1
