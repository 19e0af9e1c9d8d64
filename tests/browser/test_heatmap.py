"""In real Chromium: a manager follows the link from the processes page to the heat map of the order
process; bpmn-js, served by Orderly itself, draws the diagram with a badge on each activity where
instances stand (the count and the median time), each on its own element and filled by its step on the
colour scale, for the fixed floor of tests/heatmap/dataset.py."""

import pytest

from tests.heatmap import dataset

pytestmark = pytest.mark.browser


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _badge(page, element_id: str):
    """The heat-map badge bpmn-js placed in the overlays of that element (and of no other)."""
    return page.locator(f'#heatmap .djs-overlays[data-container-id="{element_id}"] .heat-badge')


def test_a_manager_sees_the_counts_on_the_diagram(live_server, page, make_user, deployed):
    dataset.build()
    make_user("mia", "manager")
    _log_in(page, live_server, "mia")
    foreign, problems = [], []  # from here on: a request elsewhere, a script error, a file not found
    page.on("request", lambda request: None if request.url.startswith(live_server) else foreign.append(request.url))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

    page.goto(f"{live_server}/processes")
    page.click('a[href="/processes/order_process/heatmap"]')
    page.wait_for_url(f"{live_server}/processes/order_process/heatmap")
    page.wait_for_selector("#heatmap[data-heatmap-state=ready]")

    counts = {element_id: _badge(page, element_id) for element_id in
              ("pick_goods", "review_order", "goods_received", "pack_goods", "collections", "await_payment")}
    assert counts["pick_goods"].locator(".heat-count").inner_text() == "3"
    assert counts["pick_goods"].locator(".heat-median").inner_text() == "6.0 h"
    assert counts["review_order"].locator(".heat-count").inner_text() == "2"
    assert counts["review_order"].locator(".heat-median").inner_text() == "4.0 h"
    assert counts["goods_received"].locator(".heat-count").inner_text() == "1"
    assert counts["goods_received"].locator(".heat-median").count() == 0  # not measured
    # nobody at Pack now, but its visits have a median: a badge shown once zoomed in, never over a count
    assert counts["pack_goods"].locator(".heat-count").text_content() == "0"
    assert counts["pack_goods"].locator(".heat-median").text_content() == "1.0 h"
    assert counts["pack_goods"].is_hidden() and counts["pick_goods"].is_visible()
    # nobody ever at Collections or Await payment: no badge
    assert counts["collections"].count() == 0 and counts["await_payment"].count() == 0
    assert page.locator("#heatmap .heat-badge").count() == 6  # the five people's tasks visited and the receive task
    assert counts["review_order"].get_attribute("title") == (
        "Review order: 2 instances here now; median 4.0 h, 90th percentile 6.0 h over 4 completed")

    # each fill is the element's step on the scale: Pick the most crowded (5), Review order 4, the receipt 2
    for element_id, step in (("pick_goods", 5), ("review_order", 4), ("goods_received", 2)):
        assert page.locator(f'#heatmap g.djs-element.heat-{step}[data-element-id="{element_id}"]').count() == 1
        assert f"heat-{step}" in counts[element_id].get_attribute("class")
    assert page.locator('#heatmap g.djs-element[class*="heat-"][data-element-id="pack_goods"]').count() == 0

    # the badge sits on its element's top edge
    shape = page.locator('#heatmap g.djs-element[data-element-id="pick_goods"]').bounding_box()
    badge = counts["pick_goods"].bounding_box()
    assert shape["x"] <= badge["x"] + badge["width"] / 2 <= shape["x"] + shape["width"] + badge["width"]
    assert abs(badge["y"] + badge["height"] / 2 - shape["y"]) < badge["height"]

    assert foreign == [] and problems == []


def test_the_table_stands_without_the_diagram(live_server, page, make_user, deployed):
    """With JavaScript off the figures are all in the table."""
    dataset.build()
    make_user("olga", "process_owner")
    context = page.context.browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    _log_in(plain, live_server, "olga")
    plain.goto(f"{live_server}/processes/order_process/heatmap?version=1")
    row = plain.locator('tr[data-element-id="review_order"]')
    assert row.locator("[data-figure=count]").inner_text() == "1"
    assert row.locator("[data-figure=median]").inner_text() == "4.0 h"
    assert plain.get_attribute("#heatmap", "data-heatmap-state") == "loading"
    context.close()
