"""The pages of this foundation: log in, the home page, the process overview, and an admin's instance actions."""

import pytest
from sqlalchemy import select

from app.accounts.roles import ALL
from app.extensions import db
from app.workflow import runtime
from app.workflow.models import InstanceEvent, ProcessInstance
from tests.support import csrf_token, login


@pytest.fixture
def started(deployed, make_order):
    order = make_order()
    return runtime.start("order_process", order.number, {"order_number": order.number})


def _sent_to_login(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", ["/", "/processes"])
def test_pages_need_login(client, url):
    assert _sent_to_login(client.get(url))


@pytest.mark.parametrize("role", ALL)
def test_home_sends_staff_to_the_inbox_and_the_others_to_the_overview(client, make_user, role):
    make_user("someone", role)
    login(client, "someone")
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == ("/processes" if role == "process_owner" else "/inbox")


def test_login_with_wrong_password_is_refused(client, make_user):
    make_user("dana", "order_desk")
    page = client.get("/login")
    response = client.post("/login", data={"username": "dana", "password": "nope", "csrf_token": csrf_token(page.text)})
    assert response.status_code == 200 and "Wrong username or password" in response.text
    assert _sent_to_login(client.get("/"))


def test_login_without_csrf_token_is_refused(client, make_user):
    make_user("dana", "order_desk")
    response = client.post("/login", data={"username": "dana", "password": "secret-pass"})
    assert response.status_code == 400
    assert _sent_to_login(client.get("/"))


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example/x", "/instances/1"])
def test_login_redirects_only_to_local_paths(client, make_user, target):
    make_user("dana", "order_desk")
    page = client.get(f"/login?next={target}")
    response = client.post(
        f"/login?next={target}",
        data={"username": "dana", "password": "secret-pass", "csrf_token": csrf_token(page.text)},
    )
    expected = target if target == "/instances/1" else "/"
    assert response.headers["Location"] == expected


def test_overview_lists_definitions_and_instances(client, make_user, started):
    make_user("dana", "order_desk")
    login(client, "dana")
    page = client.get("/processes")
    assert page.status_code == 200
    assert "order_process" in page.text and started.business_key in page.text


def test_overview_empty_state(client, make_user):
    make_user("dana", "order_desk")
    login(client, "dana")
    page = client.get("/processes")
    assert "Nothing is deployed yet" in page.text and "No process has been started yet" in page.text


@pytest.mark.parametrize("role", ALL)
def test_instance_page_is_for_managers_process_owners_and_admins(client, make_user, started, role):
    make_user("someone", role)
    login(client, "someone")
    response = client.get(f"/instances/{started.id}")
    allowed = role in ("manager", "process_owner", "admin")
    assert response.status_code == (200 if allowed else 403)
    if allowed:
        assert started.business_key in response.text and "started" in response.text


@pytest.mark.parametrize("role", [r for r in ALL if r != "admin"])
@pytest.mark.parametrize("action", ["retry", "cancel"])
def test_only_admins_retry_or_cancel(client, make_user, started, role, action):
    make_user("someone", role)
    login(client, "someone")
    token = _any_token(client)
    response = client.post(f"/instances/{started.id}/{action}", data={"csrf_token": token, "reason": "x"})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(ProcessInstance, started.id).status == "running"


def _any_token(client) -> str:
    # The overview page carries the log-out form, so it always has a token for this session.
    return csrf_token(client.get("/processes").text)


def test_admin_cancels_with_reason_and_it_is_audited(client, make_user, started):
    make_user("root", "admin")
    login(client, "root")
    token = _any_token(client)
    refused = client.post(f"/instances/{started.id}/cancel", data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 302
    db.session.expire_all()
    assert db.session.get(ProcessInstance, started.id).status == "running"
    done = client.post(f"/instances/{started.id}/cancel", data={"csrf_token": token, "reason": "duplicate order"},
                       follow_redirects=True)
    assert "was cancelled" in done.text
    db.session.expire_all()
    assert db.session.get(ProcessInstance, started.id).status == "cancelled"
    event = db.session.scalar(select(InstanceEvent).where(InstanceEvent.kind == "cancelled"))
    assert (event.actor, event.detail["reason"]) == ("root", "duplicate order")
    again = client.post(f"/instances/{started.id}/cancel", data={"csrf_token": token, "reason": "again"})
    assert again.status_code == 409 and "already cancelled" in again.text


def test_admin_post_without_csrf_token_changes_nothing(client, make_user, started):
    make_user("root", "admin")
    login(client, "root")
    response = client.post(f"/instances/{started.id}/cancel", data={"reason": "no token"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(ProcessInstance, started.id).status == "running"


def test_retry_of_a_healthy_instance_is_a_clear_conflict(client, make_user, started):
    make_user("root", "admin")
    login(client, "root")
    response = client.post(f"/instances/{started.id}/retry", data={"csrf_token": _any_token(client)})
    assert response.status_code == 409 and "is not in error" in response.text


def test_unknown_instance_is_404(client, make_user):
    make_user("boss", "manager")
    login(client, "boss")
    assert client.get("/instances/999").status_code == 404


def test_logout_needs_post_with_token(client, make_user):
    make_user("dana", "order_desk")
    login(client, "dana")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout", data={"csrf_token": _any_token(client)}).status_code == 302
    assert _sent_to_login(client.get("/"))


def test_every_login_and_logout_starts_a_fresh_session(client, make_user):
    make_user("dana", "order_desk")
    make_user("omar", "order_desk")
    before_login = csrf_token(client.get("/login").text)
    login(client, "dana")
    as_dana = csrf_token(client.get("/orders").text)
    assert as_dana != before_login  # a token planted before the login is worthless after it
    client.post("/logout", data={"csrf_token": as_dana})
    after_logout = csrf_token(client.get("/login").text)
    assert after_logout != as_dana
    login(client, "omar")
    assert csrf_token(client.get("/orders").text) not in (as_dana, after_logout)
    # dana's old token no longer works for omar
    assert client.post("/logout", data={"csrf_token": as_dana}).status_code == 400
