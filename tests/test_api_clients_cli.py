"""`flask api-clients create | revoke | list`: tokens are printed once, stored hashed, and revocable."""

from sqlalchemy import func, select

from app.api.auth import hash_token
from app.api.models import ApiClient
from app.extensions import db


def create(runner, *args) -> str:
    result = runner.invoke(args=["api-clients", "create", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_create_prints_a_working_token_once_and_stores_only_its_hash(runner, client, ctx):
    result = runner.invoke(args=["api-clients", "create", "edi-gateway", "--channel", "email"])
    assert result.exit_code == 0, result.output
    assert "API client 'edi-gateway' created for channel email" in result.output
    token = result.output.strip().splitlines()[-1]
    assert len(token) >= 43 and result.output.count(token) == 1
    row = db.session.scalars(select(ApiClient)).one()
    assert (row.name, row.channel, row.active, row.last_used_at) == ("edi-gateway", "email", True, None)
    assert row.token_hash == hash_token(token) and token not in row.token_hash
    response = client.get("/api/v1/orders/SO-2026-000001", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404  # authenticated; there is simply no such order
    listing = runner.invoke(args=["api-clients", "list"])
    assert "edi-gateway" in listing.output and "active" in listing.output and token not in listing.output


def test_channel_defaults_to_web_and_each_client_gets_its_own_token(runner, ctx):
    first, second = create(runner, "shop"), create(runner, "shop-eu")
    assert first != second
    assert set(db.session.scalars(select(ApiClient.channel))) == {"web"}


def test_revoked_token_stops_working_at_once(runner, client, ctx):
    token = create(runner, "shop")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/orders/SO-1", headers=headers).status_code == 404
    result = runner.invoke(args=["api-clients", "revoke", "shop"])
    assert result.exit_code == 0 and "API client 'shop' revoked" in result.output
    assert client.get("/api/v1/orders/SO-1", headers=headers).status_code == 401
    db.session.expire_all()
    assert db.session.scalars(select(ApiClient)).one().active is False
    assert "revoked" in runner.invoke(args=["api-clients", "list"]).output


def test_refusals_exit_nonzero_and_create_nothing(runner, ctx):
    create(runner, "shop")
    for args, says in [
        (["create", "shop"], "exists already"),
        (["create", "no spaces please"], "a name is 1 to 60"),
        (["create", "x" * 61], "a name is 1 to 60"),
        (["create", "fax-robot", "--channel", "pigeon"], "Invalid value for '--channel'"),
        (["revoke", "nobody"], "no API client named 'nobody'"),
    ]:
        result = runner.invoke(args=["api-clients", *args])
        assert result.exit_code != 0 and says in result.output, (args, result.output)
    assert db.session.scalar(select(func.count(ApiClient.id))) == 1
