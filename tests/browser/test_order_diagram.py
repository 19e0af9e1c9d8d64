"""In real Chromium: the order page draws the order's process with bpmn-js, served by Orderly itself,
and marks the open task as where the order stands."""

import pytest

from app.workflow import runtime
from tests.engine import bpmn_factory as bf

pytestmark = pytest.mark.browser


def test_order_page_draws_the_diagram_with_the_open_task_marked(live_server, page, make_user, deployed, make_order):
    make_user("wes", "warehouse")
    order = make_order("Nordic Outdoor AB")
    runtime.start("order_process", order.number, {"order_number": order.number})
    foreign, errors = [], []
    page.on("request", lambda request: None if request.url.startswith(live_server) else foreign.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "wes")
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox")  # "/" sends staff to their inbox
    page.click("header >> text=Orders")
    page.wait_for_url(f"{live_server}/orders")
    page.click(f"text={order.number}")
    page.wait_for_url(f"{live_server}/orders/{order.number}")

    current = page.locator('#diagram svg g.djs-element.current[data-element-id="review_order"]')
    current.wait_for()
    assert page.get_attribute("#diagram", "data-diagram-state") == "ready"
    assert "Review order" in current.text_content()
    assert page.locator('#diagram g.djs-element.completed[data-element-id="do_review_checks"]').count() == 1
    assert page.locator('#diagram g.djs-connection.completed[data-element-id="f_credit_ok"]').count() == 1
    assert page.locator('#diagram g.djs-element.current[data-element-id="pick_goods"]').count() == 0
    # lanes are drawn as bands of the pool
    assert page.locator('#diagram g.djs-element[data-element-id="lane_warehouse"]').count() == 1
    assert foreign == [] and errors == []


def test_a_version_without_layout_says_so_instead_of_drawing(live_server, page, make_user, make_order):
    make_user("wes", "warehouse")
    bf.deploy(bf.linear("sb_plain", bf.user("sign", name="Sign")))  # no BPMN DI
    order = make_order()
    runtime.start("sb_plain", order.number, {})

    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "wes")
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox")  # "/" sends staff to their inbox
    page.goto(f"{live_server}/orders/{order.number}")
    page.wait_for_selector("#diagram[data-diagram-state=failed]")
    assert "The diagram cannot be shown" in page.inner_text("#diagram")
    assert page.locator("#diagram svg").count() == 0
