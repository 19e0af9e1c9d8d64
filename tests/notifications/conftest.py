"""A real SMTP server on loopback (aiosmtpd) that records what it accepts and can be told to refuse."""

import socket
from collections import deque
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller

from app.extensions import db
from app.notifications import service as outbox


def free_port() -> int:
    """A loopback port nothing listens on (until a server is started there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Recorder:
    """aiosmtpd handler: accepts and keeps every message, unless a scripted reply says otherwise.
    `rcpt_replies` / `data_replies` are answered in turn (one per RCPT TO / DATA), then it accepts again."""

    def __init__(self):
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self.rcpt_replies: deque[str] = deque()
        self.data_replies: deque[str] = deque()
        self.require_login = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.require_login and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if self.rcpt_replies:
            return self.rcpt_replies.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            return self.data_replies.popleft()
        wire = envelope.original_content or envelope.content
        email = BytesParser(policy=policy.default).parsebytes(wire.replace(b"\r\n", b"\n"))
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), email))
        return "250 Message accepted for delivery"

    @property
    def message_ids(self) -> list[str]:
        return [email["Message-ID"] for _, _, email in self.received]


class SmtpServer:
    def __init__(self, port: int, app_config: dict):
        self.port = port
        self.app_config = app_config
        self.handler = Recorder()
        self.controller: Controller | None = None

    def start(self, **smtp_parameters) -> "SmtpServer":
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     server_hostname="mx.orderly.test", **smtp_parameters)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(ctx):
    """A server on a free loopback port, not started yet; the app sends to it."""
    server = SmtpServer(free_port(), ctx.config)
    ctx.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_TIMEOUT=5,
                      MAIL_FROM="Orderly Orders <orders@orderly.test>", MAIL_RETRY_SECONDS=60,
                      MAIL_RETRY_MAX_SECONDS=3600, MAIL_MAX_ATTEMPTS=5)
    yield server
    server.stop()


@pytest.fixture
def queue_message(make_order):
    """Queue a confirmation for a new order of `customer` (in its `locale`, to its `email`) and commit."""
    counter = iter(range(1, 10_000))

    def make(customer: str = "ACME Ltd", locale: str = "en", email: str | None = None):
        order = make_order(customer)
        order.customer.locale = locale
        if email is not None:
            order.customer.email = email
        message = outbox.queue(order, "confirmation", f"test:confirmation:{next(counter)}",
                               total="100.00", ship_date="2030-04-01")
        db.session.commit()
        return message

    return make
