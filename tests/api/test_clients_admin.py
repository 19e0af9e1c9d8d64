"""API clients are created with scopes and revoked, by `flask api-clients` and on the admin page
/admin/api-clients (admins only, CSRF-protected): the token is shown once, revoking records who and
when, and the token answers 401 from then on."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.api.auth import hash_token
from app.api.models import ApiCall, ApiClient
from app.extensions import db
from tests.api.shop import START, Api, place
from tests.support import csrf_token, login


def cli_create(runner, *args) -> str:
    result = runner.invoke(args=["api-clients", "create", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def row(name: str) -> ApiClient:
    db.session.expire_all()
    return db.session.scalars(select(ApiClient).where(ApiClient.name == name)).one()


# The command line ---------------------------------------------------------------------------------


def test_cli_creates_a_client_with_the_scopes_given_and_every_scope_by_default(runner, shop, client):
    reader = cli_create(runner, "reader", "--scopes", "orders:read exceptions:read")
    cli_create(runner, "everything", "--channel", "email")
    assert row("reader").scopes == "orders:read exceptions:read"
    assert row("everything").scopes == "orders:read orders:write events:write exceptions:read exceptions:write"
    assert row("reader").created_by == "cli"
    api = Api(client, reader)
    assert api.get("/api/v1/orders/SO-1").status_code == 404
    assert api.post("/api/v1/orders", {}).json["details"] == {"scope": "orders:write"}
    lines = {line.split()[0]: line for line in runner.invoke(args=["api-clients", "list"]).output.splitlines()}
    assert "orders:read exceptions:read" in lines["reader"] and "[active]" in lines["reader"]
    assert "never used" in lines["everything"] and "never used" not in lines["reader"]


@pytest.mark.parametrize(("scopes", "says"), [
    ("orders:read orders:delete", "unknown scope orders:delete"),
    ("", "at least one scope"),
])
def test_cli_refuses_unknown_or_no_scopes_and_creates_nothing(runner, ctx, scopes, says):
    result = runner.invoke(args=["api-clients", "create", "shop", "--scopes", scopes])
    assert result.exit_code != 0 and says in result.output
    assert db.session.scalar(select(func.count(ApiClient.id))) == 0


def test_cli_revoke_records_who_and_when_and_the_token_stops_working(runner, shop, client):
    token = cli_create(runner, "shop")
    assert Api(client, token).get("/api/v1/orders/SO-1").status_code == 404
    clock.freeze(START + timedelta(hours=3))
    result = runner.invoke(args=["api-clients", "revoke", "shop", "--by", "ops-anna"])
    assert result.exit_code == 0 and "revoked" in result.output
    revoked = row("shop")
    assert (revoked.active, revoked.revoked_at, revoked.revoked_by) == (False, START + timedelta(hours=3), "ops-anna")
    response = Api(client, token).get("/api/v1/orders/SO-1")
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    again = runner.invoke(args=["api-clients", "revoke", "shop"])
    assert again.exit_code != 0 and "revoked already" in again.output
    assert row("shop").revoked_by == "ops-anna"  # the first revocation stays on record
    assert "revoked 2026-03-02 11:00 by ops-anna" in runner.invoke(args=["api-clients", "list"]).output


# The admin page -----------------------------------------------------------------------------------


@pytest.fixture
def admin(shop, client, make_user):
    make_user("root", "admin")
    login(client, "root")
    return client


def create_on_page(client, **fields):
    page = client.get("/admin/api-clients")
    assert page.status_code == 200
    data = {"name": "webshop", "channel": "web", "scopes": ["orders:read", "orders:write"],
            "csrf_token": csrf_token(page.text)}
    data.update(fields)
    return client.post("/admin/api-clients", data=data)


def token_on(page) -> str:
    text = page.text
    start = text.index('id="token"')
    return text[text.index('value="', start) + 7:text.index('"', text.index('value="', start) + 7)]


def test_admin_creates_a_client_with_checked_scopes_and_sees_its_token_once(admin, client):
    form = client.get("/admin/api-clients")
    assert form.text.count('type="checkbox"') == 5 and form.text.count("checked") == 5  # every scope offered
    created = create_on_page(admin, name="webshop", channel="email", scopes=["orders:read", "orders:write"])
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    token = token_on(created)
    assert len(token) >= 43 and "shown only this once" in created.text
    stored = row("webshop")
    assert (stored.channel, stored.scopes, stored.created_by, stored.token_hash) == (
        "email", "orders:read orders:write", "root", hash_token(token))
    assert token not in client.get("/admin/api-clients").text
    assert token not in client.get(f"/admin/api-clients/{stored.id}").text
    api = Api(client, token)
    number = place(api)
    assert api.get(f"/api/v1/orders/{number}").status_code == 200
    assert api.post(f"/api/v1/orders/{number}/events", {"type": "complaint"}).status_code == 403


@pytest.mark.parametrize(("fields", "says"), [
    ({"scopes": []}, "at least one scope"),
    ({"name": "no spaces"}, "a name is 1 to 60"),
    ({"channel": "pigeon"}, "Not a valid choice"),
])
def test_admin_form_refuses_bad_input_and_creates_nothing(admin, fields, says):
    response = create_on_page(admin, **fields)
    assert response.status_code == 422 and says in response.text and 'id="token"' not in response.text
    assert db.session.scalar(select(func.count(ApiClient.id))) == 0


def test_admin_form_needs_its_csrf_token(admin):
    response = admin.post("/admin/api-clients", data={"name": "webshop", "channel": "web", "scopes": ["orders:read"]})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(ApiClient.id))) == 0


def test_admin_revokes_a_client_and_its_token_answers_401(admin, client):
    token = token_on(create_on_page(admin))
    client_id = row("webshop").id
    detail = client.get(f"/admin/api-clients/{client_id}")
    assert "return confirm(" in detail.text and "Revoke webshop?" in detail.text
    clock.freeze(START + timedelta(minutes=5))
    response = client.post(f"/admin/api-clients/{client_id}/revoke", data={"csrf_token": csrf_token(detail.text)})
    assert response.status_code == 302
    revoked = row("webshop")
    assert (revoked.active, revoked.revoked_by, revoked.revoked_at) == (False, "root", START + timedelta(minutes=5))
    assert Api(client, token).get("/api/v1/orders/SO-1").status_code == 401
    page = client.get(f"/admin/api-clients/{client_id}").text
    assert "revoked" in page and "Revoke client" not in page


def test_the_list_shows_each_clients_scopes_state_last_use_and_calls_of_the_last_day(admin, client):
    token = token_on(create_on_page(admin, name="busy"))
    token_on(create_on_page(admin, name="idle", scopes=["exceptions:read"]))
    api = Api(client, token)
    for _ in range(3):
        api.get("/api/v1/orders/SO-404")
    db.session.add(ApiCall(client_id=row("busy").id, method="GET", path="/api/v1/orders/SO-1", status=200,
                           at=START - timedelta(hours=25)))  # older than a day: not counted
    db.session.commit()
    page = client.get("/admin/api-clients").text
    busy = re.search(rf'<tr id="client-{row("busy").id}">(.*?)</tr>', page, re.S).group(1)
    assert "orders:read" in busy and "active" in busy and "2026-03-02 08:00" in busy
    assert '<td class="number">3</td>' in busy
    assert "exceptions:read" in page and "never" in page


def test_the_detail_page_lists_the_calls_newest_first_fifty_to_a_page(admin, client):
    token = token_on(create_on_page(admin))
    client_id = row("webshop").id
    api = Api(client, token)
    for minute in range(51):
        clock.freeze(START + timedelta(minutes=minute))
        api.get(f"/api/v1/orders/SO-{minute:03d}")
    first = client.get(f"/admin/api-clients/{client_id}").text
    assert "SO-050" in first and "SO-001" in first and "SO-000" not in first and "Page 1 of 2" in first
    second = client.get(f"/admin/api-clients/{client_id}?page=2").text
    assert "SO-000" in second and "SO-001" not in second
    assert "There is no page 9" in client.get(f"/admin/api-clients/{client_id}?page=9").text


@pytest.mark.parametrize("role", ["manager", "order_desk", "process_owner"])
def test_only_admins_reach_the_pages(shop, client, make_user, role):
    make_user("someone", role)
    login(client, "someone")
    assert client.get("/admin/api-clients").status_code == 403
    assert client.post("/admin/api-clients", data={}).status_code in (400, 403)  # CSRF or role: never created
    assert b"API clients" not in client.get("/account").data
    assert db.session.scalar(select(func.count(ApiClient.id))) == 0


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/admin/api-clients")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admins_see_the_link_in_the_menu(admin, client):
    assert 'href="/admin/api-clients"' in client.get("/account").text
