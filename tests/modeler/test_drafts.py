"""Drafts: saved with their findings, refused when unreadable, deployed as the next version in one commit,
and only by process owners. Findings name the BPMN element at fault."""

import io

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.modeler.models import ProcessDraft
from app.workflow.models import ProcessDefinition
from tests.support import csrf_token, login

ORDER = "order_process"


@pytest.fixture
def order_xml(deployed) -> str:
    return deployed[ORDER].bpmn_xml


@pytest.fixture
def owner(client, make_user, deployed):
    make_user("olga", "process_owner")
    login(client, "olga")
    return client


def _token(client) -> str:
    return csrf_token(client.get("/processes").text)


def _save(client, xml: str, key: str = ORDER):
    return client.post(f"/processes/{key}/draft", json={"xml": xml}, headers={"X-CSRFToken": _token(client)})


def _deploy(client, comment: str = "a change", key: str = ORDER):
    return client.post(f"/processes/{key}/deploy", json={"comment": comment}, headers={"X-CSRFToken": _token(client)})


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _renamed(xml: str, name: str = "Review the order (v2)") -> str:
    return xml.replace('name="Review order"', f'name="{name}"', 1)


def _unknown_operation(xml: str) -> str:
    return xml.replace('<spiffworkflow:serviceTaskOperator id="reserve_stock"',
                       '<spiffworkflow:serviceTaskOperator id="no_such_operation"', 1)


def _unquoted_timer(xml: str) -> str:
    return xml.replace("<bpmn:timeDate>sla_late('clarify_order')</bpmn:timeDate>",
                       "<bpmn:timeDuration>PT1H</bpmn:timeDuration>", 1)


def _element_of(xml: str, marker: str) -> str:
    """The id of the BPMN element whose start tag comes last before `marker`."""
    head = xml[:xml.index(marker)]
    position = max(head.rfind("<bpmn:serviceTask "), head.rfind("<bpmn:boundaryEvent "),
                   head.rfind("<bpmn:intermediateCatchEvent "), head.rfind("<bpmn:userTask "))
    return head[position:].split('id="', 1)[1].split('"', 1)[0]


def test_a_draft_with_errors_is_saved_with_them_named_by_element(owner, order_xml, ctx):
    changed = _unknown_operation(order_xml)
    response = _save(owner, changed)
    assert response.status_code == 200
    body = response.get_json()
    assert body["saved"] is True
    unknown = [e for e in body["errors"] if "no_such_operation" in e["message"]]
    assert unknown and unknown[0]["element_id"] == _element_of(changed, 'id="no_such_operation"')
    draft = db.session.scalar(select(ProcessDraft))
    assert draft.bpmn_xml == changed and draft.updated_by == "olga" and draft.base_version == 1
    assert _deploy(owner).status_code == 422
    assert _count(ProcessDefinition) == 2  # the shipped two, nothing more


def test_an_unquoted_timer_is_an_error_on_that_timer(owner, order_xml):
    changed = _unquoted_timer(order_xml)
    errors = _save(owner, changed).get_json()["errors"]
    timer_errors = [e for e in errors if "must be quoted" in e["message"]]
    assert timer_errors and timer_errors[0]["element_id"] == _element_of(changed, ">PT1H<")


def test_a_clean_draft_deploys_as_the_next_version_and_the_draft_is_gone(owner, order_xml, ctx):
    assert _save(owner, _renamed(order_xml)).get_json()["errors"] == []
    response = _deploy(owner, "review task renamed")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["version"] == 2
    newest = db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == ORDER,
                                                               ProcessDefinition.version == 2))
    assert newest.comment == "review task renamed" and newest.deployed_by == "olga"
    assert 'name="Review the order (v2)"' in newest.bpmn_xml
    assert _count(ProcessDraft) == 0


def test_deploying_needs_a_draft_a_change_and_a_comment(owner, order_xml):
    assert _deploy(owner).status_code == 409  # no draft
    _save(owner, order_xml)
    assert _deploy(owner).status_code == 409  # same as version 1
    _save(owner, _renamed(order_xml))
    response = _deploy(owner, "   ")
    assert response.status_code == 422 and "comment" in response.get_json()["errors"][0]["message"]


