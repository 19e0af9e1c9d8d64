"""The SLA clock on a task's page: staff pause it while waiting on the customer and resume it;
managers give more time; others may not; bad input changes nothing."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.sla.models import SlaChange, SlaPause
from app.workflow import runtime
from app.workflow.models import HumanTask
from tests.support import csrf_token, login, simple_order

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # no policy: due a day later, around the clock


@pytest.fixture
def review(ctx, deployed, make_user):
    clock.freeze(T0)
    make_user("dana", "order_desk")
    make_user("walt", "warehouse")
    make_user("mia", "manager")
    order = simple_order()
    db.session.commit()
    runtime.start("order_process", order.number, {"order_number": order.number, "entered_by": "desk"})
    return db.session.scalar(select(HumanTask).where(HumanTask.element_id == "review_order"))


def _post(client, task, action: str, **data):
    token = csrf_token(client.get(f"/tasks/{task.id}").text)
    return client.post(f"/tasks/{task.id}/clock/{action}", data={"csrf_token": token, **data})


def _due(task) -> datetime:
    db.session.expire_all()
    return db.session.get(HumanTask, task.id).due_at


def test_the_task_page_offers_pause_to_its_team_and_extension_to_managers(client, review):
    login(client, "dana")
    page = client.get(f"/tasks/{review.id}").text
    assert "Pause the clock" in page and "Give more time" not in page
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    login(client, "mia")
    page = client.get(f"/tasks/{review.id}").text
    assert "Pause the clock" in page and "Give more time" in page


def test_staff_pause_while_waiting_on_the_customer_and_resume_and_the_due_time_moves_out(client, review):
    login(client, "dana")
    response = _post(client, review, "pause", reason="asked which colour")
    assert response.status_code == 303
    page = client.get(f"/tasks/{review.id}").text
    assert "Paused by dana" in page and "asked which colour" in page and "resume the clock" in page
    clock.advance(timedelta(hours=3))
    response = _post(client, review, "resume")
    assert response.status_code == 303
    assert "moved out by the pause (3 h 0 min)" in client.get(f"/tasks/{review.id}").text
    assert _due(review) == T0 + timedelta(hours=27)
    assert db.session.scalar(select(SlaPause)).resumed_by == "dana"


def test_a_manager_extends_a_task_and_the_change_is_audited(client, review):
    login(client, "mia")
    response = _post(client, review, "extend", hours="4", note="customer on holiday")
    assert response.status_code == 303
    assert _due(review) == T0 + timedelta(hours=28)
    change = db.session.scalar(select(SlaChange))
    assert (change.by, change.action, change.note) == ("mia", "extended", "customer on holiday")
    assert "has 4 more hours" in client.get(f"/tasks/{review.id}").text


@pytest.mark.parametrize("data, message", [
    ({"hours": "3", "note": "x"}, "choose how many hours to add"),
    ({"hours": "abc", "note": "x"}, "choose how many hours to add"),
    ({"hours": "4", "note": ""}, "say why the task gets more time")])
def test_a_bad_extension_is_refused_with_a_message_and_changes_nothing(client, review, data, message):
    login(client, "mia")
    response = _post(client, review, "extend", **data)
    assert response.status_code == 303
    assert message in client.get(f"/tasks/{review.id}").text
    assert _due(review) == T0 + timedelta(hours=24) and db.session.scalar(select(SlaChange)) is None


def test_staff_may_not_extend_nor_touch_another_teams_clock(client, review):
    login(client, "dana")
    assert _post(client, review, "extend", hours="4", note="x").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/inbox").text)})
    login(client, "walt")
    token = csrf_token(client.get("/inbox").text)
    assert client.post(f"/tasks/{review.id}/clock/pause", data={"csrf_token": token, "reason": "x"}).status_code \
        in (403, 404)
    assert db.session.scalar(select(SlaPause)) is None and _due(review) == T0 + timedelta(hours=24)


def test_a_pause_without_the_csrf_token_is_refused(client, review):
    login(client, "dana")
    response = client.post(f"/tasks/{review.id}/clock/pause", data={"reason": "x"})
    assert response.status_code == 400
    assert db.session.scalar(select(SlaPause)) is None
