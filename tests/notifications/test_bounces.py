"""Bounces after the server accepted a message: delivery status notifications (RFC 3464) read from
files, and bounces an operator records by hand."""

import pytest

from app.extensions import db
from app.notifications import bounces, sender
from app.notifications.models import OutboxMessage


def reload(message: OutboxMessage) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, message.id)


def dsn(message_id: str, action: str = "failed", quote: str = "headers") -> bytes:
    """A notification as Postfix writes one; the original quoted as headers or as the whole message."""
    status = "5.1.1" if action == "failed" else "4.4.1"
    original = (f"Message-ID: {message_id}\nSubject: Order SO-1 confirmed\nTo: buyer@example.com\n"
                "Content-Type: text/plain; charset=utf-8\n")
    if quote == "headers":
        quoted = f"Content-Type: text/rfc822-headers\n\n{original}"
    else:
        quoted = f"Content-Type: message/rfc822\n\n{original}\nDear ACME Ltd, ...\n"
    text = f"""From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: orders@orderly.test
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="B0UND"

--B0UND
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.

I'm sorry to have to inform you that your message could not be delivered.

--B0UND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
Arrival-Date: Mon,  4 Mar 2030 09:00:01 +0000 (UTC)

Final-Recipient: rfc822; buyer@example.com
Original-Recipient: rfc822;buyer@example.com
Action: {action}
Status: {status}
Remote-MTA: dns; mail.example.com
Diagnostic-Code: smtp; 550 5.1.1 <buyer@example.com>: Recipient address
    rejected: User unknown in virtual mailbox table

--B0UND
{quoted}
--B0UND--
"""
    return text.replace("\n", "\r\n").encode()


@pytest.fixture
def delivered(smtp, queue_message):
    """A message the server accepted, so it has its Message-ID."""
    smtp.start()
    message = queue_message()
    sender.send_due()
    message = reload(message)
    assert message.status == "sent"
    return message


@pytest.mark.parametrize("quote", ["headers", "message"])
def test_a_delivery_status_notification_names_the_message_and_why(delivered, quote):
    report = bounces.read_report(dsn(delivered.message_id, quote=quote))
    assert report.message_id == delivered.message_id
    assert report.failed
    assert report.recipient == "buyer@example.com"
    assert report.status == "5.1.1"
    assert report.reason == ("5.1.1 for buyer@example.com: 550 5.1.1 <buyer@example.com>: Recipient address "
                             "rejected: User unknown in virtual mailbox table")


def test_flask_outbox_bounces_records_the_bounce_from_files(delivered, runner, tmp_path):
    path = tmp_path / "bounce.eml"
    path.write_bytes(dsn(delivered.message_id))

    result = runner.invoke(args=["outbox", "bounces", str(path)])

    assert result.exit_code == 0, result.output
    assert f"message {delivered.id} bounced: 5.1.1 for buyer@example.com" in result.output
    bounced = reload(delivered)
    assert bounced.status == "bounced"
    assert bounced.bounced_at is not None
    assert "User unknown in virtual mailbox table" in bounced.bounce_reason
    # The same notification again changes nothing.
    again = runner.invoke(args=["outbox", "bounces", str(path)])
    assert again.exit_code == 0
    assert "had already bounced" in again.output
    assert reload(delivered).bounced_at == bounced.bounced_at


def test_a_delay_notice_is_not_a_bounce(delivered, runner, tmp_path):
    path = tmp_path / "delayed.eml"
    path.write_bytes(dsn(delivered.message_id, action="delayed"))
    result = runner.invoke(args=["outbox", "bounces", str(path)])
    assert result.exit_code == 0
    assert "was delayed, not refused" in result.output
    assert reload(delivered).status == "sent"


def test_files_that_cannot_be_used_are_named_and_exit_1(delivered, runner, tmp_path):
    unknown = tmp_path / "unknown.eml"
    unknown.write_bytes(dsn("<someone-else@example.com>"))
    plain = tmp_path / "plain.eml"
    plain.write_bytes(b"Subject: hello\n\njust a message\n")
    good = tmp_path / "good.eml"
    good.write_bytes(dsn(delivered.message_id))

    result = runner.invoke(args=["outbox", "bounces", str(unknown), str(plain), str(good)])

    assert result.exit_code == 1
    assert f"{unknown}: no outbox message has the Message-ID <someone-else@example.com>" in result.output
    assert f"{plain}: not a delivery status notification" in result.output
    assert reload(delivered).status == "bounced"  # the usable file still counts


@pytest.mark.parametrize("by", ["header", "bare", "number"])
def test_flask_outbox_bounce_records_a_bounce_by_hand(delivered, runner, by):
    reference = {"header": delivered.message_id, "bare": delivered.message_id.strip("<>"),
                 "number": str(delivered.id)}[by]
    result = runner.invoke(args=["outbox", "bounce", reference, "mailbox full   for weeks"])
    assert result.exit_code == 0, result.output
    bounced = reload(delivered)
    assert (bounced.status, bounced.bounce_reason) == ("bounced", "mailbox full for weeks")


def test_flask_outbox_bounce_refuses_an_unknown_message_or_no_reason(delivered, runner):
    unknown = runner.invoke(args=["outbox", "bounce", "<nobody@example.com>", "gone"])
    assert unknown.exit_code == 1
    assert "no outbox message has the Message-ID <nobody@example.com>" in unknown.output
    empty = runner.invoke(args=["outbox", "bounce", delivered.message_id, "  "])
    assert empty.exit_code == 2
    assert reload(delivered).status == "sent"


def test_flask_outbox_send_sends_what_is_due_or_says_why_not(smtp, queue_message, runner):
    smtp.start()
    message = queue_message()
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output
    assert reload(message).status == "sent"

    runner.app.config["MAIL_SERVER"] = ""
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 1
    assert "MAIL_SERVER is not set" in result.output
