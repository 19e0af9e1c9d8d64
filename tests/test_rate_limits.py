"""Rate limits: every API call counts against its client, unknown tokens against their address, login
attempts against the username and the address; over a limit the answer is 429 with Retry-After — JSON in
the API's error shape, a page in the normal layout for the login form — until the window ends."""

import secrets

import pytest
from sqlalchemy import func, select

from app.api import auth
from app.extensions import db
from app.orders.models import Order
from tests.support import csrf_token, login

MISSING = "/api/v1/orders/SO-999999"  # any call counts; this one reads nothing and writes nothing


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "3 per minute",
            "API_AUTH_FAILURE_RATE_LIMIT": "100 per minute"}


class FrozenTime:
    """Stands in for the `time` module where the limits read the clock: counts live in Flask-Limiter's
    memory storage, which reads time.time(), so a window ends when the test moves this clock on."""

    def __init__(self):
        self.now = 1_780_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def limits_clock(monkeypatch):
    frozen = FrozenTime()
    monkeypatch.setattr("limits.storage.memory.time", frozen)
    monkeypatch.setattr("app.ratelimits.time", frozen)
    return frozen


@pytest.fixture
def token(ctx):
    def make(name: str) -> str:
        _client, token = auth.create_client(name, "web")
        db.session.commit()
        return token

    return make


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_an_api_client_over_its_limit_gets_429_in_the_error_shape(client, token, limits_clock):
    headers = bearer(token("webshop"))
    for remaining in (2, 1, 0):
        response = client.get(MISSING, headers=headers)
        assert response.status_code == 404
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
        assert response.headers["X-RateLimit-Reset"] == str(int(limits_clock.now) + 60)
        assert "Retry-After" not in response.headers

    limits_clock.now += 15
    response = client.get(MISSING, headers=headers)
    assert response.status_code == 429
    assert response.is_json
    assert response.json == {"error": "rate_limited",
                             "message": "this API client sent too many requests (3 per 1 minute); retry after 45 s",
                             "details": {"limit": "3 per 1 minute", "retry_after": 45}}
    assert response.headers["Retry-After"] == "45"
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "0"


def test_a_refused_post_is_not_looked_at_and_writes_nothing(client, token):
    headers = bearer(token("webshop"))
    for _ in range(3):
        client.get(MISSING, headers=headers)
    response = client.post("/api/v1/orders", json={"customer_code": "NOBODY"},
                           headers=headers | {"Idempotency-Key": "order-1"})
    assert response.status_code == 429  # not 422: the limit is checked before the body is read
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_each_client_has_its_own_count(client, token):
    first, second = bearer(token("webshop")), bearer(token("edi-gateway"))
    for _ in range(3):
        assert client.get(MISSING, headers=first).status_code == 404
    assert client.get(MISSING, headers=first).status_code == 429

    response = client.get(MISSING, headers=second)
    assert response.status_code == 404
    assert response.headers["X-RateLimit-Remaining"] == "2"


def test_calls_without_a_token_count_against_their_address(client, token):
    for _ in range(3):
        assert client.get(MISSING).status_code == 401
    assert client.get(MISSING).status_code == 429
    assert client.get(MISSING, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 401
    assert client.get(MISSING, headers=bearer(token("webshop"))).status_code == 404


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "API_AUTH_FAILURE_RATE_LIMIT": "3 per minute"}])
def test_unknown_tokens_count_against_their_address(client, token):
    """A new token each time does not make a new count: the 401s add up per address."""
    for _ in range(3):
        assert client.get(MISSING, headers=bearer(secrets.token_urlsafe(32))).status_code == 401
    response = client.get(MISSING, headers=bearer(token("webshop")))
    assert response.status_code == 429
    assert response.json["message"].startswith("this address sent too many requests with an unknown or revoked token")
    assert response.json["details"]["limit"] == "3 per 1 minute"

    elsewhere = client.get(MISSING, headers=bearer(token("edi-gateway")), environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert elsewhere.status_code == 404


def test_the_count_starts_afresh_when_the_window_ends(client, token, limits_clock):
    headers = bearer(token("webshop"))
    for _ in range(3):
        client.get(MISSING, headers=headers)
    limits_clock.now += 59
    response = client.get(MISSING, headers=headers)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"

    limits_clock.now += 1
    response = client.get(MISSING, headers=headers)
    assert response.status_code == 404
    assert response.headers["X-RateLimit-Remaining"] == "2"


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": False, "API_RATE_LIMIT": "1 per minute",
                                         "LOGIN_RATE_LIMIT": "1 per minute"}])
