"""In real Chromium: a warehouse clerk logs in, finds the task in the team's queue, claims it, opens
it, fills in the form, submits it, and sees it leave the inbox."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.workflow import runtime
from app.workflow.models import HumanTask
from tests.support import HAPPY_PATH, unavailable

pytestmark = pytest.mark.browser


def open_task(instance_id: int) -> HumanTask:
    db.session.expire_all()
    return db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state.in_(("open", "claimed")))).one()


def start_order(make_order, steps: int):
    """An order process pushed `steps` tasks along the happy path."""
    order = make_order()
    instance = runtime.start("order_process", order.number, {"order_number": order.number})
    for element_id, data in HAPPY_PATH[:steps]:
        task = open_task(instance.id)
        assert task.element_id == element_id
        runtime.complete_task(instance.id, task.spiff_task_id, data, actor="tester")
    return order, instance


def test_warehouse_clerk_claims_and_completes_a_task(live_server, page, make_user, deployed, make_order):
    make_user("pia", "warehouse")
    make_user("otto", "warehouse")
    order, instance = start_order(make_order, 2)
    pick = open_task(instance.id)
    assert (pick.element_id, pick.title, pick.role) == ("pack_goods", "Pack", "warehouse")

    page.goto(f"{live_server}/")
    page.fill("input[name=username]", "pia")
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox")
    team_tab = page.locator("nav.tabs a[aria-current=page]")
    assert team_tab.inner_text().split() == ["My", "team", "1"]
    row = page.locator("tr", has_text=order.number)
    assert "Pack" in row.inner_text() and "nobody" in row.inner_text()
    assert row.locator(".due").inner_text() in ("Due in 23 h", "Due in 24 h")  # its SLA clock: no policy, a day

    row.get_by_role("button", name="Claim").click()
    page.wait_for_selector(".flash.success")
    assert f"You claimed Pack for {order.number}." in page.locator(".flash").inner_text()
    row = page.locator("tr", has_text=order.number)
    assert "you" in row.inner_text()
    assert page.locator('.badge[data-queue="mine"]').inner_text() == "1"

    row.get_by_role("link", name="Pack").click()
    page.wait_for_url(f"{live_server}/tasks/{pick.id}")
    assert page.locator(".instructions").inner_text() == pick.instructions
    # The browser checks the schema's limits before anything is sent.
    page.fill("input[name=packages]", "0")
    page.click("button:has-text('Complete task')")
    assert page.url == f"{live_server}/tasks/{pick.id}"
    assert page.locator("input[name=packages]").evaluate("e => e.validity.rangeUnderflow")
    page.fill("input[name=packages]", "3")
    page.fill("textarea[name=pack_note]", "Two boxes and a pallet")
    page.click("button:has-text('Complete task')")
    page.wait_for_url(f"{live_server}/inbox")
    assert f"Pack for {order.number} is done." in page.locator(".flash.success").inner_text()
    assert page.locator("tr", has_text=order.number).count() == 0
    assert "Nothing waiting for your team" in page.locator("#queue").inner_text()
    assert page.locator('.badge[data-queue="mine"]').inner_text() == "0"

    db.session.expire_all()
    done = db.session.get(HumanTask, pick.id)
    assert (done.state, done.completed_by) == ("completed", "pia")
    assert open_task(instance.id).role == "logistics"  # the goods are checked next, by logistics


def _two_kinds_of_task(make_order) -> tuple[str, str]:
    """A review (order desk) and a pick (warehouse) waiting; their order numbers."""
    review_order, _ = start_order(make_order, 0)
    pick_order, instance = start_order(make_order, 1)
    assert open_task(instance.id).element_id == "pick_goods"
    return review_order.number, pick_order.number


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox")


def test_the_inbox_works_without_javascript(live_server, browser, make_user, deployed, make_order):
    make_user("boss", "manager")
    review_number, pick_number = _two_kinds_of_task(make_order)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _log_in(page, live_server, "boss")
        page.get_by_role("link", name="Everyone").click()
        page.wait_for_url(f"{live_server}/inbox?queue=all")
        assert page.locator("tbody tr").count() == 2
        page.select_option("select[name=type]", "pick_goods")
        page.click("button:has-text('Filter')")
        page.wait_for_url("**/inbox?queue=all&type=pick_goods&q=&due=")
        rows = page.locator("tbody tr")
        assert rows.count() == 1 and pick_number in rows.inner_text() and review_number not in page.content()
        assert "1 task matches" in page.locator(".queue").inner_text()
    finally:
        context.close()


def test_filters_update_the_list_in_place_with_htmx(live_server, page, make_user, deployed, make_order):
    make_user("boss", "manager")
    review_number, pick_number = _two_kinds_of_task(make_order)
    _log_in(page, live_server, "boss")
    page.goto(f"{live_server}/inbox?queue=all")
    if not page.evaluate("typeof htmx !== 'undefined'"):
        unavailable("htmx is not in app/static/vendor (run `make setup`)")
    page.evaluate("window.stayed = true")  # gone if the whole page were loaded again
    page.select_option("select[name=type]", "review_order")
    page.wait_for_url("**/inbox?queue=all&type=review_order&q=&due=")
    page.wait_for_function("document.querySelectorAll('tbody tr').length === 1")
    assert review_number in page.locator("tbody").inner_text() and pick_number not in page.locator("tbody").inner_text()
    assert page.evaluate("window.stayed === true")
    assert page.locator("select[name=type]").input_value() == "review_order"
