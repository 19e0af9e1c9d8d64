"""The version pages of a process: the history (who, when, why, instances per version), each version's BPMN
as a download, and two versions (or the draft) compared, as a page and as JSON. Managers, process owners
and admins only; anything that cannot be answered is a clear 400 or 404, never a server error."""

import re
from html import unescape

import pytest

from app.accounts.roles import ADMIN, ALL, MANAGER, PROCESS_OWNER
from app.extensions import db
from app.modeler.models import ProcessDraft
from app.workflow import runtime
from app.workflow.deployment import deploy
from tests.engine import bpmn_factory as bf
from tests.modeler import order_variants
from tests.support import login

READERS = (MANAGER, PROCESS_OWNER, ADMIN)
PAGES = ("/processes/order_process/versions", "/processes/order_process/versions/1.bpmn",
         "/processes/order_process/diff?base=1&other=2", "/processes/order_process/diff.json?base=1&other=2")


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


@pytest.fixture
def two_versions(deployed):
    """order_process v1 as shipped and v2 revised by a process owner."""
    revised = order_variants.revised(deployed["order_process"].bpmn_xml)
    v2 = deploy(revised, "order_process.bpmn", by="olga", comment="log each clarification round")
    assert v2.version == 2
    return deployed["order_process"], v2


@pytest.fixture
def as_role(app, make_user):
    """A client logged in as a new user holding the role (one per test: the test's app context keeps the
    logged-in user)."""
    def log_in(role: str):
        client = app.test_client()
        make_user(f"user_{role}", role)
        login(client, f"user_{role}")
        return client

    return log_in


def _draft(key: str, xml: str) -> ProcessDraft:
    draft = ProcessDraft(key=key, name="Customer order", filename=f"{key}.bpmn", bpmn_xml=xml, base_version=2,
                         created_by="olga", updated_by="olga")
    db.session.add(draft)
    db.session.commit()
    return draft


@pytest.mark.parametrize("role", ALL)
def test_only_managers_process_owners_and_admins(as_role, two_versions, role):
    client = as_role(role)
    for url in PAGES:
        assert client.get(url).status_code == (200 if role in READERS else 403), url


