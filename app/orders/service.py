"""Order intake and status changes. Functions flush; the caller's unit of work commits."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import insert, inspect, select

from app.catalog import service as catalog
from app.clock import now
from app.customers.models import Customer
from app.extensions import db
from app.numbering import next_number
from app.orders import states
from app.orders.models import CHANNELS, PAYMENT_METHODS, Order, OrderLine

MAX_LINES = 200
MAX_QUANTITY = 1_000_000
MAX_TEXT = 2000


class OrderError(ValueError):
    """Input that cannot become an order; `errors` lists every problem found, by field."""

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.errors = errors or {}


@dataclass
class LineInput:
    sku: str
    quantity: object
    unit_price: object = None  # None: the list price
    spec: str = ""


def _decimal(value, field: str, errors: dict) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors[field] = f"'{value}' is not an amount"
        return None
    if not number.is_finite() or number <= 0 or number >= Decimal("1e10"):
        errors[field] = "must be a positive amount"
        return None
    return number.quantize(Decimal("0.01"))


def _quantity(value, field: str, errors: dict) -> int | None:
    try:
        quantity = int(str(value).strip())
    except (TypeError, ValueError):
        errors[field] = f"'{value}' is not a whole number"
        return None
    if quantity <= 0 or quantity > MAX_QUANTITY:
        errors[field] = f"must be between 1 and {MAX_QUANTITY:,}"
        return None
    return quantity


def parse_date(value, field: str, errors: dict) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[field] = f"'{value}' is not a date (YYYY-MM-DD)"
        return None


def _sku_of(given: LineInput) -> str | None:
    """The SKU a line names, when it can be one."""
    return given.sku if isinstance(given.sku, str) and given.sku and len(given.sku) <= 40 else None


def _lines(inputs: list[LineInput], errors: dict) -> list[OrderLine]:
    if not inputs:
        errors["lines"] = "an order needs at least one line"
    if len(inputs) > MAX_LINES:
        errors["lines"] = f"at most {MAX_LINES} lines"
        return []
    lines = []
    products = catalog.by_skus(_sku_of(given) for given in inputs if _sku_of(given))  # one query for all lines
    for position, given in enumerate(inputs, start=1):
        field = f"lines.{position}"
        product = products.get(_sku_of(given).strip().upper()) if _sku_of(given) else None
        if product is None or not product.active:
            errors[f"{field}.sku"] = f"unknown SKU '{(given.sku or '')[:40]}'"
            continue
        quantity = _quantity(given.quantity, f"{field}.quantity", errors)
        price = product.list_price if given.unit_price in (None, "") else _decimal(
            given.unit_price, f"{field}.unit_price", errors)
        floor = (product.list_price * product.floor_pct / 100).quantize(Decimal("0.01"))
        if price is not None and not floor <= price <= product.list_price:
            errors[f"{field}.unit_price"] = (
                f"{price} is outside the price policy for {product.sku} ({floor} to {product.list_price})")
        if len(given.spec or "") > MAX_TEXT:
            errors[f"{field}.spec"] = f"at most {MAX_TEXT} characters"
        if quantity is None or price is None or f"{field}.unit_price" in errors:
            continue
        lines.append(OrderLine(position=position, product=product, product_id=product.id, sku=product.sku,
                               spec=given.spec or product.spec, quantity=quantity, unit_price=price,
                               make_to_order=product.make_to_order))
    return lines


def prepare_order(customer: Customer | None, channel: str, lines: list[LineInput], *,
                  requested_date=None, payment_method: str = "credit", remarks: str = "",
                  allow_partial: bool = False, shipping_address: str | None = None,
                  entered_by: str = "") -> Order:
    """The order as create_order would record it, not yet numbered nor added to the session (a check
    that writes nothing, not even a drawn number). Malformed input raises OrderError listing every field."""
    errors: dict[str, str] = {}
    if customer is None:
        errors["customer"] = "unknown customer"
    if channel not in CHANNELS:
        errors["channel"] = f"unknown channel '{str(channel)[:20]}' (one of {', '.join(CHANNELS)})"
    if payment_method not in PAYMENT_METHODS:
        errors["payment_method"] = f"one of {', '.join(PAYMENT_METHODS)}"
    wanted = parse_date(requested_date, "requested_date", errors)
    if wanted is not None and wanted < now().date():
        errors["requested_date"] = "lies in the past"
    if len(remarks or "") > MAX_TEXT:
        errors["remarks"] = f"at most {MAX_TEXT} characters"
    if shipping_address is not None and len(shipping_address) > MAX_TEXT:
        errors["shipping_address"] = f"at most {MAX_TEXT} characters"
    order_lines = _lines(lines, errors)
    if errors:
        raise OrderError("the order has errors", errors)
    return Order(
        customer_id=customer.id, customer_name=customer.name,
        shipping_address=shipping_address if shipping_address is not None else customer.shipping_address,
        channel=channel, requested_date=wanted, payment_method=payment_method, remarks=remarks or "",
        allow_partial=allow_partial, entered_by=entered_by, lines=order_lines,
        total=sum((line.amount for line in order_lines), Decimal("0")),
    )


def create_order(customer: Customer | None, channel: str, lines: list[LineInput], *, in_session: bool = True,
                 **details) -> Order:
    """Record an order from any channel (details: prepare_order's keywords). Malformed input raises
    OrderError listing every field; an order that is merely incomplete is accepted and the process
    sends it to be clarified. `in_session=False`: written with plain INSERTs and kept out of the
    session, which costs far less CPU; for a caller that reads nothing of it back in this unit of work
    but what the returned object carries (an order whose process is queued)."""
    order = prepare_order(customer, channel, lines, **details)
    order.number = next_number("SO", gap_free=False)
    if in_session:
        db.session.add(order)
        db.session.flush()
    else:
        _insert(order)
    return order


_ORDERS, _LINES = Order.__table__, OrderLine.__table__
# Built once, for the API's busiest path. What the order's column defaults made is read back.
_INSERT_ORDER = insert(_ORDERS).returning(_ORDERS.c.id, _ORDERS.c.status, _ORDERS.c.shipment_status,
                                          _ORDERS.c.payment_status, _ORDERS.c.created_at)
_INSERT_LINE = insert(_LINES)


def _assigned_columns(obj) -> dict:
    """The column values given to a new mapped object, by column name; the others take their defaults."""
    given = inspect(obj).dict
    return {prop.columns[0].name: given[prop.key] for prop in inspect(type(obj)).column_attrs if prop.key in given}


def _insert(order: Order) -> None:
    row = db.session.execute(_INSERT_ORDER, _assigned_columns(order)).one()
    order.id, order.status, order.shipment_status, order.payment_status, order.created_at = row
    for line in order.lines:
        line.order_id = order.id
    if order.lines:
        db.session.execute(_INSERT_LINE, [_assigned_columns(line) for line in order.lines])


def missing_information(order: Order) -> list[str]:
    """What must be clarified with the customer before review (empty when the order is complete)."""
    missing = []
    customer = order.customer
    if not (order.shipping_address or "").strip():
        missing.append("shipping address")
    if customer is None or not (customer.email or customer.phone):
        missing.append("a contact (e-mail or phone)")
    if order.requested_date is None:
        missing.append("requested delivery date")
    return missing


def get_by_number(number: str) -> Order:
    order = db.session.scalar(select(Order).where(Order.number == number))
    if order is None:
        raise OrderError(f"no order {number}")
    return order


def set_status(order: Order, status: str, kind: str = "status") -> Order:
    current = getattr(order, kind)
    if current == status:
        return order
    if not states.allowed(kind, current, status):
        raise OrderError(f"order {order.number} cannot go from {current} to {status}")
    setattr(order, kind, status)
    db.session.flush()
    return order


def move_on(order: Order, status: str) -> Order:
    """The order's process moves the order on. While a blocking exception holds the order, it stays
    on hold and takes this status when released: a delivery or a payment that arrives meanwhile is
    recorded, and the hold is not lost."""
    if order.status != "on_hold" or not order.held_from:
        return set_status(order, status)
    if order.held_from != status and not states.allowed("status", order.held_from, status):
        raise OrderError(f"order {order.number} cannot go from {order.held_from} to {status}")
    order.held_from = status
    db.session.flush()
    return order