def test_limits_can_be_switched_off(client, token, make_user):
    headers = bearer(token("webshop"))
    for _ in range(5):
        response = client.get(MISSING, headers=headers)
        assert response.status_code == 404
        assert "X-RateLimit-Limit" not in response.headers
    make_user("dana", "order_desk")
    for _ in range(5):
        assert attempt(client, "dana", "wrong").status_code == 200


def attempt(client, username: str, password: str, **kwargs):
    page = client.get("/login", **kwargs)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(page.text)},
                       **kwargs)


def logged_in(client) -> bool:
    return client.get("/inbox").status_code == 200


def test_the_eleventh_login_attempt_for_a_username_gets_a_page_saying_when_to_try_again(client, make_user):
    make_user("dana", "order_desk")
    make_user("erin", "order_desk")
    for typed in ["dana"] * 5 + ["Dana", " DANA "] * 2 + ["dana"]:  # ten attempts, however it is typed
        response = attempt(client, typed, "wrong")
        assert response.status_code == 200
        assert "Wrong username or password." in response.text

    response = attempt(client, "dana", "secret-pass")  # the right password, but too late
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "60"
    assert "<h1>Too many attempts</h1>" in response.text
    assert "Too many attempts in a short time. Try again in 1 min." in response.text
    assert '<a class="brand" href="/">Orderly</a>' in response.text  # the normal layout
    assert not logged_in(client)

    attempt(client, "erin", "secret-pass")  # another account from the same address
    assert logged_in(client)


def test_a_login_page_answer_over_the_limit_says_less_than_a_minute_near_the_end(client, make_user, limits_clock,
                                                                                 app):
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    make_user("dana", "order_desk")
    attempt(client, "dana", "wrong")
    limits_clock.now += 45
    response = attempt(client, "dana", "wrong")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "15"
    assert "Try again in less than a minute." in response.text


def test_login_attempts_from_one_address_are_limited_across_usernames(client, make_user, app):
    app.config["LOGIN_ADDRESS_RATE_LIMIT"] = "5 per minute"
    make_user("dana", "order_desk")
    for number in range(5):
        assert attempt(client, f"guess{number}", "wrong").status_code == 200
    assert attempt(client, "dana", "secret-pass").status_code == 429

    elsewhere = {"environ_base": {"REMOTE_ADDR": "192.0.2.7"}}
    assert attempt(client, "dana", "secret-pass", **elsewhere).status_code == 302


def test_a_successful_login_clears_its_usernames_count(client, make_user, app):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    make_user("dana", "order_desk")
    for _ in range(2):
        attempt(client, "dana", "wrong")
    login(client, "dana")
    assert logged_in(client)
    assert client.post("/logout", data={"csrf_token": csrf_token(client.get("/inbox").text)}).status_code == 302

    for _ in range(3):
        assert attempt(client, "dana", "wrong").status_code == 200
    assert attempt(client, "dana", "wrong").status_code == 429


def test_a_login_answer_over_the_limit_is_json_for_a_json_client(client, make_user, app):
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    make_user("dana", "order_desk")
    attempt(client, "dana", "wrong")
    response = attempt(client, "dana", "wrong", headers={"Accept": "application/json"})
    assert response.status_code == 429
    assert response.json["error"] == "Too many requests"
    assert response.headers["Retry-After"] == "60"