def test_nobody_logged_in_is_sent_to_log_in(client, two_versions):
    for url in (*PAGES, "/processes/order_process/draft.bpmn"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_version_downloads_as_its_bpmn_file(as_role, two_versions):
    v1, v2 = two_versions
    client = as_role(MANAGER)
    response = client.get("/processes/order_process/versions/2.bpmn")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == v2.bpmn_xml
    assert response.headers["Content-Type"].split(";")[0] == "application/xml"
    assert response.headers["Content-Disposition"] == "attachment; filename=order_process-v2.bpmn"
    assert client.get("/processes/order_process/versions/1.bpmn").get_data(as_text=True) == v1.bpmn_xml
    assert client.get("/processes/order_process/versions/3.bpmn").status_code == 404
    assert client.get("/processes/no_such_process/versions/1.bpmn").status_code == 404


def test_the_draft_downloads_for_process_owners(as_role, two_versions):
    owner = as_role(PROCESS_OWNER)
    assert owner.get("/processes/order_process/draft.bpmn").status_code == 404  # none yet
    _draft("order_process", two_versions[1].bpmn_xml.replace("Review the order", "Review it"))
    response = owner.get("/processes/order_process/draft.bpmn")
    assert response.status_code == 200 and "Review it" in response.get_data(as_text=True)
    assert response.headers["Content-Disposition"] == "attachment; filename=order_process-draft.bpmn"


@pytest.mark.parametrize("role", ALL)
def test_only_process_owners_and_admins_download_the_draft(as_role, two_versions, role):
    _draft("order_process", two_versions[1].bpmn_xml)
    response = as_role(role).get("/processes/order_process/draft.bpmn")
    assert response.status_code == (200 if role in (PROCESS_OWNER, ADMIN) else 403)


def test_the_comparison_of_two_versions_as_json(as_role, two_versions):
    v1, v2 = two_versions
    data = as_role(MANAGER).get("/processes/order_process/diff.json?base=1&other=2").get_json()
    assert data["base"] == {"version": 1, "xml": v1.bpmn_xml}
    assert data["other"] == {"version": 2, "xml": v2.bpmn_xml}
    assert [e["id"] for e in data["added"]] == order_variants.ADDED
    assert data["added"][0] == {"id": "log_clarification", "name": "Log the clarification round", "kind": "scriptTask"}
    assert data["removed"] == []
    assert {c["id"]: c["what"] for c in data["changed"]} == order_variants.CHANGED  # the moved shape is no change
    review = next(c for c in data["changed"] if c["id"] == "review_order")
    assert review == {"id": "review_order", "name": "Review the order", "kind": "userTask", "what": ["name"]}


def test_the_other_way_round_the_step_is_removed(as_role, two_versions):
    data = as_role(PROCESS_OWNER).get("/processes/order_process/diff.json?base=2&other=1").get_json()
    assert data["added"] == [] and [e["id"] for e in data["removed"]] == order_variants.ADDED
    assert data["base"]["version"] == 2 and data["other"]["version"] == 1


def test_a_version_against_itself(as_role, two_versions):
    client = as_role(PROCESS_OWNER)
    data = client.get("/processes/order_process/diff.json?base=2&other=2").get_json()
    assert data["added"] == data["removed"] == data["changed"] == []
    page = text(client.get("/processes/order_process/diff?base=2&other=2").text)
    assert "v2 says the same as v2: no element was added, removed or changed" in page


def test_the_draft_against_the_latest_version(as_role, two_versions):
    _draft("order_process", two_versions[1].bpmn_xml.replace('name="Ask the customer"', 'name="Write to them"'))
    client = as_role(MANAGER)
    data = client.get("/processes/order_process/diff.json?base=2&other=draft").get_json()
    assert data["other"]["version"] == "draft"
    assert data["changed"] == [{"id": "do_ask_customer", "name": "Write to them", "kind": "serviceTask",
                                "what": ["name"]}]
    page = client.get("/processes/order_process/diff?base=2&other=draft")
    assert page.status_code == 200 and "draft, saved by olga at" in text(page.text)


def test_the_comparison_page_lists_the_changes(as_role, two_versions):
    response = as_role(MANAGER).get("/processes/order_process/diff?base=1&other=2")
    assert response.status_code == 200
    html = response.text
    rows = dict(re.findall(r'<tr data-element-id="([\w-]+)" data-change="(\w+)">', html))
    assert rows == {**dict.fromkeys(order_variants.ADDED, "added"), **dict.fromkeys(order_variants.CHANGED, "changed")}
    row = re.search(r'<tr data-element-id="review_order".*?</tr>', html, re.S).group(0)
    assert 'data-diff-element="review_order"' in row
    assert text(row) == "Review the order review_order userTask changed name"
    condition = text(re.search(r'<tr data-element-id="f_credit_gw_to_credit_review".*?</tr>', html, re.S).group(0))
    assert condition.endswith("changed condition")
    assert 'data-diff-url="/processes/order_process/diff.json?base=1&amp;other=2"' in html
    assert "js/version_diff.js" in html and "bpmn-navigated-viewer.production.min.js" in html
    page = text(html)
    assert "Against v1, v2 adds 2, removes 0 and changes 5 elements." in page
    assert "deployed by olga at" in page and "deployed by system at" in page


@pytest.mark.parametrize(("query", "status", "message"), [
    ("base=1&other=99", 404, "The process “order_process” has no version 99."),
    ("base=0&other=1", 404, "The process “order_process” has no version 0."),
    ("base=one&other=2", 400, "“one” is not a version number."),
    ("base=1&other=-2", 400, "“-2” is not a version number."),
    ("base=1&other=99999999999", 400, "“99999999999” is not a version number."),
    ("other=2", 400, "Choose two versions to compare (base and other)."),
    ("base=1&other=draft", 404, "There is no draft of “order_process”."),
])
def test_versions_that_cannot_be_compared(as_role, two_versions, query, status, message):
    client = as_role(MANAGER)
    answer = client.get(f"/processes/order_process/diff.json?{query}")
    assert answer.status_code == status and answer.get_json()["message"] == message
    page = client.get(f"/processes/order_process/diff?{query}")
    assert page.status_code == status and message in unescape(page.text)


def test_an_unknown_process(as_role, two_versions):
    client = as_role(MANAGER)
    answer = client.get("/processes/no_such_process/diff.json?base=1&other=2")
    assert answer.status_code == 404
    assert answer.get_json()["message"] == "No process “no_such_process” has been deployed."
    assert client.get("/processes/no_such_process/versions").status_code == 404


def test_the_history_of_a_process(as_role, ctx):
    deploy(bf.linear("sb_versions", bf.timer("wait", '"PT1H"')), "sb_versions.bpmn", by="olga", comment="first")
    runtime.start("sb_versions", "A-1")
    runtime.start("sb_versions", "A-2")
    deploy(bf.linear("sb_versions", bf.timer("wait", '"PT2H"')), "sb_versions.bpmn", by="pete", comment="longer wait")
    runtime.start("sb_versions", "A-3")
    response = as_role(MANAGER).get("/processes/sb_versions/versions")
    assert response.status_code == 200
    rows = {version: text(row) for version, row in
            re.findall(r'<tr data-version="(\d+)">(.*?)</tr>', response.text, re.S)}
    assert list(rows) == ["2", "1"]  # newest first
    assert re.fullmatch(r"v2 deployed pete \d{4}-\d\d-\d\d \d\d:\d\d longer wait 1 sb_versions-v2.bpmn", rows["2"])
    assert re.fullmatch(r"v1 deployed olga \d{4}-\d\d-\d\d \d\d:\d\d first 2 sb_versions-v1.bpmn", rows["1"])
    assert 'href="/processes/sb_versions/versions/1.bpmn"' in response.text
    # the comparison form offers every version, the previous against the newest by default
    assert re.search(r'<select name="base">.*<option value="1" selected>v1</option>', response.text, re.S)
    assert re.search(r'<select name="other">.*<option value="2" selected>v2</option>', response.text, re.S)
    assert 'action="/processes/upload"' not in response.text  # managers read; process owners change


def test_process_owners_see_the_draft_and_may_upload(as_role, two_versions):
    _draft("order_process", two_versions[1].bpmn_xml)
    response = as_role(PROCESS_OWNER).get("/processes/order_process/versions")
    html = unescape(response.text)
    assert "Saved by olga at" in text(html) and "started from version 2" in text(html)
    assert 'href="/processes/order_process/diff?base=2&other=draft"' in html
    assert 'href="/processes/order_process/edit"' in html and 'href="/processes/order_process/draft.bpmn"' in html
    upload = re.search(r'<form method="post" action="/processes/upload".*?</form>', html, re.S).group(0)
    assert 'name="csrf_token"' in upload and 'type="file" name="file" accept=".bpmn' in upload
    assert '<option value="draft">' in html


def test_a_process_known_only_as_a_draft(as_role, ctx):
    _draft("returns_desk", bf.linear("returns_desk", bf.script("work", "done = True")))
    response = as_role(PROCESS_OWNER).get("/processes/returns_desk/versions")
    assert response.status_code == 200
    assert "No version of this process has been deployed yet." in text(response.text)


def test_the_processes_page_links_each_process_once(as_role, two_versions):
    html = as_role(MANAGER).get("/processes").text
    assert html.count('href="/processes/order_process/versions"') == 1
    assert html.count('href="/processes/exception_handling/versions"') == 1
    assert 'href="/processes/order_process/heatmap"' in html  # the heat map's own link is untouched
