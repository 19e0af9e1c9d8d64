"""The outbox page: who sees it, the status filter and counts, one message, and "send again"."""

import re
from datetime import UTC, datetime

import pytest

from app import clock
from app.extensions import db
from app.notifications import bounces, sender
from app.notifications.models import OutboxMessage
from tests.support import csrf_token, login

ROLES = ["order_desk", "warehouse", "finance", "customer_service", "manager", "admin"]
MAY_SEE = {"customer_service", "manager", "admin"}


@pytest.fixture
def as_(make_user):
    """Log the client in as a member of `role`, created on first use."""
    made = set()

    def sign_in(client, role: str):
        if role not in made:
            make_user(role.replace("_", ""), role)
            made.add(role)
        login(client, role.replace("_", ""))
        return client

    return sign_in


def rows(html: str) -> list[int]:
    return [int(number) for number in re.findall(r'data-message="(\d+)"', html)]


def reload(message: OutboxMessage) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, message.id)


@pytest.fixture
def mixed(smtp, queue_message):
    """One message of each status: sent, bounced (550), failed (no address), queued (server gone)."""
    clock.freeze(datetime(2030, 3, 4, 9, 0, tzinfo=UTC))
    smtp.start()
    sent = queue_message()
    sender.send_due()
    smtp.handler.rcpt_replies.append("550 5.1.1 <buyer@example.com>: User unknown")
    bounced = queue_message()
    sender.send_due()
    failed = queue_message("Nobody Ltd", email="")
    sender.send_due()
    smtp.stop()
    queued = queue_message("Zhang Trading", locale="zh")
    sender.send_due()
    return {"sent": reload(sent), "bounced": reload(bounced), "failed": reload(failed), "queued": reload(queued)}


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get("/outbox").status_code == 302
    assert client.get("/outbox/1").status_code == 302


@pytest.mark.parametrize("role", ROLES)
def test_only_customer_service_managers_and_admins_see_the_outbox(client, as_, mixed, role):
    as_(client, role)
    expected = 200 if role in MAY_SEE else 403
    assert client.get("/outbox").status_code == expected
    assert client.get(f"/outbox/{mixed['sent'].id}").status_code == expected
    home = client.get("/orders").text
    assert ('href="/outbox"' in home) == (role in MAY_SEE)


def test_the_list_counts_and_filters_by_status(client, as_, mixed):
    as_(client, "customer_service")
    page = client.get("/outbox").text
    assert sorted(rows(page)) == sorted(m.id for m in mixed.values())
    for status in ("queued", "sent", "failed", "bounced"):
        assert f'data-status="{status}">1</span>' in page
    assert 'data-status="">4</span>' in page
    for status, message in mixed.items():
        assert rows(client.get(f"/outbox?status={status}").text) == [message.id]
    # An unknown status shows everything, as the other lists do; a page past the end says so.
    assert len(rows(client.get("/outbox?status=nonsense").text)) == 4
    assert "There is no page 9." in client.get("/outbox?page=9").text


def test_the_list_pages(client, as_, queue_message, monkeypatch):
    monkeypatch.setattr("app.web.outbox.PER_PAGE", 2)
    made = [queue_message().id for _ in range(5)]
    as_(client, "manager")
    seen = [rows(client.get(f"/outbox?page={n}").text) for n in (1, 2, 3)]
    assert seen == [made[4:2:-1], made[2:0:-1], made[:1]]
    assert 'rel="next"' in client.get("/outbox?status=queued").text


def test_one_message_shows_its_text_and_delivery(client, as_, mixed):
    as_(client, "manager")
    bounced = mixed["bounced"]
    page = client.get(f"/outbox/{bounced.id}").text
    assert bounced.subject in page
    assert "Dear ACME Ltd," in page
    assert "buyer@example.com" in page
    assert bounced.message_id.replace("<", "&lt;").replace(">", "&gt;") in page
    assert "550 5.1.1 &lt;buyer@example.com&gt;: User unknown" in page
    assert f'href="/orders/{bounced.subject.split()[1]}"' in page
    queued = client.get(f"/outbox/{mixed['queued'].id}").text
    assert "尊敬的 Zhang Trading" in queued
    assert "cannot reach the mail server" in queued
    assert client.get("/outbox/999999").status_code == 404


def test_the_page_says_when_no_smtp_server_is_configured(app, client, as_, mixed):
    as_(client, "customer_service")
    assert "data-no-mail-server" not in client.get("/outbox").text
    app.config["MAIL_SERVER"] = ""
    assert "No SMTP server is configured" in client.get("/outbox").text
    assert "No SMTP server is configured" in client.get(f"/outbox/{mixed['sent'].id}").text


@pytest.mark.parametrize("status", ["bounced", "failed"])
def test_customer_service_sends_a_failed_or_bounced_message_again(client, as_, mixed, smtp, status):
    message = mixed[status]
    if status == "failed":  # the reason it failed: the customer had no address; now there is one
        db.session.execute(db.text("UPDATE customer SET email = 'new@example.com' WHERE code = 'NOBODYLTD'"))
        db.session.commit()
    as_(client, "customer_service")
    detail = client.get(f"/outbox/{message.id}").text
    assert "Send again" in detail
    assert "confirm(" in detail

    response = client.post(f"/outbox/{message.id}/send-again", data={"csrf_token": csrf_token(detail)})

    assert response.status_code == 302
    again = reload(message)
    assert (again.status, again.attempts, again.next_attempt_at, again.bounce_reason) == ("queued", 0, None, "")
    assert again.to_address == ("buyer@example.com" if status == "bounced" else "new@example.com")
    assert again.last_error  # what went wrong before stays readable
    assert "is queued again" in client.get(response.location).text
    smtp.start()
    assert sender.send_due().sent == 1  # the one queued while the server was gone waits for its retry time
    assert reload(message).status == "sent"
    assert smtp.handler.message_ids == [mixed["sent"].message_id, again.message_id]


def test_send_again_is_refused_for_others_and_for_messages_that_did_not_fail(client, as_, mixed):
    as_(client, "manager")
    token = csrf_token(client.get("/outbox").text)
    assert "Send again" not in client.get(f"/outbox/{mixed['bounced'].id}").text
    assert client.post(f"/outbox/{mixed['bounced'].id}/send-again", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})

    as_(client, "customer_service")
    token = csrf_token(client.get("/outbox").text)
    for status in ("sent", "queued"):
        message = mixed[status]
        assert "Send again" not in client.get(f"/outbox/{message.id}").text
        refused = client.post(f"/outbox/{message.id}/send-again", data={"csrf_token": token})
        assert refused.status_code == 409
        assert f"Message {message.id} is {status}" in refused.text
        assert reload(message).status == status
    assert client.post(f"/outbox/{mixed['bounced'].id}/send-again").status_code == 400  # no CSRF token
    assert client.post("/outbox/999999/send-again", data={"csrf_token": token}).status_code == 404
    assert reload(mixed["bounced"]).status == "bounced"


def test_a_bounce_recorded_later_shows_on_the_page(client, as_, mixed):
    bounces.record_bounce(mixed["sent"], "mailbox full")
    db.session.commit()
    as_(client, "customer_service")
    assert rows(client.get("/outbox?status=bounced").text) == sorted([mixed["sent"].id, mixed["bounced"].id],
                                                                       reverse=True)
