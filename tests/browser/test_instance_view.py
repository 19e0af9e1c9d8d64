"""In real Chromium: the instance page draws the version the instance runs and marks the task an
error stopped in red, apart from where tokens stand."""

import pytest

from app.workflow import register_operation, runtime

pytestmark = pytest.mark.browser


def _checks_fail(**_params):
    raise RuntimeError("the credit service did not answer")


def test_the_failed_task_carries_the_error_marker(app, live_server, page, make_user, deployed, make_order):
    make_user("boss", "manager")
    register_operation(app, "review_checks", _checks_fail)
    order = make_order("Nordic Outdoor AB")
    instance = runtime.start("order_process", order.number, {"order_number": order.number})
    foreign, errors = [], []
    page.on("request", lambda request: None if request.url.startswith(live_server) else foreign.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox")
    page.goto(f"{live_server}/instances/{instance.id}")

    errored = page.locator('#diagram svg g.djs-element.errored[data-element-id="do_review_checks"]')
    errored.wait_for()
    assert page.get_attribute("#diagram", "data-diagram-state") == "ready"
    assert "Check stock, price, credit and date" in errored.text_content()
    assert page.locator("#diagram g.djs-element.errored").count() == 1
    assert page.locator('#diagram g.djs-element.current[data-element-id="do_review_checks"]').count() == 0
    assert page.locator('#diagram g.djs-element.completed[data-element-id="do_check_intake"]').count() == 1
    # The marker is drawn red, not only named so.
    stroke = errored.locator(".djs-visual > :first-child").evaluate("shape => getComputedStyle(shape).stroke")
    assert stroke == "rgb(179, 38, 30)"
    assert "the credit service did not answer" in page.inner_text(".error-box")
    assert foreign == [] and errors == []
