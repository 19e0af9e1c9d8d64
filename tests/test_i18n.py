"""English and Simplified Chinese, chosen per user: what a zh user and an en user read on the inbox, a
task page with its form, and an order page; the account page that sets the language; the log-in page
following the browser; and the catalog itself, complete and up to date with every text in the sources."""

import re
from types import SimpleNamespace

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from app.accounts.service import create_user, find_by_username
from app.extensions import db
from app.workflow import runtime
from app.workflow.deployment import deploy_directory
from app.workflow.models import HumanTask
from tests.support import ROOT, csrf_token, login, simple_order

PO = ROOT / "app/translations/zh/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")
CJK = re.compile(r"[\u4e00-\u9fff]")
ZH_CN = "zh-CN,zh;q=0.9"
EN_US = "en-US,en;q=0.9"


# --- helpers ------------------------------------------------------------------------------------------


@pytest.fixture
def world(app):
    """The shipped diagrams deployed, two warehouse clerks (one reads Chinese) and an order whose
    review is done, so that its pick task waits in the warehouse's queue. Set up in an app context
    of its own, so that each request below starts afresh."""
    with app.app_context():
        deploy_directory(app.config["WORKFLOWS_DIR"])
        create_user("lin", "Lin Wei", "secret-pass", ["warehouse"]).locale = "zh"
        create_user("wendy", "Wendy Clerk", "secret-pass", ["warehouse"])
        order = simple_order()
        db.session.commit()
        instance = runtime.start("order_process", order.number, {"order_number": order.number}, actor="tester")
        review = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).one()
        runtime.complete_task(instance.id, review.spiff_task_id, {"approved": True}, actor="tester")
        pick = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                          HumanTask.state == "open")).one()
        assert pick.element_id == "pick_goods"
        db.session.refresh(order)
        world = SimpleNamespace(order=order.number, pick=pick.id, status=order.status)
        db.session.remove()
    return world


def locale_of(app, username: str) -> str:
    with app.app_context():
        locale = find_by_username(username).locale
        db.session.remove()
    return locale


def html_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)">', page)
    assert match, "the page has no <html lang>"
    return match.group(1)


def flashes(page: str) -> list[str]:
    return re.findall(r'<p class="flash [a-z]+" role="status">([^<]*)</p>', page)


# --- what each user reads -----------------------------------------------------------------------------


def test_a_zh_user_reads_the_inbox_the_task_and_the_order_in_chinese(app, client, world):
    login(client, "lin")

    inbox = client.get("/inbox").text
    assert html_lang(inbox) == "zh-Hans"
    assert "<h1>待办</h1>" in inbox and "我的团队" in inbox and "退出登录" in inbox
    assert f'<a href="/tasks/{world.pick}">拣货</a>' in inbox  # the BPMN task name, translated
    assert "<td>仓库</td>" in inbox  # the team, from the role code
    assert "认领" in inbox and "1 个任务" in inbox
    assert ">Pick<" not in inbox and "My team" not in inbox

    task = client.get(f"/tasks/{world.pick}").text
    assert "<h1>拣货 " in task
    assert "所有订单行均已拣货" in task  # the label of forms/pick_goods.json's field
    assert "按拣货单从仓库拣出每一行货物。" in task  # the instructions of the BPMN task
    assert "操作说明" in task and "完成任务" in task
    assert 'name="picked" value="true"' in task  # values are never translated
    assert "Every line is picked" not in task and "Complete task" not in task

    order = client.get(f"/orders/{world.order}").text
    assert "<dt>发货</dt>" in order and "<dt>付款</dt>" in order
    assert '<span class="status pending">待发货</span>' in order
    assert '<span class="status not_invoiced">未开票</span>' in order
    expected = {"confirmed": "已确认", "in_fulfilment": "履约中"}[world.status]
    assert f'<span class="status {world.status}">{expected}</span>' in order  # the code stays the CSS class
    assert "发给客户的消息" in order and "时间线" in order and "拣货" in order
    assert "not invoiced" not in order and "Messages to the customer" not in order


