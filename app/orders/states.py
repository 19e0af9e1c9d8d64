"""Which status may follow which, per status kind. Anything not listed is refused."""

ORDER = {
    "entered": {"clarifying", "in_review", "cancelled"},
    "clarifying": {"entered", "in_review", "cancelled"},
    "in_review": {"confirmed", "rejected", "negotiating", "cancelled", "on_hold"},
    "negotiating": {"in_review", "confirmed", "cancelled"},
    "confirmed": {"in_fulfilment", "cancelled", "on_hold"},
    "in_fulfilment": {"delivered", "cancelled", "on_hold"},
    "on_hold": {"in_review", "confirmed", "in_fulfilment", "cancelled"},
    "delivered": {"completed"},
    "rejected": set(),
    "cancelled": set(),
    "completed": set(),
}

SHIPMENT = {
    "pending": {"partial", "shipped"},
    "partial": {"partial", "shipped"},
    "shipped": {"delivered"},
    "delivered": set(),
}

PAYMENT = {
    "not_invoiced": {"invoiced", "paid"},
    "invoiced": {"partly_paid", "paid", "overdue"},
    "overdue": {"partly_paid", "paid", "overdue"},
    "partly_paid": {"partly_paid", "paid", "overdue"},
    "paid": set(),
}

KINDS = {"status": ORDER, "shipment_status": SHIPMENT, "payment_status": PAYMENT}


def allowed(kind: str, current: str, new: str) -> bool:
    return new in KINDS[kind].get(current, set())
