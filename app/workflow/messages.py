"""The messages the application delivers to running instances, by name. A diagram that waits for any
other name waits for ever, unless the same deployment throws it."""

from app.i18n import N_

MESSAGES: dict[str, str] = {
    "goods_received": N_("The customer confirms receipt (API event, or staff on the order page)."),
    "payment_received": N_("A payment for the order's invoice was recorded."),
    "payment_failed": N_("A payment attempt failed (reported as a payment exception)."),
    "order_changed": N_("An accepted change request changed the order's lines or dates."),
    "order_cancelled": N_("An accepted cancellation request ended the order."),
    "exception_resolved": N_("An exception case that held the order was resolved."),
}