def test_an_en_user_reads_the_same_pages_in_english(client, world):
    login(client, "wendy")
    pages = [client.get("/inbox").text, client.get(f"/tasks/{world.pick}").text,
             client.get(f"/orders/{world.order}").text]
    for page in pages:
        assert html_lang(page) == "en"
        assert not CJK.search(page), CJK.search(page)
    inbox, task, order = pages
    assert f'<a href="/tasks/{world.pick}">Pick</a>' in inbox and "<td>warehouse</td>" in inbox
    assert "Every line is picked" in task and "Pick every line of the pick list from the warehouse." in task
    assert '<span class="status not_invoiced">not invoiced</span>' in order


def test_the_users_choice_beats_the_browsers(client, world):
    login(client, "lin")
    assert html_lang(client.get("/inbox", headers={"Accept-Language": EN_US}).text) == "zh-Hans"
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/inbox").text)})
    login(client, "wendy")
    assert html_lang(client.get("/inbox", headers={"Accept-Language": ZH_CN}).text) == "en"


def test_a_task_form_error_reads_in_chinese(app, client, world):
    login(client, "lin")
    page = client.get(f"/tasks/{world.pick}").text
    response = client.post(f"/tasks/{world.pick}", data={
        "csrf_token": csrf_token(page), "lock_version": re.search(r'name="lock_version" value="(\d+)"', page)[1],
        "pick_note": "x" * 2001})
    assert response.status_code == 422
    assert "未保存任何内容。" in response.text and "请更正下方标出的字段。" in response.text
    assert "请勾选此项以继续。" in response.text  # the box the schema wants ticked
    assert "最多 2000 个字符（当前 2001 个）。" in response.text
    assert "Tick this box" not in response.text
    with app.app_context():
        assert db.session.get(HumanTask, world.pick).state == "open"
        db.session.remove()


# --- the account page ---------------------------------------------------------------------------------


def test_choosing_a_language_on_the_account_page_persists(app, client, world):
    login(client, "wendy")
    page = client.get("/account")
    assert page.status_code == 200
    assert "Wendy Clerk" in page.text and "<code>wendy</code>" in page.text and "warehouse" in page.text
    assert '<option selected value="en">English</option>' in page.text and "简体中文" in page.text
    assert 'href="/account"' in client.get("/inbox").text  # the header links the user's name here

    response = client.post("/account", data={"csrf_token": csrf_token(page.text), "locale": "zh"})
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert locale_of(app, "wendy") == "zh"
    after = client.get("/account").text
    assert html_lang(after) == "zh-Hans"
    assert flashes(after) == ["Orderly 的界面语言已切换为简体中文。"]  # said in the new language
    assert "<h1>待办</h1>" in client.get("/inbox").text

    client.post("/account", data={"csrf_token": csrf_token(after), "locale": "en"})
    assert locale_of(app, "wendy") == "en"
    back = client.get("/account").text
    assert html_lang(back) == "en" and flashes(back) == ["Orderly is now shown in English."]


def test_the_account_page_refuses_a_post_without_its_csrf_token(app, client, world):
    login(client, "wendy")
    response = client.post("/account", data={"locale": "zh"})
    assert response.status_code == 400
    assert locale_of(app, "wendy") == "en"


def test_the_account_page_refuses_a_language_it_does_not_have(app, client, world):
    login(client, "wendy")
    token = csrf_token(client.get("/account").text)
    response = client.post("/account", data={"csrf_token": token, "locale": "fr"})
    assert response.status_code == 400
    assert "Not a valid choice." in response.text
    assert locale_of(app, "wendy") == "en"


def test_the_account_page_needs_a_login(client):
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- anonymous visitors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "lang", "words"), [
    (ZH_CN, "zh-Hans", ["<h1>登录</h1>", "用户名", "密码"]),
    ("de;q=0.9, zh;q=0.8", "zh-Hans", ["<h1>登录</h1>"]),  # the best language there is a catalog for
    (EN_US, "en", ["<h1>Log in</h1>", "Username", "Password"]),
    ("fr-FR, de", "en", ["<h1>Log in</h1>"]),  # nothing matches: English
    (None, "en", ["<h1>Log in</h1>"]),
])
def test_the_login_page_follows_the_browsers_language(client, accept, lang, words):
    page = client.get("/login", headers={"Accept-Language": accept} if accept else {}).text
    assert html_lang(page) == lang
    for word in words:
        assert word in page
    assert bool(CJK.search(page)) == (lang == "zh-Hans")