def test_a_dead_end_and_an_unknown_message_are_errors(owner, order_xml):
    # The receipt task loses its way out, and waits for a message nobody sends.
    start = order_xml.index('<bpmn:sequenceFlow id="', order_xml.index('sourceRef="goods_received"') - 200)
    flow = order_xml[start:order_xml.index(">", order_xml.index('sourceRef="goods_received"')) + 1]
    changed = order_xml.replace(flow, "").replace('name="goods_received"', 'name="goods_teleported"')
    errors = _save(owner, changed).get_json()["errors"]
    on_receipt = [e["message"] for e in errors if e["element_id"] == "goods_received"]
    assert any("nothing follows" in m for m in on_receipt)
    assert any("goods_teleported" in m and "never sends" in m for m in on_receipt)


def test_a_sandbox_escape_in_a_script_is_refused_at_validation(owner, order_xml):
    escape = "x = ().__class__.__base__.__subclasses__()"
    changed = order_xml.replace("<bpmn:script>clarify_round += 1</bpmn:script>", f"<bpmn:script>{escape}</bpmn:script>")
    errors = _save(owner, changed).get_json()["errors"]
    assert any(e["element_id"] == "count_clarification" and "refused" in e["message"] for e in errors)
    assert _deploy(owner).status_code == 422


def test_an_unreadable_draft_is_not_saved(owner, order_xml, ctx):
    entity = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    doctype = '<?xml version="1.0"?>' + entity + order_xml.split("?>", 1)[1]
    for xml, status in ((doctype, 422), ("<bpmn:definitions", 422), ("not xml at all", 422)):
        response = _save(owner, xml)
        assert response.status_code == status and response.get_json()["saved"] is False
    response = _save(owner, order_xml.replace('id="order_process"', 'id="other_process"'))
    assert response.status_code == 422 and "other_process" in response.get_json()["errors"][0]["message"]
    assert _save(owner, "").status_code == 400
    assert owner.post(f"/processes/{ORDER}/draft", data="{", content_type="application/json",
                      headers={"X-CSRFToken": _token(owner)}).status_code == 400
    assert _count(ProcessDraft) == 0


def test_a_draft_over_the_size_limit_is_refused(owner, order_xml, ctx):
    ctx.config["MAX_BPMN_BYTES"] = len(order_xml.encode()) - 1
    response = _save(owner, order_xml)
    assert response.status_code == 413 and response.get_json()["saved"] is False
    ctx.config["MAX_BPMN_BYTES"] = 1000
    huge = _save(owner, order_xml * 2)  # beyond the request limit too
    assert huge.status_code == 413
    assert _count(ProcessDraft) == 0


def test_a_version_deployed_meanwhile_is_a_warning(owner, order_xml, ctx):
    from app.workflow.deployment import deploy

    _save(owner, _renamed(order_xml))
    deploy(_renamed(order_xml, "Someone else's review"), "order_process.bpmn", by="rita", comment="elsewhere")
    warnings = owner.get(f"/processes/{ORDER}/draft.json").get_json()["warnings"]
    assert any("version 2 was deployed by rita" in w["message"] for w in warnings)


def test_without_the_csrf_token_nothing_is_saved(owner, order_xml, ctx):
    response = owner.post(f"/processes/{ORDER}/draft", json={"xml": order_xml})
    assert response.status_code == 400
    assert _count(ProcessDraft) == 0


@pytest.mark.parametrize("role", ["manager", "warehouse", "order_desk"])
def test_only_process_owners_edit_and_deploy(client, make_user, deployed, order_xml, role, ctx):
    make_user("someone", role)
    login(client, "someone")
    token = _token(client)
    assert client.get(f"/processes/{ORDER}/edit").status_code == 403
    assert client.get(f"/processes/{ORDER}/draft.json").status_code == 403
    assert client.post(f"/processes/{ORDER}/draft", json={"xml": order_xml},
                       headers={"X-CSRFToken": token}).status_code == 403
    assert client.post(f"/processes/{ORDER}/deploy", json={"comment": "x"},
                       headers={"X-CSRFToken": token}).status_code == 403
    upload = client.post("/processes/upload", data={"csrf_token": token,
                                                     "file": (io.BytesIO(order_xml.encode()), "o.bpmn")})
    assert upload.status_code == 403
    assert client.get("/processes/modeler/catalog.json").status_code == 403
    assert _count(ProcessDraft) == 0


