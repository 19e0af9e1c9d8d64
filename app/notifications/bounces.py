"""Bounces that come back after the server accepted a message: a delivery status notification
(RFC 3464, multipart/report) quoting the message's Message-ID, or an operator who read one elsewhere.
The message becomes bounced with the reason kept; it is not sent again unless someone asks to."""

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser

from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.notifications.models import OutboxMessage

STATUS_PARTS = ("message/delivery-status", "message/global-delivery-status")
HEADER_PARTS = ("text/rfc822-headers", "message/global-headers")
ORIGINAL_PARTS = ("message/rfc822", "message/global")
MAX_REASON = 2000
MAX_ID = 2**31 - 1  # a larger number is no row (PostgreSQL's integer)


class NotAReport(ValueError):
    """The bytes are not a delivery status notification Orderly can use."""


@dataclass(frozen=True)
class DeliveryReport:
    """What a notification says about one recipient of the original message."""

    message_id: str  # the original's Message-ID, with its angle brackets
    action: str  # failed, delayed, delivered, relayed or expanded
    recipient: str
    status: str  # the enhanced status code, 5.1.1
    diagnostic: str  # the remote server's reply, when it gave one

    @property
    def failed(self) -> bool:
        return self.action == "failed"

    @property
    def reason(self) -> str:
        text = f"{self.status or 'no status'} for {self.recipient or 'the recipient'}"
        return f"{text}: {self.diagnostic}" if self.diagnostic else text


def find(reference: str) -> OutboxMessage | None:
    """An outbox message by its Message-ID header (angle brackets optional) or by its number."""
    reference = reference.strip()
    if reference.isdigit():
        number = int(reference)
        return db.session.get(OutboxMessage, number) if 0 < number <= MAX_ID else None
    if not reference:
        return None
    header = reference if reference.startswith("<") else f"<{reference}>"
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == header))


def record_bounce(message: OutboxMessage, reason: str) -> bool:
    """Mark the message bounced; False if it already was (the first reason stays). Flushes, never commits."""
    reason = " ".join(reason.split())[:MAX_REASON]
    if not reason:
        raise ValueError("a bounce needs a reason")
    if message.status == "bounced":
        return False
    message.status = "bounced"
    message.bounced_at = now()
    message.bounce_reason = reason
    message.next_attempt_at = None
    message.claimed_until = None
    db.session.flush()
    return True


def read_report(data: bytes) -> DeliveryReport:
    """Read a delivery status notification: the first failed recipient (else the first one listed) and the
    Message-ID of the message it is about. Raises NotAReport when the bytes cannot tell that."""
    report = BytesParser(policy=policy.default).parsebytes(data)
    if report.get_content_type() != "multipart/report" or report.get_param("report-type") not in (
            "delivery-status", "global-delivery-status"):
        raise NotAReport("not a delivery status notification (RFC 3464 multipart/report)")
    parts = list(report.iter_parts())
    status_part = next((part for part in parts if part.get_content_type() in STATUS_PARTS), None)
    if status_part is None:
        raise NotAReport("the report has no message/delivery-status part")
    recipients = _blocks(status_part)[1:]  # the first block is about the message, the rest one per recipient
    if not recipients:
        raise NotAReport("the report names no recipient")
    chosen = next((block for block in recipients if _field(block, "Action").lower() == "failed"), recipients[0])
    message_id = _original_message_id(parts)
    if not message_id:
        raise NotAReport("the report does not quote the original Message-ID")
    return DeliveryReport(
        message_id=message_id,
        action=_field(chosen, "Action").lower(),
        recipient=_typed_value(_field(chosen, "Final-Recipient") or _field(chosen, "Original-Recipient")),
        status=_field(chosen, "Status"),
        diagnostic=_typed_value(_field(chosen, "Diagnostic-Code")),
    )


def record_report(data: bytes) -> tuple[DeliveryReport, OutboxMessage | None, bool]:
    """Read a notification and, when it reports a failure, record the bounce on the message it names.
    Returns the report, the message (None if unknown) and whether a bounce was recorded now."""
    report = read_report(data)
    message = find(report.message_id)
    if message is None or not report.failed:
        return report, message, False
    return report, message, record_bounce(message, report.reason)


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload
    # A status part the parser left as text: blocks of header fields separated by blank lines.
    text = part.get_payload(decode=True) or b""
    chunks = re.split(r"\r?\n\s*\r?\n", text.decode("utf-8", "replace").strip())
    return [HeaderParser().parsestr(chunk) for chunk in chunks if chunk.strip()]


def _original_message_id(parts: list[Message]) -> str:
    for part in parts:
        kind = part.get_content_type()
        if kind in ORIGINAL_PARTS:
            payload = part.get_payload()
            original = payload[0] if isinstance(payload, list) and payload else None
        elif kind in HEADER_PARTS:
            original = HeaderParser().parsestr(_text_of(part))
        else:
            continue
        found = original.get("Message-ID", "") if original is not None else ""
        if str(found).strip():
            return " ".join(str(found).split())
    return ""


def _text_of(part: Message) -> str:
    if isinstance(part, EmailMessage):
        try:
            return part.get_content()
        except (KeyError, LookupError, ValueError):
            pass
    return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")


def _field(block: Message, name: str) -> str:
    return " ".join(str(block.get(name, "")).split())


def _typed_value(value: str) -> str:
    """`rfc822; someone@example.com` → `someone@example.com` (the address or reply without its type)."""
    kind, separator, rest = value.partition(";")
    return rest.strip() if separator and re.fullmatch(r"[A-Za-z0-9-]+", kind.strip()) else value
