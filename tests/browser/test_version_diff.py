"""In real Chromium: a process owner compares two versions of the order process from its version history;
bpmn-js, served by Orderly itself, draws both side by side, the step the new version adds marked as added
on its side only, the renamed task as changed on both, and a click on an entry of the list selects the
element where it is drawn."""

import pytest

from app.workflow.deployment import deploy
from tests.modeler import order_variants

pytestmark = pytest.mark.browser


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _shape(page, side: str, element_id: str, marker: str = ""):
    marker = f".{marker}" if marker else ""
    return page.locator(f'[data-diff-side={side}] g.djs-element{marker}[data-element-id="{element_id}"]')


def test_the_added_step_is_marked_on_the_new_version(live_server, page, make_user, deployed):
    deploy(order_variants.revised(deployed["order_process"].bpmn_xml), "order_process.bpmn", by="olga",
           comment="log each clarification round")
    make_user("olga", "process_owner")
    _log_in(page, live_server, "olga")
    foreign, problems = [], []
    page.on("request", lambda request: None if request.url.startswith(live_server) else foreign.append(request.url))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

    page.goto(f"{live_server}/processes")
    page.click('a[href="/processes/order_process/versions"]')
    page.click("form[action='/processes/order_process/diff'] button[type=submit]")  # v1 against v2 by default
    page.wait_for_url(f"{live_server}/processes/order_process/diff?base=1&other=2")
    page.wait_for_selector("#version-diff[data-diff-state=ready]")

    added = order_variants.ADDED_TASK
    assert _shape(page, "other", added, "diff-added").count() == 1
    assert _shape(page, "base", added).count() == 0  # v1 has no such step
    assert _shape(page, "other", order_variants.ADDED_FLOW, "diff-added").count() == 1
    for side in ("base", "other"):
        assert _shape(page, side, "review_order", "diff-changed").count() == 1
        # the moved shape is no change, and untouched steps carry no marker
        assert _shape(page, side, "clarify_order").count() == 1
        assert page.locator(f'[data-diff-side={side}] g.djs-element[class*="diff-"][data-element-id="clarify_order"]'
                            ).count() == 0
    assert page.locator("[data-diff-side=base] g.djs-element.diff-added").count() == 0
    assert page.locator("[data-diff-side=other] g.djs-element.diff-removed").count() == 0

    page.click(f'button[data-diff-element="{added}"]')
    assert _shape(page, "other", added, "selected").count() == 1
    box = _shape(page, "other", added).bounding_box()
    view = page.locator("[data-diff-side=other]").bounding_box()
    # centred in its diagram
    assert abs(box["x"] + box["width"] / 2 - (view["x"] + view["width"] / 2)) < 5
    assert abs(box["y"] + box["height"] / 2 - (view["y"] + view["height"] / 2)) < 5

    assert foreign == [] and problems == []