def test_the_login_prompt_and_a_refused_login_follow_the_browser(client):
    response = client.get("/inbox", headers={"Accept-Language": ZH_CN}, follow_redirects=True)
    assert flashes(response.text) == ["请先登录再访问此页面。"]
    token = csrf_token(response.text)
    refused = client.post("/login", data={"username": "nobody", "password": "wrong-pass", "csrf_token": token},
                          headers={"Accept-Language": ZH_CN})
    assert flashes(refused.text) == ["用户名或密码错误。"]


# --- the catalog --------------------------------------------------------------------------------------


def _catalog():
    with PO.open("rb") as f:
        return read_po(f)


def _key(message) -> tuple[str | None, str]:
    return message.context, message.id[0] if isinstance(message.id, tuple | list) else message.id


def _text(message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, tuple | list) else (message.string,)


def test_every_message_of_the_catalog_is_translated():
    catalog = _catalog()
    untranslated = [_key(m) for m in catalog if m.id and not all(text.strip() for text in _text(m))]
    fuzzy = [_key(m) for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"msgids without a Chinese translation in {PO.name}: {untranslated}"
    assert not fuzzy, f"fuzzy translations to review in {PO.name}: {fuzzy}"
    assert len([m for m in catalog if m.id]) > 500


def test_the_translations_keep_every_placeholder():
    problems = [(_key(message), [str(error) for error in errors]) for message, errors in _catalog().check()]
    assert not problems


def test_the_catalog_holds_every_text_of_the_sources(tmp_path, monkeypatch):
    """What `make translations` extracts (the same command, in-process) is all in the .po: a text added
    to a template, to Python, to a diagram or to a form without its translation fails here by name."""
    pot = tmp_path / "messages.pot"
    monkeypatch.chdir(ROOT)
    CommandLineInterface().run(["pybabel", "--quiet", "extract", "-F", "babel.cfg", "-k", "_l", "-o", str(pot), "."])
    with pot.open("rb") as f:
        extracted = {_key(m) for m in read_po(f) if m.id}
    translated = {_key(m) for m in _catalog() if m.id}
    missing = sorted(extracted - translated, key=str)
    assert not missing, f"run `make translations` and translate these in {PO.relative_to(ROOT)}: {missing}"
    # The extractors found the texts of files, not only of code.
    assert {(None, "Pick"), (None, "Every line is picked"), (None, "Won't fix"),
            (None, "Pick every line of the pick list from the warehouse."), ("role", "warehouse")} <= extracted


def test_the_compiled_catalog_is_the_po(tmp_path):
    """The pages read the .mo that `make` compiles from the .po; a stale one means: run `make setup`."""
    assert MO.is_file(), f"{MO.relative_to(ROOT)} is missing: run `make setup` (pybabel compile -d app/translations)"
    with MO.open("rb") as f:
        compiled = {_key(m): _text(m) for m in read_mo(f) if m.id}
    source = {_key(m): _text(m) for m in _catalog() if m.id}
    assert compiled == source, "the .mo is older than the .po: run `make setup`"


def test_the_extractors_take_labels_and_leave_values(tmp_path):
    from app.i18n_extract import extract_bpmn, extract_form

    with (ROOT / "forms/resolve_exception.json").open("rb") as f:
        form = {message: comments for _line, _func, message, comments in extract_form(f, [], [], {})}
    assert {"Resolve exception", "Remedy", "Resolution code", "Fixed", "Won't fix",
            "For a credit note, a refund or a corrected invoice."} <= set(form)
    assert not {"fixed", "wont_fix", "playbook_actions", "exception_resolution", ""} & set(form)
    with (ROOT / "workflows/order_process.bpmn").open("rb") as f:
        bpmn = [(message, comments) for _line, _func, message, comments in extract_bpmn(f, [], [], {})]
    names = [message for message, comments in bpmn if comments[0].startswith("task name")]
    assert names[:3] == ["Clarify with customer", "Review credit", "Review order"] and "Pick" in names
    assert "Check stock, price, credit and date" not in dict(bpmn)  # a service task: nobody reads it as a task
