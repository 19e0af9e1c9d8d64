"""Sending the outbox through SMTP.

`send_due()` takes each due message (queued, its retry time reached, held by no other sender) with one
conditional UPDATE and commits that claim before it talks to the server, so any number of senders — the
scheduler job, `flask outbox send` from cron, several machines — never send the same message at once.

What the server answers decides what happens next: accepted → sent; a temporary refusal (4xx, a
dropped connection, a server that is down or slow) → tried again later, waiting 1, 2, 4 … minutes up to
an hour, and failed after MAIL_MAX_ATTEMPTS; a permanent refusal (5xx) → bounced, never tried again.

At most once, with one exception said plainly: a message is marked sent in its own commit right after
the server accepted it. Should the process die between the two, the claim runs out and another sender
sends it again — with the same Message-ID, which the first attempt stored on the row, so the copy can be
recognised. Nothing else ever sends a message twice.
"""

import hashlib
import logging
import re
import smtplib
import ssl
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import errors, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from flask import current_app
from sqlalchemy import or_, select, update

from app.clock import now
from app.extensions import db
from app.notifications.models import OutboxMessage

log = logging.getLogger(__name__)

# Bodies that are not plain ASCII go quoted-printable or base64: no server needs 8BITMIME.
_POLICY = policy.SMTP.clone(cte_type="7bit")
# One address, nothing around it: no display name, no list, no spaces or line breaks.
_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+")


def configured() -> bool:
    """Whether an SMTP server is set. Without one nothing is sent and messages stay queued."""
    return bool(current_app.config.get("MAIL_SERVER"))


