"""In real Chromium: a manager has the dashboard open while an order waits at review; its SLA timers fire
(workflows/order_process.bpmn: boundary timers sla_warn / sla_due on review_order → the escalate operation),
the breach appears through the page's polling without a reload, the manager acknowledges it and gives the
task to another member of the order desk, each in its row. The server's clock is frozen and moved by the
test; the timers fire as the scheduler fires them (app.workflow.timers.fire_due)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app import clock
from app.accounts.service import find_by_username
from app.extensions import db
from app.sla.models import Escalation
from app.workflow import inbox, runtime
from app.workflow.models import HumanTask
from app.workflow.timers import fire_due
from tests.support import simple_order

pytestmark = pytest.mark.browser

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# No SLA policy: the default target, 24 h around the clock, at risk after 75 % of it (app/sla/service.py).
AT_RISK, DUE = timedelta(hours=18), timedelta(hours=24)
POLL = 15_000  # ms to wait for a change to arrive: the page polls every 5 s


@pytest.fixture
def review(ctx, deployed, make_user) -> HumanTask:
    """An order waiting at review_order, claimed by Dana of the order desk; Omar is her colleague."""
    clock.freeze(T0)
    make_user("maria", "manager")
    dana = make_user("dana", "order_desk")
    make_user("omar", "order_desk")
    order = simple_order("Harbour Tools Ltd")
    db.session.commit()
    instance = runtime.start("order_process", order.number, {"order_number": order.number}, actor="tester")
    task = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).one()
    assert (task.element_id, task.due_at, task.at_risk_at) == ("review_order", T0 + DUE, T0 + AT_RISK)
    inbox.claim(task.id, dana)
    db.session.commit()
    return task


def fire_at(moment: datetime) -> int:
    """The server's clock moves on and the scheduler fires what is due."""
    clock.freeze(moment)
    return fire_due()


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("secret-pass")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/inbox")


def test_a_manager_sees_a_breach_appear_acknowledges_it_and_reassigns_the_task(live_server, page, review):
    base, task_id, number = live_server, review.id, review.business_key
    named = f"Review order for {number}"

    page.clock.install()  # the browser's own clock, running, for moving it on at the end
    log_in(page, base, "maria")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Manager").click()
    expect(page).to_have_url(f"{base}/manager/")
    breaches = page.locator("section.watch.breaches")
    at_risk = page.locator("section.watch.at-risk")
    expect(breaches.get_by_text("No open breaches.")).to_be_visible()
    expect(at_risk.get_by_text("Nothing at risk.")).to_be_visible()

    # The warning timer fires: the review shows up at risk, counting down to its due time.
    assert fire_at(T0 + AT_RISK + timedelta(minutes=1)) == 1
    row = page.locator(f"#work-task-{task_id}")
    expect(at_risk.locator(f"#work-task-{task_id}")).to_be_visible(timeout=POLL)
    expect(row.locator(".level")).to_have_text("At risk")
    expect(row.locator("time.countdown")).to_have_text("Due in 5 h 59 min")

    # The due timer fires: without a reload the same review moves to the breaches, overdue.
    assert fire_at(T0 + DUE + timedelta(minutes=1)) == 1
    expect(breaches.locator(f"#work-task-{task_id}")).to_be_visible(timeout=POLL)
    expect(at_risk.get_by_text("Nothing at risk.")).to_be_visible()
    expect(row.locator(".level")).to_have_text("Breached")
    expect(row.locator(".whose")).to_have_text(re.compile(r"^\s*order desk\s+Dana\s*$"))
    expect(row.get_by_role("link", name=number, exact=True)).to_have_attribute("href", f"/orders/{number}")
    expect(row.locator("time.countdown")).to_have_text("Overdue by 1 min")
    expect(breaches.locator(".badge")).to_have_text("1")

    # Acknowledged in place: the row says by whom, the button is gone.
    row.get_by_role("button", name=f"Acknowledge {named}").click()
    expect(row.get_by_role("status")).to_have_text(f"You acknowledged {named}.")
    expect(row.locator(".acknowledged")).to_have_text("Acknowledged by Maria less than a minute ago")
    expect(row.get_by_role("button", name=f"Acknowledge {named}")).to_have_count(0)

    # Given to Omar in place.
    row.get_by_label(f"Give {named} to").select_option(label="Omar (omar)")
    row.get_by_role("button", name=f"Reassign {named}").click()
    expect(row.get_by_role("status")).to_have_text(f"{named} is now with Omar.")
    expect(row.locator(".whose")).to_have_text(re.compile(r"^\s*order desk\s+Omar\s*$"))
    expect(row.get_by_label(f"Give {named} to").locator("option")).to_have_text(["Choose…", "Dana (dana)"])
    # The workload per person follows: Omar holds it now (assigned, overdue, at risk).
    expect(page.locator('tr[data-person="omar"] td.num')).to_have_text(["1", "1", "0"])
    expect(page.locator('tr[data-person="dana"] td.num')).to_have_text(["0", "0", "0"])

    # The countdown runs in the browser: two minutes on, it reads two minutes more, while the server's
    # clock stood still. The page knows its lists are current after its own actions: the poll that
    # comes meanwhile brings nothing (204), so the row keeps its message.
    with page.expect_response(lambda response: "/manager/watch" in response.url) as poll:
        page.clock.fast_forward("02:00")
    assert poll.value.status == 204
    expect(row.locator("time.countdown")).to_have_text("Overdue by 3 min")
    expect(row.locator(".acknowledged")).to_have_text("Acknowledged by Maria 2 min ago")
    expect(row.get_by_role("status")).to_have_text(f"{named} is now with Omar.")

    # And the database agrees.
    db.session.expire_all()
    task = db.session.get(HumanTask, task_id)
    assert (task.state, task.assignee_id, task.priority) == ("claimed", find_by_username("omar").id, 1)
    escalations = db.session.scalars(select(Escalation).where(Escalation.business_key == number)).all()
    assert sorted((e.level, e.element_id, e.acknowledged_by) for e in escalations) == [
        ("at_risk", "review_order", "maria"), ("breached", "review_order", "maria")]
    assert all(e.acknowledged_at == T0 + DUE + timedelta(minutes=1) for e in escalations)
