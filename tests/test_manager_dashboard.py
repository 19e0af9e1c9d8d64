"""The manager's dashboard at /manager: who may open it and act on it; the breaches and the work at risk as
the order process's SLA timers raise them (workflows/order_process.bpmn, default targets: due 24 h after the
task begins, at risk at 75 %, long overdue at 48 h); acknowledging in place, twice; reassigning in place,
to someone outside the team; the CSRF token; the polled lists; the workload per team and per person."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from app import clock
from app.accounts.models import User, UserRole
from app.accounts.roles import ALL, LANE_ROLES
from app.exceptions import service as cases
from app.extensions import db
from app.sla import dashboard
from app.sla.models import LEVELS, Escalation
from app.workflow import runtime
from app.workflow.models import HumanTask, InstanceEvent
from app.workflow.timers import fire_due
from tests.support import csrf_token, login, simple_order

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday; the default targets count around the clock
DUE = timedelta(hours=24)
AT_RISK = timedelta(hours=18)
HTMX = {"HX-Request": "true"}
MANAGERS = ("manager", "admin")


# --- people, orders and the clock ------------------------------------------------------------------------------


def person(username: str, *roles: str, active: bool = True) -> User:
    """Someone holding these roles, made on first use with a cheap password hash."""
    found = db.session.scalar(select(User).where(User.username == username))
    if found is None:
        found = User(username=username, name=username.title(), active=active,
                     role_rows=[UserRole(role=role) for role in roles],
                     password_hash=generate_password_hash("secret-pass", method="pbkdf2:sha256:1"))
        db.session.add(found)
        db.session.commit()
    return found


def review_task(customer: str = "ACME Ltd") -> HumanTask:
    """A new order whose process waits at review_order (the order desk's), begun now."""
    order = simple_order(customer)
    db.session.commit()
    instance = runtime.start("order_process", order.number, {"order_number": order.number}, actor="tester")
    task = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).one()
    assert (task.element_id, task.role, task.due_at, task.at_risk_at) == (
        "review_order", "order_desk", clock.now() + DUE, clock.now() + AT_RISK)
    return task


def at(moment: datetime) -> int:
    """Move the clock to `moment` and fire what is due, as the scheduler would."""
    clock.freeze(moment)
    return fire_due()