@dataclass
class Report:
    """What one run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    bounced: int = 0

    def __str__(self) -> str:
        return (f"sent {self.sent}, to be tried again {self.retrying}, failed {self.failed}, "
                f"bounced {self.bounced}")


@dataclass(frozen=True)
class Outgoing:
    """A claimed message as it was read when claimed: the sender never re-reads the row."""

    id: int
    to_address: str
    subject: str
    body: str
    message_id: str
    attempts: int
    claimed_until: datetime


@dataclass(frozen=True)
class Outcome:
    result: str  # sent, retry, bounce or fail
    text: str = ""
    attempted: bool = True  # the server was asked (counts as an attempt)
    stop: bool = False  # the server cannot be reached: leave the rest for the next run


def message_id_for(outbox_id: int, idempotency_key: str) -> str:
    """The Message-ID header of a message: the same on every retry, unique to the row."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]
    return f"<outbox.{outbox_id}.{digest}@{_sender_domain()}>"


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try: doubling from MAIL_RETRY_SECONDS, capped."""
    config = current_app.config
    seconds = config["MAIL_RETRY_SECONDS"] * 2 ** min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(seconds, config["MAIL_RETRY_MAX_SECONDS"]))


def build_email(outgoing: Outgoing) -> EmailMessage:
    email = EmailMessage(policy=_POLICY)
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = Address(addr_spec=outgoing.to_address)
    email["Subject"] = " ".join(outgoing.subject.split())  # a line break in a header would be refused
    email["Date"] = format_datetime(now())
    email["Message-ID"] = outgoing.message_id
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: vacation responders stay quiet
    email.set_content(outgoing.body, charset="utf-8")
    return email


def send_due(limit: int = 100) -> Report:
    """Send up to `limit` due messages; each outcome is committed as soon as it is known."""
    report = Report()
    if not configured():
        return report
    connection = _Connection()
    try:
        for outbox_id in _due_ids(limit):
            outgoing = _claim(outbox_id)
            if outgoing is None:
                continue  # another sender took it first
            outcome = _deliver(outgoing, connection)
            _record(outgoing, outcome, report)
            if outcome.stop:
                break
    finally:
        connection.close()
    return report


# --- claiming -------------------------------------------------------------------------------------------


def _due(moment: datetime):
    return ((OutboxMessage.status == "queued")
            & or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= moment)
            & or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < moment))


def _due_ids(limit: int) -> list[int]:
    ids = list(db.session.scalars(select(OutboxMessage.id).where(_due(now())).order_by(OutboxMessage.id)
                                  .limit(limit)))
    db.session.commit()  # end the read: each claim below starts its own transaction with its UPDATE
    return ids


def _claim_span() -> timedelta:
    # Long enough for every step of one delivery to time out once (connect, STARTTLS, login, MAIL, RCPT, DATA).
    return timedelta(seconds=max(60.0, 10 * current_app.config["MAIL_TIMEOUT"]))


def _claim(outbox_id: int) -> Outgoing | None:
    """Take one message if it is still due and nobody holds it; commit the claim."""
    moment = now()
    until = moment + _claim_span()
    try:
        # The condition is checked again under the row's write lock: of two senders only one gets rowcount 1.
        taken = db.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == outbox_id, _due(moment))
            .values(claimed_until=until).execution_options(synchronize_session=False)
        ).rowcount
        if taken != 1:
            db.session.rollback()
            return None
        row = db.session.execute(
            select(OutboxMessage.idempotency_key, OutboxMessage.to_address, OutboxMessage.subject,
                   OutboxMessage.body, OutboxMessage.message_id, OutboxMessage.attempts)
            .where(OutboxMessage.id == outbox_id)
        ).one()
        header = row.message_id
        if not header:
            # Kept from the first attempt on, so every retry (and a re-send after a crash) carries the same one.
            header = message_id_for(outbox_id, row.idempotency_key)
            db.session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                               .values(message_id=header).execution_options(synchronize_session=False))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return Outgoing(outbox_id, (row.to_address or "").strip(), row.subject, row.body, header, row.attempts, until)


# --- delivering -----------------------------------------------------------------------------------------


class _Connection:
    """One SMTP session for a run, opened on the first message and opened again after a failure."""

    def __init__(self):
        self.smtp: smtplib.SMTP | None = None

    def get(self) -> smtplib.SMTP:
        if self.smtp is None:
            config = current_app.config
            smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"])
            try:
                if config["MAIL_USE_TLS"]:
                    smtp.starttls(context=ssl.create_default_context())
                if config["MAIL_USERNAME"]:
                    smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            except BaseException:
                smtp.close()
                raise
            self.smtp = smtp
        return self.smtp

    def close(self) -> None:
        if self.smtp is not None:
            with suppress(OSError):  # smtplib's errors are OSErrors too
                self.smtp.quit()
            self.smtp.close()
            self.smtp = None


def _deliver(outgoing: Outgoing, connection: _Connection) -> Outcome:
    if not outgoing.to_address:
        return Outcome("fail", "no e-mail address: the customer (or person) has none on file", attempted=False)
    if not _ADDRESS.fullmatch(outgoing.to_address):
        return Outcome("fail", f"not an e-mail address: {outgoing.to_address!r}", attempted=False)
    try:
        email = build_email(outgoing)
    except (ValueError, TypeError, errors.MessageError) as error:  # header defects are ValueErrors
        return Outcome("fail", f"cannot be written as an e-mail: {error}", attempted=False)
    try:
        smtp = connection.get()
    except OSError as error:
        return Outcome("retry", f"cannot reach the mail server: {_describe(error)}", stop=True)
    try:
        smtp.send_message(email, from_addr=_sender_address(), to_addrs=[outgoing.to_address])
    except OSError as error:
        connection.close()  # whatever state the session is in, the next message starts a fresh one
        return _classify(error)
    return Outcome("sent")


def _classify(error: OSError) -> Outcome:
    """A refusal by its SMTP reply code: 5xx is permanent, anything else is worth another try."""
    text = _describe(error)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in error.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return Outcome("bounce" if permanent else "retry", text)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return Outcome("fail", text)  # e.g. a non-ASCII address this server cannot take: no retry helps
    if isinstance(error, smtplib.SMTPResponseException) and 500 <= error.smtp_code < 600:
        return Outcome("bounce", text)
    return Outcome("retry", text)


def _describe(error: OSError) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{address}: {code} {_text(reply)}" for address, (code, reply) in error.recipients.items())
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _sender_address() -> str:
    return parseaddr(current_app.config["MAIL_FROM"])[1]


def _sender_domain() -> str:
    return _sender_address().rpartition("@")[2] or "localhost"


# --- recording the outcome ------------------------------------------------------------------------------


def _record(outgoing: Outgoing, outcome: Outcome, report: Report) -> None:
    """Write what happened in its own commit. Each UPDATE is the first statement of its transaction."""
    moment = now()
    attempts = outgoing.attempts + (1 if outcome.attempted else 0)
    mine = (OutboxMessage.id == outgoing.id) & (OutboxMessage.status == "queued")
    values: dict = {"claimed_until": None, "attempts": attempts}
    if outcome.result == "sent":
        # The server has it: record that whatever became of the claim.
        values |= {"status": "sent", "sent_at": moment, "next_attempt_at": None}
        report.sent += 1
        log.info("outbox message %s sent as %s", outgoing.id, outgoing.message_id)
    else:
        mine &= OutboxMessage.claimed_until == outgoing.claimed_until  # still ours: not taken over meanwhile
        values["last_error"] = outcome.text
        if outcome.result == "bounce":
            values |= {"status": "bounced", "bounced_at": moment, "bounce_reason": outcome.text,
                       "next_attempt_at": None}
            report.bounced += 1
        elif outcome.result == "retry" and attempts < current_app.config["MAIL_MAX_ATTEMPTS"]:
            values["next_attempt_at"] = moment + backoff(attempts)
            report.retrying += 1
        else:
            values |= {"status": "failed", "next_attempt_at": None}
            report.failed += 1
        log.warning("outbox message %s: %s (%s)", outgoing.id, outcome.result, outcome.text)
    try:
        db.session.execute(update(OutboxMessage).where(mine).values(**values)
                           .execution_options(synchronize_session=False))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
