"""The five families of order exceptions, their types, and for each type the team that owns it by
default, its usual severity, whether it holds the order, and its playbook: the remedies a resolver
may choose. app/exceptions/playbooks.py carries the remedies out."""

from dataclasses import dataclass, field

FAMILIES = {
    "customer": "Customer",
    "inventory": "Inventory",
    "logistics": "Logistics",
    "payment": "Payment & settlement",
    "internal": "Internal",
}

# The teams an exception can be given to; the exception process has a lane for each.
OWNER_ROLES = ("customer_service", "warehouse", "logistics", "finance", "production", "manager")


@dataclass(frozen=True)
class ExceptionType:
    key: str
    family: str
    label: str
    owner_role: str
    severity: str
    blocking: bool
    actions: dict[str, str] = field(default_factory=dict)  # playbook: action → label
    # Whether the customer hears of it: a stock count or an internal slip that does not touch what
    # they receive or when is our business, not theirs.
    tells_customer: bool = True


def _type(key, family, label, owner_role, severity, blocking, tells_customer=True, **actions) -> ExceptionType:
    return ExceptionType(key, family, label, owner_role, severity, blocking, actions, tells_customer)


TYPES: dict[str, ExceptionType] = {t.key: t for t in (
    # Customer
    _type("data_change", "customer", "Order data change", "customer_service", "medium", True,
          apply_change="Apply the change and review the order again",
          decline_change="Decline the change; the order stays as it is"),
    _type("cancellation", "customer", "Cancellation", "customer_service", "medium", True,
          cancel_order="Cancel: release stock before picking, restock after picking, take back after shipping",
          keep_order="The customer keeps the order"),
    _type("late_payment", "customer", "Payment late or failed", "finance", "medium", False,
          send_reminder="Remind the customer", agree_new_date="Agree a new payment date",
          hold_supply="Hold further supply until paid"),
    _type("complaint", "customer", "Complaint", "customer_service", "medium", False,
          compensate_credit="Investigated: compensate with a credit note",
          compensate_refund="Investigated: compensate with a refund",
          replace_goods="Investigated: send replacement goods",
          no_compensation="Investigated: no compensation, reply with the findings"),
    # Inventory
    _type("stockout", "inventory", "Stock too low or out of stock", "warehouse", "high", True,
          backorder="Backorder: ship everything when it is in stock",
          partial_shipment="Ship what is in stock now, the rest later",
          substitute="Substitute another product",
          cancel_lines="Cancel the lines that cannot be supplied"),
    _type("count_mismatch", "inventory", "Book stock differs from physical stock", "warehouse", "medium", False,
          tells_customer=False, adjust_stock="Correct the book stock to the count"),
    _type("wrong_pick", "inventory", "Wrong or defective goods picked", "warehouse", "high", True,
          tells_customer=False, repick="Put the goods back and pick again",
          quality_hold="Take the defective goods out of stock and pick again"),
    # Logistics
    _type("delivery_delay", "logistics", "Late delivery", "logistics", "medium", False,
          new_promise="Give the customer a new delivery date"),
    _type("lost", "logistics", "Goods lost in transit", "logistics", "high", False,
          reship="Claim with the carrier and ship again", refund="Claim with the carrier and refund"),
    _type("damaged", "logistics", "Goods damaged in transit", "logistics", "high", False,
          reship="Claim with the carrier and ship again", refund="Claim with the carrier and refund"),
    _type("wrong_address", "logistics", "Wrong delivery address", "logistics", "medium", False,
          redeliver="Correct the address and deliver again"),
    _type("refused", "logistics", "Customer refused the delivery", "logistics", "medium", False,
          return_and_refund="Take the goods back, restock, credit or refund",
          redeliver="Deliver again"),
    # Payment & settlement
    _type("payment_failure", "payment", "Payment failure", "finance", "medium", False,
          retry_payment="Try the payment again", other_method="Ask for another payment method",
          hold_supply="Hold further supply until paid"),
    _type("invoice_error", "payment", "Invoice wrong or to be changed", "finance", "medium", False,
          credit_and_reissue="Credit note and a corrected invoice"),
    _type("refund", "payment", "Refund request", "finance", "medium", False,
          refund="Refund the amount", decline_refund="Decline the refund"),
    # Internal
    _type("entry_error", "internal", "Data-entry error", "customer_service", "low", False, tells_customer=False,
          correct_and_record="Correct it and record a non-conformance"),
    _type("system_delay", "internal", "A system failure delays processing", "manager", "high", False,
          tells_customer=False, correct_and_record="Recover and record a non-conformance"),
    _type("production_delay", "internal", "A production schedule change delays delivery", "production", "medium",
          False, correct_and_record="Reschedule, tell the customer, and record a non-conformance"),
)}

# Refunds above this amount need a manager's approval; below it, a second person in Finance.
REFUND_APPROVAL_LIMIT = 1000


def of_family(family: str) -> list[ExceptionType]:
    return [t for t in TYPES.values() if t.family == family]
