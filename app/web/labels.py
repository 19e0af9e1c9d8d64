"""What the codes the pages show read as: statuses, channels, payment methods, roles, event and message
kinds, in the reader's language. The code itself stays in CSS classes and URLs.

`{{ order.status|label('order status') }}`: the family is also the gettext context, so a word can be
translated by what it means there (an open task, an open invoice). A code not listed reads as itself
with spaces for underscores, as it did before it had a label.
"""

from collections.abc import Callable

from flask import Flask
from flask_babel import pgettext


def _order_status() -> dict[str, str]:
    return {
        "entered": pgettext("order status", "entered"),
        "clarifying": pgettext("order status", "clarifying"),
        "in_review": pgettext("order status", "in review"),
        "negotiating": pgettext("order status", "negotiating"),
        "confirmed": pgettext("order status", "confirmed"),
        "in_fulfilment": pgettext("order status", "in fulfilment"),
        "on_hold": pgettext("order status", "on hold"),
        "delivered": pgettext("order status", "delivered"),
        "rejected": pgettext("order status", "rejected"),
        "cancelled": pgettext("order status", "cancelled"),
        "returned": pgettext("order status", "returned"),
        "completed": pgettext("order status", "completed"),
    }


def _shipment_status() -> dict[str, str]:
    """The order's shipment status and a shipment's own."""
    return {
        "pending": pgettext("shipment status", "pending"),
        "partial": pgettext("shipment status", "partial"),
        "picking": pgettext("shipment status", "picking"),
        "packed": pgettext("shipment status", "packed"),
        "checked": pgettext("shipment status", "checked"),
        "shipped": pgettext("shipment status", "shipped"),
        "delivered": pgettext("shipment status", "delivered"),
        "returned": pgettext("shipment status", "returned"),
        "cancelled": pgettext("shipment status", "cancelled"),
    }


def _payment_status() -> dict[str, str]:
    """The order's payment status and an invoice's."""
    return {
        "not_invoiced": pgettext("payment status", "not invoiced"),
        "invoiced": pgettext("payment status", "invoiced"),
        "open": pgettext("payment status", "open"),
        "overdue": pgettext("payment status", "overdue"),
        "partly_paid": pgettext("payment status", "partly paid"),
        "failed": pgettext("payment status", "failed"),
        "paid": pgettext("payment status", "paid"),
        "credited": pgettext("payment status", "credited"),
        "refunded": pgettext("payment status", "refunded"),
        "cancelled": pgettext("payment status", "cancelled"),
    }


def _process_status() -> dict[str, str]:
    """A process instance's status and a deployed definition's."""
    return {
        "running": pgettext("process status", "running"),
        "waiting": pgettext("process status", "waiting"),
        "queued": pgettext("process status", "queued"),
        "error": pgettext("process status", "error"),
        "completed": pgettext("process status", "completed"),
        "cancelled": pgettext("process status", "cancelled"),
        "draft": pgettext("process status", "draft"),
        "deployed": pgettext("process status", "deployed"),
        "retired": pgettext("process status", "retired"),
    }


def _task_state() -> dict[str, str]:
    return {
        "open": pgettext("task state", "open"),
        "claimed": pgettext("task state", "claimed"),
        "completed": pgettext("task state", "completed"),
        "cancelled": pgettext("task state", "cancelled"),
    }


def _message_status() -> dict[str, str]:
    return {
        "queued": pgettext("message status", "queued"),
        "sent": pgettext("message status", "sent"),
        "failed": pgettext("message status", "failed"),
        "bounced": pgettext("message status", "bounced"),
    }


def _message_kind() -> dict[str, str]:
    return {
        "clarification": pgettext("message kind", "clarification"),
        "confirmation": pgettext("message kind", "confirmation"),
        "rejection": pgettext("message kind", "rejection"),
        "shipped": pgettext("message kind", "shipped"),
        "invoice": pgettext("message kind", "invoice"),
        "reminder": pgettext("message kind", "reminder"),
        "follow_up": pgettext("message kind", "follow up"),
        "exception_received": pgettext("message kind", "exception received"),
        "exception_resolved": pgettext("message kind", "exception resolved"),
        "order_cancelled": pgettext("message kind", "order cancelled"),
        "credit_note": pgettext("message kind", "credit note"),
        "refund": pgettext("message kind", "refund"),
        "new_date": pgettext("message kind", "new date"),
    }


def _event() -> dict[str, str]:
    """What happened to a process instance (instance_event.kind)."""
    return {
        "started": pgettext("event", "started"),
        "task_completed": pgettext("event", "task completed"),
        "task_claimed": pgettext("event", "task claimed"),
        "task_released": pgettext("event", "task released"),
        "task_reassigned": pgettext("event", "task reassigned"),
        "message_received": pgettext("event", "message received"),
        "message_refused": pgettext("event", "message refused"),
        "timer_fired": pgettext("event", "timer fired"),
        "sla_paused": pgettext("event", "clock paused"),
        "sla_resumed": pgettext("event", "clock resumed"),
        "sla_extended": pgettext("event", "deadline extended"),
        "held": pgettext("event", "held"),
        "released": pgettext("event", "released"),
        "error": pgettext("event", "error"),
        "retried": pgettext("event", "retried"),
        "migrated": pgettext("event", "moved to a newer version"),
        "cancelled": pgettext("event", "cancelled"),
        "completed": pgettext("event", "completed"),
    }


def _channel() -> dict[str, str]:
    return {
        "web": pgettext("channel", "web"),
        "email": pgettext("channel", "email"),
        "fax": pgettext("channel", "fax"),
        "phone": pgettext("channel", "phone"),
        "sales_rep": pgettext("channel", "sales rep"),
    }


def _payment_method() -> dict[str, str]:
    """How an order is to be paid, and how a payment was made."""
    return {
        "credit": pgettext("payment method", "credit"),
        "prepayment": pgettext("payment method", "prepayment"),
        "cash_on_delivery": pgettext("payment method", "cash on delivery"),
        "bank_transfer": pgettext("payment method", "bank transfer"),
        "card": pgettext("payment method", "card"),
        "cash": pgettext("payment method", "cash"),
        "cheque": pgettext("payment method", "cheque"),
    }


def _role() -> dict[str, str]:
    """A role, and the team of everyone holding it."""
    return {
        "order_desk": pgettext("role", "order desk"),
        "credit": pgettext("role", "credit"),
        "warehouse": pgettext("role", "warehouse"),
        "production": pgettext("role", "production"),
        "logistics": pgettext("role", "logistics"),
        "finance": pgettext("role", "finance"),
        "customer_service": pgettext("role", "customer service"),
        "manager": pgettext("role", "manager"),
        "process_owner": pgettext("role", "process owner"),
        "admin": pgettext("role", "admin"),
    }


FAMILIES: dict[str, Callable[[], dict[str, str]]] = {
    "order status": _order_status,
    "shipment status": _shipment_status,
    "payment status": _payment_status,
    "process status": _process_status,
    "task state": _task_state,
    "message status": _message_status,
    "message kind": _message_kind,
    "event": _event,
    "channel": _channel,
    "payment method": _payment_method,
    "role": _role,
}


def label(code: str | None, family: str) -> str:
    """The words for a code of a family (one of FAMILIES), in the reader's language."""
    if not code:
        return ""
    return FAMILIES[family]().get(code) or code.replace("_", " ")


def init_app(app: Flask) -> None:
    app.jinja_env.filters["label"] = label