def test_the_modeler_shows_the_newest_version_until_there_is_a_draft(owner, order_xml):
    data = owner.get(f"/processes/{ORDER}/draft.json").get_json()
    assert data["source"] == "deployed" and data["xml"] == order_xml and data["latest_version"] == 1
    _save(owner, _renamed(order_xml))
    data = owner.get(f"/processes/{ORDER}/draft.json").get_json()
    assert data["source"] == "draft" and "Review the order (v2)" in data["xml"] and data["updated_by"] == "olga"
    assert owner.get("/processes/nothing_here/draft.json").status_code == 404


def test_discarding_a_draft_keeps_the_deployed_version(owner, order_xml, ctx):
    _save(owner, _renamed(order_xml))
    response = owner.post(f"/processes/{ORDER}/draft/discard", data={"csrf_token": _token(owner)})
    assert response.status_code == 302
    assert _count(ProcessDraft) == 0 and _count(ProcessDefinition) == 2
    assert owner.post(f"/processes/{ORDER}/draft/discard", data={"csrf_token": _token(owner)}).status_code == 404


def test_the_catalog_offers_roles_forms_operations_and_messages(owner):
    catalog = owner.get("/processes/modeler/catalog.json").get_json()
    assert {"id": "warehouse", "label": "warehouse"} in catalog["roles"]
    assert {"key": "pick_goods", "title": "Pick"} in catalog["forms"]
    reserve = next(o for o in catalog["operations"] if o["name"] == "reserve_stock")
    assert reserve["params"] == [{"name": "order_number", "required": True, "default": None}]
    assert "goods_received" in [m["name"] for m in catalog["messages"]]
    assert any(h["example"] == '"PT4H"' for h in catalog["timer_helpers"])


def test_instructions_preview_is_safe_markdown(owner):
    response = owner.post("/processes/modeler/preview", headers={"X-CSRFToken": _token(owner)},
                          json={"markdown": "**Check** the <script>alert(1)</script> [x](javascript:alert(1))"})
    html = response.get_json()["html"]
    assert "<strong>Check</strong>" in html
    assert "<script>" not in html and 'href="javascript' not in html


def test_a_save_over_someone_elses_newer_save_is_refused(owner, order_xml, ctx):
    opened = owner.get(f"/processes/{ORDER}/draft.json").get_json()
    assert opened["source"] == "deployed"
    first = owner.post(f"/processes/{ORDER}/draft", headers={"X-CSRFToken": _token(owner)},
                       json={"xml": _renamed(order_xml, "First"), "draft_updated_at": None})
    assert first.status_code == 200
    # A second editor that also opened the deployed version now saves: refused, the first save stays.
    second = owner.post(f"/processes/{ORDER}/draft", headers={"X-CSRFToken": _token(owner)},
                        json={"xml": _renamed(order_xml, "Second"), "draft_updated_at": None})
    assert second.status_code == 409 and "saved this draft" in second.get_json()["error"]
    assert 'name="First"' in db.session.scalar(select(ProcessDraft.bpmn_xml))
    # The first editor goes on from its own save.
    again = owner.post(f"/processes/{ORDER}/draft", headers={"X-CSRFToken": _token(owner)},
                       json={"xml": _renamed(order_xml, "Third"), "draft_updated_at": first.get_json()["updated_at"]})
    assert again.status_code == 200


def test_text_that_is_not_unicode_or_has_no_process_is_not_saved(owner, order_xml, ctx):
    assert _save(owner, order_xml.replace("Review order", "Review \ud800")).status_code == 422
    not_executable = order_xml.replace('isExecutable="true"', 'isExecutable="false"')
    assert _save(owner, not_executable, key="brand_new").status_code == 422
    assert _count(ProcessDraft) == 0


def test_instructions_render_as_markdown_without_raw_html():
    from app.web.markdown import render

    html = str(render("1. **Pick** the lines\n2. <b onclick=x>pack</b>\n\n[help](https://example.org)"))
    assert "<ol>" in html and "<strong>Pick</strong>" in html and '<a href="https://example.org">help</a>' in html
    assert "<b onclick" not in html and "&lt;b onclick=x&gt;" in html
