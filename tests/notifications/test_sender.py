"""Sending the outbox to a real SMTP server on loopback: what arrives, retries with backoff, a server
that is down, permanent refusals, and two senders at once."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.smtp import AuthResult
from apscheduler.schedulers.background import BackgroundScheduler

from app import clock
from app.extensions import db
from app.notifications import sender
from app.notifications.models import OutboxMessage
from app.scheduler import _add_job, _send_outbox

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def reload(message: OutboxMessage) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, message.id)


def test_a_queued_message_arrives_with_its_subject_body_address_and_message_id(smtp, queue_message):
    smtp.start()
    message = queue_message()

    report = sender.send_due()

    assert (report.sent, report.retrying, report.failed, report.bounced) == (1, 0, 0, 0)
    [(mail_from, recipients, email)] = smtp.handler.received
    message = reload(message)
    assert mail_from == "orders@orderly.test"
    assert recipients == ["buyer@example.com"]
    assert email["To"] == "buyer@example.com"
    assert email["From"] == "Orderly Orders <orders@orderly.test>"
    assert email["Subject"] == message.subject == f"Order {message.subject.split()[1]} confirmed"
    assert email.get_content_type() == "text/plain"
    assert email.get_content().rstrip("\n") == message.body
    assert email["Message-ID"] == message.message_id == sender.message_id_for(message.id, message.idempotency_key)
    assert message.message_id.endswith("@orderly.test>")
    assert email["Date"] is not None
    assert (message.status, message.attempts, message.claimed_until) == ("sent", 1, None)
    assert message.sent_at is not None
    # Sent once: a second run finds nothing due.
    assert sender.send_due().sent == 0
    assert len(smtp.handler.received) == 1


def test_a_chinese_customer_gets_the_message_in_chinese_utf8(smtp, queue_message):
    smtp.start()
    message = queue_message("Zhang Trading", locale="zh")

    sender.send_due()

    [(_, _, email)] = smtp.handler.received
    number = reload(message).subject.split()[1]
    assert email["Subject"] == f"订单 {number} 已确认"
    assert email.get_content_charset() == "utf-8"
    body = email.get_content()
    assert body.startswith("尊敬的 Zhang Trading：")
    assert f"我们确认订单 {number}" in body
    # Nothing 8-bit on the wire: the text travels encoded, for servers without 8BITMIME.
    assert email["Content-Transfer-Encoding"] in ("base64", "quoted-printable")


def test_a_temporary_refusal_is_retried_with_backoff_then_delivered_once(smtp, queue_message):
    clock.freeze(T0)
    smtp.start()
    smtp.handler.data_replies.extend(["451 4.3.0 Mailbox busy, try later", "421 4.7.0 Too many connections"])
    message = queue_message()

    assert sender.send_due().retrying == 1
    first = reload(message)
    assert (first.status, first.attempts, first.next_attempt_at) == ("queued", 1, T0 + timedelta(minutes=1))
    assert first.last_error.startswith("451 4.3.0 Mailbox busy")
    header = first.message_id

    # Not due yet: nothing is tried.
    clock.advance(timedelta(seconds=59))
    assert sender.send_due() == sender.Report()
    clock.advance(timedelta(seconds=1))
    assert sender.send_due().retrying == 1
    second = reload(message)
    assert (second.attempts, second.next_attempt_at) == (2, T0 + timedelta(minutes=1 + 2))
    assert second.last_error.startswith("421")

    clock.advance(timedelta(minutes=2))
    assert sender.send_due().sent == 1
    sent = reload(message)
    assert (sent.status, sent.attempts, sent.sent_at, sent.message_id) == ("sent", 3, T0 + timedelta(minutes=3), header)
    assert smtp.handler.message_ids == [header]  # exactly one delivery, with the Message-ID of the first try
    clock.advance(timedelta(hours=2))
    sender.send_due()
    assert len(smtp.handler.received) == 1


def test_a_server_that_is_down_is_tried_again_and_gets_everything_when_it_comes_up(smtp, queue_message):
    clock.freeze(T0)
    first, second = queue_message(), queue_message()

    report = sender.send_due()  # nothing listens on the port

    assert (report.retrying, report.sent) == (1, 0)  # the run stops at the first message: the rest wait
    down = reload(first)
    assert (down.status, down.attempts, down.next_attempt_at) == ("queued", 1, T0 + timedelta(minutes=1))
    assert down.last_error.startswith("cannot reach the mail server: ConnectionRefusedError")
    assert reload(second).attempts == 0

    smtp.start()
    clock.advance(timedelta(minutes=1))
    assert sender.send_due().sent == 2
    assert sorted(smtp.handler.message_ids) == sorted([reload(first).message_id, reload(second).message_id])
    assert {reload(first).status, reload(second).status} == {"sent"}


def test_after_the_last_attempt_the_message_is_failed_not_lost(smtp, queue_message):
    clock.freeze(T0)
    smtp.handler.rcpt_replies.extend(["450 4.2.1 Try later"] * 5)
    smtp.start()
    message = queue_message()
    runs = []
    for wait in (0, 1, 2, 4, 8):  # minutes between the tries; MAIL_MAX_ATTEMPTS is 5 here
        clock.advance(timedelta(minutes=wait))
        runs.append(sender.send_due())
    assert [run.retrying for run in runs] == [1, 1, 1, 1, 0]
    assert runs[-1].failed == 1
    failed = reload(message)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == ("failed", 5, None)
    assert failed.last_error == "buyer@example.com: 450 4.2.1 Try later"
    clock.advance(timedelta(days=1))
    assert sender.send_due() == sender.Report()
    assert smtp.handler.received == []
    assert not smtp.handler.rcpt_replies  # asked exactly five times


@pytest.mark.parametrize("refusal", ["rcpt", "data"])
def test_a_permanent_refusal_bounces_and_is_never_retried(smtp, queue_message, refusal):
    clock.freeze(T0)
    smtp.start()
    replies = smtp.handler.rcpt_replies if refusal == "rcpt" else smtp.handler.data_replies
    replies.append("550 5.1.1 <buyer@example.com>: Recipient address rejected: User unknown")
    message = queue_message()

    assert sender.send_due().bounced == 1

    bounced = reload(message)
    assert (bounced.status, bounced.attempts, bounced.bounced_at) == ("bounced", 1, T0)
    assert "550 5.1.1" in bounced.bounce_reason
    assert "User unknown" in bounced.bounce_reason
    clock.advance(timedelta(days=2))
    assert sender.send_due() == sender.Report()
    assert smtp.handler.received == []
    assert reload(message).attempts == 1


def test_it_logs_in_with_the_configured_credentials_and_retries_when_refused(smtp, queue_message):
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"right", handled=False)

    clock.freeze(T0)
    smtp.start(authenticator=authenticator, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"])
    smtp.handler.require_login = True
    message = queue_message()
    smtp.app_config.update(MAIL_USERNAME="orderly", MAIL_PASSWORD="wrong")

    assert sender.send_due().retrying == 1  # a refused login is the server's or ours to fix: never a bounce
    refused = reload(message)
    assert (refused.status, refused.attempts) == ("queued", 1)
    assert refused.last_error.startswith("cannot reach the mail server: 535")

    smtp.app_config["MAIL_PASSWORD"] = "right"
    clock.advance(timedelta(minutes=1))
    assert sender.send_due().sent == 1
    assert logins == [(b"orderly", b"wrong"), (b"orderly", b"right")]
    assert len(smtp.handler.received) == 1


@pytest.mark.parametrize(("address", "reason"), [("", "no e-mail address"),
                                                   ("two words@example.com", "not an e-mail address"),
                                                   ("a@example.com\r\nBcc: x@example.com", "not an e-mail address"),
                                                   ("buyer..x@example.com", "cannot be written as an e-mail"),
                                                   ("buyer@example.", "cannot be written as an e-mail")])
def test_a_message_without_a_usable_address_fails_with_the_reason(smtp, queue_message, address, reason):
    smtp.start()
    message = queue_message(email=address)

    assert sender.send_due().failed == 1

    failed = reload(message)
    assert (failed.status, failed.attempts) == ("failed", 0)
    assert failed.last_error.startswith(reason)
    assert smtp.handler.received == []


def test_a_second_claim_on_the_same_message_gets_nothing(smtp, queue_message):
    message = queue_message()
    assert sender._claim(message.id) is not None
    assert sender._claim(message.id) is None
    assert sender.send_due() == sender.Report()  # claimed: not due for anyone until the claim runs out


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_senders_at_once_deliver_each_message_once(app, smtp, queue_message, backend):
    smtp.start()
    messages = [queue_message() for _ in range(30)]
    start = threading.Barrier(2)
    reports, errors = [], []

    def run():
        try:
            with app.app_context():
                start.wait(timeout=30)
                reports.append(sender.send_due())
                db.session.remove()
        except BaseException as error:  # surfaced below: a thread's exception would otherwise be lost
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sum(report.sent for report in reports) == 30
    headers = smtp.handler.message_ids
    assert len(headers) == 30
    assert sorted(headers) == sorted(reload(m).message_id for m in messages)
    assert {reload(m).status for m in messages} == {"sent"}


def test_nothing_is_sent_without_a_mail_server(ctx, queue_message):
    ctx.config["MAIL_SERVER"] = ""
    message = queue_message()
    assert sender.send_due() == sender.Report()
    assert (reload(message).status, reload(message).attempts) == ("queued", 0)


def test_backoff_doubles_up_to_the_cap(ctx):
    ctx.config.update(MAIL_RETRY_SECONDS=60, MAIL_RETRY_MAX_SECONDS=3600)
    assert [sender.backoff(n).total_seconds() / 60 for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_the_scheduler_sends_only_when_a_server_is_set(app, smtp, queue_message):
    scheduler = BackgroundScheduler()
    _add_job(scheduler, app)
    assert scheduler.get_job("send-outbox") is not None
    app.config["MAIL_SERVER"] = ""
    quiet = BackgroundScheduler()
    _add_job(quiet, app)
    assert quiet.get_job("send-outbox") is None
    assert quiet.get_job("fire-due-timers") is not None

    app.config["MAIL_SERVER"] = "127.0.0.1"
    smtp.start()
    message = queue_message()
    _send_outbox(app)
    assert reload(message).status == "sent"
    assert len(smtp.handler.received) == 1
