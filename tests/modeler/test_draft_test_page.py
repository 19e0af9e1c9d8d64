"""The draft test page: process owners only; a scenario that is not one is refused before anything runs;
a run shows where it stopped, its steps and the path drawn on the diagram."""

import base64
import html
import json
import re

import pytest

from app.extensions import db
from app.modeler import simulate
from app.modeler.models import ProcessDraft
from tests.modeler.scenarios import happy
from tests.support import csrf_token, login

URL = "/processes/order_process/test"


@pytest.fixture
def owner(client, make_user, deployed):
    make_user("olga", "process_owner")
    login(client, "olga")
    return client


def _post(client, scenario_text: str):
    token = csrf_token(client.get(URL).text)
    return client.post(URL, data={"scenario": scenario_text, "csrf_token": token})


def _drawn(page: str) -> dict:
    """What the page hands diagram.js: the data: URL's JSON (XML and marks)."""
    match = re.search(r'data-diagram-url="data:application/json;base64,([^"]+)"', page)
    assert match, "the page draws no diagram"
    return json.loads(base64.b64decode(html.unescape(match.group(1))))


@pytest.mark.parametrize("role", ["order_desk", "manager", "warehouse"])
def test_only_process_owners_may_test(client, make_user, deployed, role):
    make_user("pat", role)
    login(client, "pat")

    assert client.get(URL).status_code == 403
    token = csrf_token(client.get("/processes").text)
    assert client.post(URL, data={"scenario": "{}", "csrf_token": token}).status_code == 403


def test_login_is_needed(client, deployed):
    assert client.get(URL).status_code == 302


def test_an_unknown_process_is_not_found(owner):
    assert owner.get("/processes/no_such_process/test").status_code == 404


def test_the_form_starts_from_a_skeleton_of_the_newest_version_when_there_is_no_draft(owner):
    page = owner.get(URL)

    assert page.status_code == 200
    assert "There is no draft: runs version 1, the newest deployed." in page.text
    textarea = re.search(r'<textarea name="scenario"[^>]*>(.*?)</textarea>', page.text, re.S).group(1)
    skeleton = json.loads(html.unescape(textarea))
    assert skeleton["answers"]["review_order"] == {"approved": True, "review_note": ""}
    assert "do_check_intake" in skeleton["results"]
    assert _drawn(page.text)["completed"] == []


def _save_draft(xml: str) -> None:
    db.session.add(ProcessDraft(key="order_process", name="Customer order", filename="order_process.bpmn",
                                bpmn_xml=xml, base_version=1, created_by="olga", updated_by="olga"))
    db.session.commit()


def test_bad_json_is_refused_with_the_reason_and_nothing_runs(owner, monkeypatch):
    monkeypatch.setattr(simulate, "run", lambda *a, **k: pytest.fail("a refused scenario must not run"))

    response = _post(owner, '{"answers": ')

    assert response.status_code == 400
    assert "the scenario is not valid JSON" in response.text
    assert "Nothing was run." in response.text
    assert "{&#34;answers&#34;: </textarea>" in response.text  # the text is kept for fixing

    response = _post(owner, '{"data": {"x": ' + "1" * 5000 + "}}")  # more digits than Python converts
    assert response.status_code == 400 and "the scenario is not valid JSON" in response.text


def test_a_scenario_that_does_not_fit_the_diagram_is_refused(owner, monkeypatch):
    monkeypatch.setattr(simulate, "run", lambda *a, **k: pytest.fail("a refused scenario must not run"))

    response = _post(owner, json.dumps({"answers": {"review_order": {"approved": "yes"}}, "timer": []}))
    assert response.status_code == 400
    assert "does not have the expected shape" in response.text

    response = _post(owner, json.dumps({"answers": {"review_order": {"approved": "yes"}}}))
    assert response.status_code == 400
    assert "answers/review_order: approved: &#39;yes&#39; is not of type &#39;boolean&#39;" in response.text


def test_a_run_shows_where_it_stopped_its_steps_and_its_path(owner):
    response = _post(owner, json.dumps(happy()))

    assert response.status_code == 200
    assert 'data-status="waiting"' in response.text
    assert "waiting for the message <code>goods_received</code>" in response.text
    assert 'data-element="do_confirm_order"' in response.text
    assert "Would call <code>confirm_order</code>" in response.text
    drawn = _drawn(response.text)
    assert drawn["xml"].startswith("<?xml")
    assert {"review_order", "do_ship_order"} <= set(drawn["completed"])
    assert "f_approved_gw_to_confirm_order" in drawn["flows"]
    assert "goods_received" in drawn["current"]


def test_the_draft_is_what_runs_when_there_is_one(owner, deployed):
    changed = deployed["order_process"].bpmn_xml.replace(
        "<bpmn:conditionExpression>approved</bpmn:conditionExpression>",
        "<bpmn:conditionExpression>not approved</bpmn:conditionExpression>")
    _save_draft(changed)

    response = _post(owner, json.dumps(happy()))

    assert "Runs the draft, saved by olga" in response.text
    drawn = _drawn(response.text)
    assert "f_rejected" in drawn["flows"] and "negotiate_order" in drawn["current"]


def test_a_draft_deploying_would_refuse_is_not_run(owner, deployed):
    _save_draft(deployed["order_process"].bpmn_xml.replace(
        '<spiffworkflow:serviceTaskOperator id="reserve_stock"', '<spiffworkflow:serviceTaskOperator id="nope"', 1))

    assert "unknown operation &#39;nope&#39;" in owner.get(URL).text
    response = owner.post(URL, data={"scenario": "{}", "csrf_token": csrf_token(owner.get("/processes").text)})
    assert response.status_code == 422
    assert "The draft cannot run" in response.text


def _with_first_script(xml: str, code: str) -> str:
    old = "<bpmn:script>clarify_round = 0\nreview_round = 0</bpmn:script>"
    assert xml.count(old) == 1
    return xml.replace(old, f"<bpmn:script>{code}</bpmn:script>")


def test_a_script_error_is_shown_with_its_element(owner, deployed):
    _save_draft(_with_first_script(deployed["order_process"].bpmn_xml, "clarify_round = missing_name"))

    response = _post(owner, json.dumps(happy()))

    assert 'data-status="error"' in response.text
    assert "Stopped by an error at Start counting rounds <code>init_counters</code>" in response.text
    assert _drawn(response.text)["errored"] == ["init_counters"]


def test_a_run_that_takes_too_long_is_stopped(owner, app, deployed):
    app.config["DRAFT_TEST_SECONDS"] = 1
    _save_draft(_with_first_script(deployed["order_process"].bpmn_xml, "while True:\n    pass"))

    response = _post(owner, json.dumps(happy()))

    assert 'data-status="timeout"' in response.text
    assert "Stopped: the run took longer than 1 s." in response.text
