"""In real Chromium: an admin logs in, goes from the inbox to the processes overview, sees the running
order, opens it and cancels it."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.workflow import runtime
from app.workflow.models import ProcessInstance

pytestmark = pytest.mark.browser


def test_admin_logs_in_opens_an_instance_and_cancels_it(live_server, page, make_user, deployed, make_order):
    make_user("root", "admin")
    order = make_order("Nordic Outdoor AB")
    instance = runtime.start("order_process", order.number, {"order_number": order.number})

    page.goto(f"{live_server}/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox")  # "/" sends staff to their inbox
    page.get_by_role("link", name="Processes", exact=True).click()
    page.wait_for_url(f"{live_server}/processes")
    row = page.locator("tr", has_text=order.number)
    assert "running" in row.inner_text()

    row.get_by_role("link").click()
    page.wait_for_url(f"{live_server}/instances/{instance.id}")
    assert page.locator("h1").inner_text().startswith(order.number)
    assert "Review order" in page.locator("table").inner_text()

    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.fill("input[name=reason]", "Customer ordered twice")
    page.click("button.danger")
    page.wait_for_selector(".flash.success")
    assert dialogs and "Cancel " + order.number in dialogs[0]
    assert "cancelled" in page.locator("h1").inner_text()
    db.session.expire_all()
    assert db.session.scalar(select(ProcessInstance.status).where(ProcessInstance.id == instance.id)) == "cancelled"
