"""In real Chromium: a process owner runs a scenario against the order process and sees the path it took
drawn on the diagram (passed green, where it stopped amber) and the steps in a table."""

import json

import pytest

from tests.modeler.scenarios import happy

pytestmark = pytest.mark.browser


def test_a_test_run_draws_its_path(live_server, page, make_user, deployed):
    make_user("olga", "process_owner")
    foreign, errors = [], []
    page.on("request", lambda request: None if request.url.startswith((live_server, "data:"))
            else foreign.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.goto(f"{live_server}/processes/order_process/test")
    page.wait_for_selector("#diagram[data-diagram-state=ready]")
    page.fill("textarea[name=scenario]", json.dumps(happy()))
    page.click("text=Run the test")

    page.wait_for_selector("#outcome[data-status=waiting]")
    current = page.locator('#diagram svg g.djs-element.current[data-element-id="goods_received"]')
    current.wait_for()
    assert page.locator('#diagram g.djs-element.completed[data-element-id="review_order"]').count() == 1
    assert page.locator('#diagram g.djs-connection.completed[data-element-id="f_approved_gw_to_confirm_order"]') \
        .count() == 1
    assert page.locator('#diagram g.djs-element.completed[data-element-id="do_reject_order"]').count() == 0
    assert page.locator('#steps tr[data-element="arrange_shipment"]').count() == 1
    assert json.loads(page.input_value("textarea[name=scenario]")) == happy()  # kept for the next try
    assert foreign == [] and errors == []
