"""Uploading a .bpmn file makes it the draft of the process it holds; what cannot be read is refused with
the reason and writes nothing."""

import io
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.modeler.models import ProcessDraft
from tests.modeler.test_foreign_bpmn import EXPECTED, FOREIGN, _ids_in
from tests.support import csrf_token, login


@pytest.fixture
def owner(client, make_user, deployed):
    make_user("olga", "process_owner")
    login(client, "olga")
    return client


def _upload(client, content: bytes, filename: str = "upload.bpmn"):
    token = csrf_token(client.get("/processes").text)
    return client.post("/processes/upload", data={"csrf_token": token, "file": (io.BytesIO(content), filename)})


def _drafts() -> int:
    return db.session.scalar(select(func.count()).select_from(ProcessDraft))


def test_an_uploaded_file_becomes_the_draft_of_its_process(owner, deployed, ctx):
    xml = deployed["order_process"].bpmn_xml.replace('name="Review order"', 'name="Review (uploaded)"', 1)
    response = _upload(owner, xml.encode(), "order_process.bpmn")
    assert response.status_code == 302 and response.headers["Location"].endswith("/processes/order_process/edit")
    draft = db.session.scalar(select(ProcessDraft))
    assert draft.key == "order_process" and "Review (uploaded)" in draft.bpmn_xml and draft.base_version == 1


def test_a_new_process_can_arrive_as_a_file(owner, ctx):
    from tests.engine import bpmn_factory as bf

    xml = bf.linear("returns_desk", bf.user("inspect", lane="warehouse", form_key="check_goods", name="Inspect"))
    response = _upload(owner, xml.encode(), "returns_desk.bpmn")
    assert response.status_code == 302
    assert owner.get("/processes/returns_desk/draft.json").get_json()["source"] == "draft"


@pytest.mark.parametrize(("content", "status", "reason"), [
    (b"", 400, "malformed XML"),
    (b"<html><body>not a diagram</body></html>", 400, "not a BPMN 2.0 document"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>', 400, "DOCTYPE"),
])
def test_an_unreadable_file_is_refused_with_the_reason(owner, content, status, reason, ctx):
    response = _upload(owner, content)
    assert response.status_code == status
    assert reason in response.text and "Nothing was changed" in response.text
    assert _drafts() == 0


def test_a_file_over_the_limit_is_refused(owner, deployed, ctx):
    xml = deployed["order_process"].bpmn_xml.encode()
    ctx.config["MAX_BPMN_BYTES"] = len(xml) - 1
    response = _upload(owner, xml)
    assert response.status_code == 413 and "limit" in response.text
    ctx.config["MAX_BPMN_BYTES"] = 10_000
    assert _upload(owner, xml).status_code == 413  # beyond the request limit: refused before it is read
    assert _drafts() == 0


def test_an_upload_without_a_file_says_so(owner):
    token = csrf_token(owner.get("/processes").text)
    response = owner.post("/processes/upload", data={"csrf_token": token})
    assert response.status_code == 400 and "Choose a .bpmn file" in response.text


def test_a_process_owner_finds_drafts_and_the_upload_form_on_the_processes_page(owner, ctx):
    from tests.engine import bpmn_factory as bf

    page = owner.get("/processes").text
    assert "No draft is being edited" in page and 'action="/processes/upload"' in page
    _upload(owner, bf.linear("returns_desk", bf.user("inspect", lane="warehouse", name="Inspect")).encode())
    page = owner.get("/processes").text
    assert 'href="/processes/returns_desk/edit"' in page and "a new process" in page


@pytest.mark.parametrize("filename", sorted(p.name for p in FOREIGN.glob("*.bpmn")))
def test_a_file_from_another_modeler_is_taken_and_deployed_or_refused_naming_elements(owner, filename, ctx):
    """Through the pages a process owner uses: upload, then deploy. Never a server error; every finding
    names an element the file has, or none when it is about the file as a whole."""
    content = (FOREIGN / filename).read_bytes()
    uploaded = _upload(owner, content, filename)
    assert uploaded.status_code in (302, 400), uploaded.status_code
    if uploaded.status_code == 400:
        assert EXPECTED[filename][0] == "refused" and "Nothing was changed" in uploaded.text
        assert _drafts() == 0
        return
    ids = _ids_in(content)
    key = unquote(uploaded.headers["Location"].split("/processes/", 1)[1].rsplit("/edit", 1)[0])
    findings = owner.get(f"/processes/{quote(key, safe='')}/draft.json").get_json()
    for problem in findings["errors"] + findings["warnings"]:
        assert problem["message"] and (problem["element_id"] == "" or problem["element_id"] in ids), problem
    token = csrf_token(owner.get("/processes").text)
    deployed = owner.post(f"/processes/{quote(key, safe='')}/deploy", json={"comment": f"from {filename}"},
                          headers={"X-CSRFToken": token})
    assert deployed.status_code in (200, 422), deployed.status_code
    if deployed.status_code == 200:
        assert EXPECTED[filename][0] == "deploys"
    else:
        errors = deployed.get_json()["errors"]
        assert errors and all(e["message"] and (e["element_id"] == "" or e["element_id"] in ids) for e in errors)
        assert _drafts() == 1  # the draft stays to be fixed; nothing was deployed
