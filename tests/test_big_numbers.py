"""Numbers beyond what the databases store, in URLs and forms: not found or refused, never a 500."""

import pytest

from tests.support import csrf_token, login

HUGE = "99999999999999999999"


@pytest.fixture
def manager(client, make_user):
    make_user("mia", "manager")
    login(client, "mia")
    return client


@pytest.mark.parametrize("path", [f"/tasks/{HUGE}", f"/instances/{HUGE}", f"/orders?page={HUGE}",
                                  f"/exceptions?page={HUGE}", f"/manager/sla/history?page={HUGE}"])
def test_a_huge_number_in_a_url_is_not_found_or_the_last_page(manager, path):
    assert manager.get(path).status_code in (200, 404)


@pytest.mark.parametrize("path, data", [
    (f"/tasks/{HUGE}/clock/extend", {"hours": "4", "note": "x"}),
    (f"/manager/escalations/{HUGE}/acknowledge", {}),
    ("/manager/tasks/1/reassign", {"assignee_id": HUGE}),
    ("/tasks/1/reassign", {"assignee_id": HUGE})])
def test_a_huge_number_in_a_form_or_action_is_refused(manager, path, data):
    token = csrf_token(manager.get("/manager/").text)
    assert manager.post(path, data={"csrf_token": token, **data}).status_code in (400, 404, 422)
