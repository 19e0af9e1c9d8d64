"""Which status may follow which, per status kind. Anything not listed is refused."""

ORDER = {
    "entered": {"clarifying", "in_review", "cancelled", "on_hold"},
    "clarifying": {"entered", "in_review", "cancelled", "on_hold"},
    "in_review": {"confirmed", "rejected", "negotiating", "cancelled", "on_hold"},
    "negotiating": {"in_review", "confirmed", "cancelled", "on_hold"},
    "confirmed": {"in_review", "in_fulfilment", "cancelled", "on_hold"},
    "in_fulfilment": {"in_review", "delivered", "cancelled", "returned", "on_hold"},
    # A blocking exception holds the order; releasing it returns to where it was (Order.held_from).
    "on_hold": {"entered", "clarifying", "in_review", "negotiating", "confirmed", "in_fulfilment", "delivered",
                "completed", "cancelled", "returned"},
    "delivered": {"completed", "returned", "on_hold"},
    "rejected": set(),
    "cancelled": set(),
    "returned": set(),  # everything shipped came back: the order ends without a sale
    "completed": set(),
}

SHIPMENT = {
    "pending": {"partial", "shipped"},
    "partial": {"partial", "shipped", "returned"},
    "shipped": {"delivered", "returned"},
    "delivered": {"returned"},
    "returned": set(),
}

PAYMENT = {
    "not_invoiced": {"invoiced", "paid", "failed"},
    "invoiced": {"partly_paid", "paid", "overdue", "failed", "credited"},
    "overdue": {"partly_paid", "paid", "overdue", "failed", "credited"},
    "partly_paid": {"partly_paid", "paid", "overdue", "failed", "credited", "refunded"},
    # A failed payment leaves the invoice to be paid again, another way.
    "failed": {"invoiced", "partly_paid", "paid", "overdue", "not_invoiced", "credited"},
    "paid": {"refunded"},
    "credited": {"invoiced", "refunded"},  # a credit note cancelled the invoice; a corrected one may follow
    "refunded": set(),
}

KINDS = {"status": ORDER, "shipment_status": SHIPMENT, "payment_status": PAYMENT}


def allowed(kind: str, current: str, new: str) -> bool:
    return new in KINDS[kind].get(current, set())