def fresh(model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


def escalations_of(task: HumanTask) -> list[Escalation]:
    """The task's escalations, lowest level first."""
    db.session.expire_all()
    return sorted(db.session.scalars(select(Escalation).where(
        Escalation.instance_id == task.instance_id, Escalation.element_id == task.element_id)),
        key=lambda escalation: LEVELS.index(escalation.level))


def row_of(html: str, dom_id: str) -> str:
    match = re.search(rf'<tr id="{dom_id}".*?</tr>', html, re.S)
    assert match, f"no row {dom_id} on the page"
    return match.group(0)


def words(html: str) -> str:
    """The text of some HTML as it reads, without its tags."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def section(html: str, name: str) -> str:
    return html.split(f'<section class="watch {name}"')[1].split("</section>")[0]


def signature(html: str) -> str:
    """The version of the lists a page or fragment shows."""
    return re.search(r'id="sla-watch"[^>]*data-signature="(\w+)"', html).group(1)


def token(client) -> str:
    return csrf_token(client.get("/manager/").text)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    """The lists and the counts are SQL (outer joins, conditional sums): both databases give the same."""
    return request.param


@pytest.fixture
def world(ctx, deployed):
    clock.freeze(T0)
    person("maria", "manager")
    person("dana", "order_desk")
    person("omar", "order_desk")
    person("wes", "warehouse")
    return ctx


@pytest.fixture
def manager(world, client):
    login(client, "maria")
    return client


# --- who may do what --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/manager/", "/manager/watch", "/manager/workload"])
def test_the_dashboard_needs_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ALL)
def test_managers_and_admins_only(world, client, role):
    task = review_task()
    at(T0 + DUE + timedelta(minutes=1))
    breach = escalations_of(task)[-1]
    person(f"{role}-1", role)
    login(client, f"{role}-1")
    allowed = role in MANAGERS
    expected = 200 if allowed else 403
    assert client.get("/manager/").status_code == expected
    assert client.get("/manager/watch").status_code == expected
    assert client.get("/manager/workload").status_code == expected
    nav = client.get("/orders").text.split('aria-label="Main"')[1].split("</nav>")[0]
    assert ('href="/manager/"' in nav) is allowed
    if allowed:
        return
    form = csrf_token(client.get("/orders").text)
    assert client.post(f"/manager/escalations/{breach.id}/acknowledge", data={"csrf_token": form},
                       headers=HTMX).status_code == 403
    assert client.post(f"/manager/tasks/{task.id}/reassign", data={"csrf_token": form, "assignee_id": "2"},
                       headers=HTMX).status_code == 403
    assert fresh(Escalation, breach.id).acknowledged_at is None
    assert fresh(HumanTask, task.id).assignee_id is None


def test_every_action_needs_the_csrf_token(manager):
    task = review_task()
    at(T0 + DUE + timedelta(minutes=1))
    breach = escalations_of(task)[-1]
    omar = person("omar")
    for data in ({}, {"csrf_token": "forged"}):
        assert manager.post(f"/manager/escalations/{breach.id}/acknowledge", data=data, headers=HTMX).status_code == 400
        assert manager.post(f"/manager/tasks/{task.id}/reassign", data={**data, "assignee_id": omar.id},
                            headers=HTMX).status_code == 400
    assert [e.acknowledged_at for e in escalations_of(task)] == [None, None]
    assert fresh(HumanTask, task.id).assignee_id is None


def test_the_page_links_the_other_manager_pages(manager):
    page = manager.get("/manager/").text
    tabs = page.split('aria-label="Manager pages"')[1].split("</nav>")[0]
    assert re.findall(r'href="([^"]+)"', tabs) == ["/manager/", "/manager/kpis", "/manager/sla/"]


# --- the lists ----------------------------------------------------------------------------------------------------


def test_nothing_to_show_says_so(manager):
    review_task()  # due tomorrow: neither breached nor at risk
    page = manager.get("/manager/").text
    assert "No open breaches." in section(page, "breaches")
    assert "Nothing at risk." in section(page, "at-risk")


def test_a_task_at_risk_then_breached_as_its_timers_fire(manager):
    task = review_task()
    task_id, number = task.id, task.business_key
    manager_page = manager.get("/manager/").text
    assert f'id="work-task-{task_id}"' not in manager_page

    assert at(T0 + AT_RISK + timedelta(minutes=1)) == 1  # the warning timer
    page = manager.get("/manager/").text
    row = row_of(section(page, "at-risk"), f"work-task-{task_id}")
    assert "No open breaches." in section(page, "breaches")
    assert '<span class="level at_risk">At risk</span>' in row
    assert f'<a href="/orders/{number}">{number}</a>' in row and f'href="/tasks/{task_id}"' in row
    assert '<span class="team">order desk</span>' in row and '<span class="muted">nobody</span>' in row
    # The countdown as the server says it, and the due time for the script to count from.
    assert "Due in 5 h 59 min" in row and f'datetime="{(T0 + DUE).isoformat()}"' in row
    assert "raised less than a minute ago" in words(row) and ">Acknowledge<" in row

    assert at(T0 + DUE + timedelta(minutes=25)) == 1  # the breach timer
    page = manager.get("/manager/").text
    assert "Nothing at risk." in section(page, "at-risk")  # one row per task: the breach took it over
    row = row_of(section(page, "breaches"), f"work-task-{task_id}")
    assert '<span class="level breached">Breached</span>' in row
    assert "Overdue by 25 min" in row
    assert [e.level for e in escalations_of(task)] == ["at_risk", "breached"]
    assert fresh(HumanTask, task_id).priority == 1


def test_an_overdue_task_shows_before_its_escalation_is_raised(manager):
    """The lists read the tasks' own due times too: work past due is a breach even while no scheduler ran."""
    task = review_task()
    clock.freeze(T0 + DUE + timedelta(hours=2))  # nothing fired
    page = manager.get("/manager/").text
    row = row_of(section(page, "breaches"), f"work-task-{task.id}")
    assert "Overdue by 2 h" in row and "Not escalated yet" in row and "Acknowledge" not in row


def test_newest_escalations_first_and_long_overdue(manager):
    first = review_task("First Ltd")
    clock.advance(timedelta(hours=1))
    second = review_task("Second Ltd")
    at(T0 + DUE + timedelta(hours=1, minutes=1))  # both breached at once
    at(T0 + 2 * DUE + timedelta(minutes=1))  # then the first long overdue: the newest escalation
    page = section(manager.get("/manager/").text, "breaches")
    ids = re.findall(r'<tr id="work-task-(\d+)" data-level="(\w+)"', page)
    assert ids == [(str(first.id), "breached_long"), (str(second.id), "breached")]
    assert '<span class="level breached_long">Long overdue</span>' in row_of(page, f"work-task-{first.id}")


def test_an_exception_breach_links_the_case_and_its_order(manager):
    order = simple_order("Complaining Ltd")
    db.session.commit()
    with runtime.unit_of_work():
        case = cases.raise_case(order, "complaint", source="staff", reported_by="dana", description="Scratched")
    triage = db.session.scalars(select(HumanTask).where(HumanTask.business_key == case.number)).one()
    assert triage.due_at is not None
    at(triage.due_at + timedelta(minutes=1))
    row = row_of(section(manager.get("/manager/").text, "breaches"), f"work-task-{triage.id}")
    assert f'<a href="/exceptions/{case.number}">{case.number}</a>' in row
    assert f'<a href="/orders/{order.number}">{order.number}</a>' in row
    assert '<span class="team">customer service</span>' in row and ">Acknowledge<" in row


def test_text_is_escaped(manager):
    task = review_task("<b>Bold</b> & Co")
    person("<i>x</i>", "order_desk")
    at(T0 + DUE + timedelta(minutes=1))
    page = manager.get("/manager/").text
    assert "<i>x</i>" not in page and "&lt;i&gt;x&lt;/i&gt;" in page
    assert f'work-task-{task.id}' in page


# --- acknowledging ------------------------------------------------------------------------------------------------


def test_acknowledge_in_place_then_twice(manager):
    task = review_task()
    at(T0 + DUE + timedelta(minutes=1))
    warning, breach = escalations_of(task)
    clock.advance(timedelta(minutes=4))
    form = {"csrf_token": token(manager)}

    response = manager.post(f"/manager/escalations/{breach.id}/acknowledge", data=form, headers=HTMX)
    assert response.status_code == 200
    row = response.text.strip()
    assert row.startswith(f'<tr id="work-task-{task.id}"') and row.endswith("</tr>")  # the row, in place
    assert "Acknowledged by Maria less than a minute ago" in words(row) and ">Acknowledge<" not in row
    assert f"You acknowledged Review order for {task.business_key}." in row
    # The at-risk warning raised before the breach went with it.
    assert [(e.level, e.acknowledged_by, e.acknowledged_at) for e in escalations_of(task)] == [
        ("at_risk", "maria", T0 + DUE + timedelta(minutes=5)), ("breached", "maria", T0 + DUE + timedelta(minutes=5))]

    # The task is still overdue: it stays listed, acknowledged, and can still be given to someone.
    page = manager.get("/manager/").text
    assert "Acknowledged by Maria" in row_of(section(page, "breaches"), f"work-task-{task.id}")

    # Someone acknowledges it again (a second tab, a second manager): told so, nothing changes.
    person("max", "manager")
    clock.advance(timedelta(minutes=1))
    again = manager.post(f"/manager/escalations/{breach.id}/acknowledge", data=form, headers=HTMX)
    assert again.status_code == 409
    assert "Already acknowledged by you at 2026-03-03 09:05 UTC." in again.text
    assert again.text.strip().startswith("<tr")
    plain = manager.post(f"/manager/escalations/{breach.id}/acknowledge", data=form)
    assert plain.status_code == 409 and "Already acknowledged by you" in plain.text
    assert [(e.acknowledged_by, e.acknowledged_at) for e in escalations_of(task)] == [
        ("maria", T0 + DUE + timedelta(minutes=5))] * 2


def test_acknowledge_without_htmx_comes_back_to_the_page(manager):
    task = review_task()
    at(T0 + DUE + timedelta(minutes=1))
    breach = escalations_of(task)[-1]
    response = manager.post(f"/manager/escalations/{breach.id}/acknowledge", data={"csrf_token": token(manager)})
    assert response.status_code == 302 and response.headers["Location"] == "/manager/"
    assert f"You acknowledged Review order for {task.business_key}." in manager.get("/manager/").text
    assert fresh(Escalation, breach.id).acknowledged_by == "maria"


def test_acknowledging_a_breach_of_finished_work_removes_it(manager):
    task = review_task()
    at(T0 + DUE + timedelta(minutes=1))
    breach = escalations_of(task)[-1]
    runtime.complete_task(task.instance_id, task.spiff_task_id, {"approved": True}, actor="dana")
    page = manager.get("/manager/").text
    row = row_of(section(page, "breaches"), f"work-escalation-{breach.id}")
    assert "no open task" in row and "Reassign" not in row.split('class="reassign"')[1]
    assert "Overdue by" in row  # from the escalation's due time
    response = manager.post(f"/manager/escalations/{breach.id}/acknowledge", data={"csrf_token": token(manager)},
                            headers=HTMX)
    assert response.status_code == 200 and "Acknowledged by Maria" in response.text
    assert "No open breaches." in manager.get("/manager/").text


def test_unknown_escalation_is_404(manager):
    assert manager.post("/manager/escalations/999/acknowledge", data={"csrf_token": token(manager)},
                        headers=HTMX).status_code == 404


# --- reassigning ----------------------------------------------------------------------------------------------------


def test_reassign_in_place(manager):
    task = review_task()
    at(T0 + DUE + timedelta(minutes=1))
    dana, omar = person("dana"), person("omar")
    page = manager.get("/manager/").text
    row = row_of(page, f"work-task-{task.id}")
    # Only the order desk's people are offered.
    assert re.findall(r'<option value="(\d*)"', row) == ["", str(dana.id), str(omar.id)]

    response = manager.post(f"/manager/tasks/{task.id}/reassign",
                            data={"csrf_token": token(manager), "assignee_id": omar.id}, headers=HTMX)
    assert response.status_code == 200
    row = response.text.strip()
    assert row.startswith(f'<tr id="work-task-{task.id}"')
    assert f"Review order for {task.business_key} is now with Omar." in row
    assert '<span class="assignee">Omar</span>' in row
    assert re.findall(r'<option value="(\d*)"', row) == ["", str(dana.id)]  # not to whoever has it
    moved = fresh(HumanTask, task.id)
    assert (moved.state, moved.assignee_id) == ("claimed", omar.id)
    (audit,) = db.session.scalars(select(InstanceEvent).where(InstanceEvent.kind == "task_reassigned"))
    assert (audit.actor, audit.detail["to"]) == ("maria", "omar")


@pytest.mark.parametrize(("whom", "status", "message"), [
    ("wes", 403, "Wes is not in the order_desk team"),
    ("gone", 404, "there is no active user"),
    ("nobody", 404, "there is no active user"),
    ("", 422, "Choose whom to give the task to."),
    ("x1", 422, "Choose whom to give the task to."),
])
def test_reassign_refused_in_the_row_and_nothing_changes(manager, whom, status, message):
    task = review_task()
    at(T0 + DUE + timedelta(minutes=1))
    ids = {"wes": person("wes").id, "gone": person("gone", "order_desk", active=False).id, "nobody": 9999}
    before = db.session.scalar(select(func.count()).select_from(InstanceEvent))
    response = manager.post(f"/manager/tasks/{task.id}/reassign", headers=HTMX,
                            data={"csrf_token": token(manager), "assignee_id": ids.get(whom, whom)})
    assert response.status_code == status
    row = response.text.strip()
    assert row.startswith(f'<tr id="work-task-{task.id}"') and message in row and 'role="alert"' in row
    assert fresh(HumanTask, task.id).assignee_id is None
    assert db.session.scalar(select(func.count()).select_from(InstanceEvent)) == before


def test_reassign_without_htmx_comes_back_to_the_page(manager):
    task = review_task()
    omar = person("omar")
    response = manager.post(f"/manager/tasks/{task.id}/reassign",
                            data={"csrf_token": token(manager), "assignee_id": omar.id})
    assert response.status_code == 302 and response.headers["Location"] == "/manager/"
    assert f"Review order for {task.business_key} is now with Omar." in manager.get("/manager/").text
    assert fresh(HumanTask, task.id).assignee_id == omar.id


def test_reassign_refusals_without_htmx_are_error_pages(manager):
    task = review_task()
    wes = person("wes")
    response = manager.post(f"/manager/tasks/{task.id}/reassign",
                            data={"csrf_token": token(manager), "assignee_id": wes.id})
    assert response.status_code == 403 and "Wes is not in the order_desk team" in response.text
    assert manager.post("/manager/tasks/999/reassign", data={"csrf_token": token(manager), "assignee_id": wes.id},
                        headers=HTMX).status_code == 404
    assert fresh(HumanTask, task.id).assignee_id is None


def test_reassign_a_finished_task_is_a_conflict(manager):
    task = review_task()
    runtime.complete_task(task.instance_id, task.spiff_task_id, {"approved": True}, actor="dana")
    response = manager.post(f"/manager/tasks/{task.id}/reassign", headers=HTMX,
                            data={"csrf_token": token(manager), "assignee_id": person("omar").id})
    assert response.status_code == 409 and "was already completed by dana" in response.text
    assert fresh(HumanTask, task.id).assignee_id is None


# --- the polled lists ----------------------------------------------------------------------------------------------


def test_the_lists_poll_and_answer_no_content_while_nothing_changed(manager):
    task = review_task()
    page = manager.get("/manager/").text
    assert re.search(r'hx-get="/manager/watch" hx-trigger="every 5s"', page)
    seen = signature(page)
    assert manager.get(f"/manager/watch?seen={seen}").status_code == 204
    clock.advance(timedelta(hours=1))  # countdowns moved, nothing else: still nothing to send
    assert manager.get(f"/manager/watch?seen={seen}").status_code == 204

    at(T0 + DUE + timedelta(minutes=1))
    fragment = manager.get(f"/manager/watch?seen={seen}")
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="sla-watch"') and "<html" not in fragment.text
    assert f'id="work-task-{task.id}"' in section(fragment.text, "breaches")
    newer = signature(fragment.text)
    assert newer != seen and manager.get(f"/manager/watch?seen={newer}").status_code == 204


def test_an_action_on_a_current_page_tells_it_the_new_version(manager):
    """So its next poll does not redraw the lists (and wipe the row's message); a page that was behind
    is not told, and redraws."""
    task = review_task()
    at(T0 + DUE + timedelta(minutes=1))
    page = manager.get("/manager/").text
    form = {"csrf_token": csrf_token(page), "seen": signature(page)}
    breach = escalations_of(task)[-1]
    acknowledged = manager.post(f"/manager/escalations/{breach.id}/acknowledge", data=form, headers=HTMX)
    told = acknowledged.headers["X-Watch-Signature"]
    assert told != form["seen"] and manager.get(f"/manager/watch?seen={told}").status_code == 204

    moved = manager.post(f"/manager/tasks/{task.id}/reassign", headers=HTMX,
                         data={**form, "assignee_id": person("omar").id})  # sent with the old version
    assert moved.status_code == 200 and "X-Watch-Signature" not in moved.headers
    assert manager.get(f"/manager/watch?seen={told}").status_code == 200


def test_a_row_that_leaves_the_lists_is_not_kept(manager):
    """Acknowledging the breach of a finished task takes it off the lists: the page is not told it is
    current, so its next poll redraws the lists without that row."""
    task = review_task()
    at(T0 + DUE + timedelta(minutes=1))
    runtime.complete_task(task.instance_id, task.spiff_task_id, {"approved": True}, actor="dana")
    page = manager.get("/manager/").text
    breach = escalations_of(task)[-1]
    response = manager.post(f"/manager/escalations/{breach.id}/acknowledge", headers=HTMX,
                            data={"csrf_token": csrf_token(page), "seen": signature(page)})
    assert response.status_code == 200 and "X-Watch-Signature" not in response.headers
    redrawn = manager.get(f"/manager/watch?seen={signature(page)}")
    assert redrawn.status_code == 200 and "No open breaches." in redrawn.text


# --- workload ---------------------------------------------------------------------------------------------------------


def test_workload_per_team_and_person(manager):
    """Four order-desk reviews begun at T0, T0+4h, T0+8h and T0+12h, three of them claimed, read at T0+24h30."""
    dana, omar = person("dana"), person("omar")
    tasks = []
    for hours in (0, 4, 8, 12):
        clock.freeze(T0 + timedelta(hours=hours))
        tasks.append(review_task(f"Customer {hours}"))
    tasks[0].assignee_id, tasks[0].state = dana.id, "claimed"
    tasks[1].assignee_id, tasks[1].state = dana.id, "claimed"
    tasks[2].assignee_id, tasks[2].state = omar.id, "claimed"
    db.session.commit()
    clock.freeze(T0 + timedelta(hours=24, minutes=30))
    # Due: T0+24h (overdue), T0+28h (at risk since T0+22h), T0+32h (at risk from T0+26h: not yet), T0+36h.
    assert dashboard.team_workload()[:2] == [
        dashboard.TeamLoad("order_desk", open=4, claimed=3, overdue=1, at_risk=1),
        dashboard.TeamLoad("credit", 0, 0, 0, 0)]
    assert [load.role for load in dashboard.team_workload()] == list(LANE_ROLES)
    people = {load.username: load for load in dashboard.person_workload()}
    assert (people["dana"].assigned, people["dana"].overdue, people["dana"].at_risk) == (2, 1, 1)
    assert (people["omar"].assigned, people["omar"].overdue, people["omar"].at_risk) == (1, 0, 0)
    assert (people["wes"].assigned, people["wes"].teams) == (0, ("warehouse",))
    assert "maria" in people  # a manager works the manager lane
    assert list(people)[0] == "dana"  # the most overdue first

    page = manager.get("/manager/").text
    team = re.search(r'<tr data-team="order_desk">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'<td class="num[^"]*">(\d+)</td>', team) == ["4", "3", "1", "1"]
    dana_row = re.search(r'<tr data-person="dana">(.*?)</tr>', page, re.S).group(1)
    assert "order desk" in dana_row
    assert re.findall(r'<td class="num[^"]*">(\d+)</td>', dana_row) == ["2", "1", "1"]


def test_the_workload_is_drawn_again_after_a_change(manager):
    task = review_task()
    page = manager.get("/manager/").text
    assert 'hx-get="/manager/workload" hx-trigger="workload-changed from:body, every 30s"' in page
    at(T0 + DUE + timedelta(minutes=1))
    assert manager.get(f"/manager/watch?seen={signature(page)}").headers["HX-Trigger"] == "workload-changed"
    moved = manager.post(f"/manager/tasks/{task.id}/reassign", headers=HTMX,
                         data={"csrf_token": csrf_token(page), "assignee_id": person("omar").id})
    assert moved.headers["HX-Trigger"] == "workload-changed"
    fragment = manager.get("/manager/workload").text
    assert fragment.lstrip().startswith('<div id="workload"') and "<html" not in fragment
    omar = re.search(r'<tr data-person="omar">(.*?)</tr>', fragment, re.S).group(1)
    assert re.findall(r'<td class="num[^"]*">(\d+)</td>', omar) == ["1", "1", "0"]


def test_an_inactive_person_still_holding_work_is_listed(manager):
    task = review_task()
    gone = person("gone", "order_desk")
    task.assignee_id, task.state = gone.id, "claimed"
    gone.active = False
    person("idle", "order_desk", active=False)
    db.session.commit()
    people = {load.username: load for load in dashboard.person_workload()}
    assert (people["gone"].assigned, people["gone"].active) == (1, False)
    assert "idle" not in people
    assert "(inactive)" in manager.get("/manager/").text
