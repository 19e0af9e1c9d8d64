"""Many orders from one CSV file: read the file, check every row with create_order's own rules, and import
the orders whose rows are all valid — each order with its process in its own unit of work.

One row is one order line. Rows with the same customer_code and order_ref are the lines of one order;
the order's own fields (channel, dates, address, remarks…) come from the first row that fills them, and
a later row may leave them empty or repeat them, never contradict them.

An imported order's remarks begin with `[import ref <order_ref>]`. That marker, under the same customer,
is the idempotency key: importing the file again finds the order and creates nothing twice. Refs may not
contain brackets, so one marker is never the beginning of another.
"""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select, update

from app.clock import now
from app.customers.models import Customer
from app.extensions import db
from app.orders import intake
from app.orders.models import Order
from app.orders.service import LineInput, OrderError, prepare_order
from app.workflow import runtime
from app.workflow.errors import WorkflowError

COLUMNS = ("order_ref", "customer_code", "channel", "sku", "quantity", "unit_price", "spec", "requested_date",
           "payment_method", "shipping_address", "remarks")
REQUIRED = ("order_ref", "customer_code", "sku", "quantity")
# The order's own fields; the others belong to each line.
ORDER_FIELDS = ("channel", "requested_date", "payment_method", "shipping_address", "remarks")
# Online-shop orders ("web") come through the API, not through the order desk.
STAFF_CHANNELS = ("phone", "fax", "email", "sales_rep")
MAX_REF = 40
REF_PATTERN = re.compile(r"[^\[\]\x00-\x1f\x7f]+")
# "2,50" in a semicolon file is a decimal comma; "1,000" stays what it is (refused, not read as 1.000).
DECIMAL_COMMA = re.compile(r"\d+,\d{1,2}")


class FileRefused(ValueError):
    """The file as a whole cannot be read; nothing was checked or written. `reason` is a code the page
    turns into words, `details` its particulars; `too_large` answers 413 rather than 400."""

    def __init__(self, reason: str, too_large: bool = False, **details):
        super().__init__(reason)
        self.reason, self.too_large, self.details = reason, too_large, details


@dataclass
class Row:
    number: int  # as a spreadsheet counts it: the header is row 1
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)  # column → reason


@dataclass
class OrderRows:
    """The rows of one order and what became of it."""

    ref: str
    customer_code: str
    rows: list[Row]
    errors: dict[str, str] = field(default_factory=dict)  # the order's own fields → reason
    outcome: str = "unchecked"  # valid · refused · duplicate (imported before) · created · failed
    number: str | None = None  # the order created now, or the one imported before

    @property
    def marker(self) -> str:
        return remarks_marker(self.ref)

    @property
    def invalid(self) -> bool:
        return bool(self.errors) or any(row.errors for row in self.rows)

    def value(self, name: str) -> str:
        """The order's field: the first row that fills it."""
        return next((row.values[name] for row in self.rows if row.values.get(name)), "")

    def source(self, name: str) -> Row:
        """The row the order's field comes from; the first row for the order as a whole."""
        if name in ORDER_FIELDS:
            return next((row for row in self.rows if row.values.get(name)), self.rows[0])
        return self.rows[0]

    def reasons(self, row: Row) -> list[tuple[str, str]]:
        """Why this row is not imported, by column: its own errors, the order's on the row they come from,
        and for the other rows of a refused order where to look."""
        reasons = list(row.errors.items())
        reasons += [(name, message) for name, message in self.errors.items() if self.source(name) is row]
        if not reasons and self.outcome in ("refused", "failed"):
            faulty = [str(r.number) for r in self.rows
                      if r.errors or any(self.source(name) is r for name in self.errors)]
            reasons = [("order_ref", f"order {self.ref} is refused as a whole; see row {', '.join(faulty)}")]
        return reasons


@dataclass
class Upload:
    columns: list[str]
    unknown_columns: list[str]
    delimiter: str
    orders: list[OrderRows]

    @property
    def rows(self) -> list[tuple[Row, OrderRows]]:
        """Every row with its order, in the file's order."""
        return sorted(((row, order) for order in self.orders for row in order.rows), key=lambda pair: pair[0].number)

    def count(self, *outcomes: str) -> int:
        """How many orders ended so."""
        return sum(1 for order in self.orders if order.outcome in outcomes)

    def rows_of(self, *outcomes: str) -> list[tuple[Row, OrderRows]]:
        """The rows of the orders that ended so, in the file's order."""
        return [(row, order) for row, order in self.rows if order.outcome in outcomes]


def remarks_marker(ref: str) -> str:
    return f"[import ref {ref}]"


def template_rows() -> list[list[str]]:
    """The header and one example row, for the page's template download."""
    example = {"order_ref": "PO-4711", "customer_code": "ACME", "channel": "email", "sku": "BOLT-M8",
               "quantity": "500", "requested_date": (now().date() + timedelta(days=30)).isoformat(),
               "payment_method": "credit", "remarks": "E-mail of the buyer: Re: spring order"}
    return [list(COLUMNS), [example.get(name, "") for name in COLUMNS]]


# Reading ------------------------------------------------------------------------------------------------


def _text(content: bytes, max_bytes: int) -> str:
    if len(content) > max_bytes:
        raise FileRefused("too_large", too_large=True, limit=max_bytes)
    if b"\x00" in content:
        raise FileRefused("binary")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileRefused("encoding", line=content[:error.start].count(b"\n") + 1) from None
    if not text.strip():
        raise FileRefused("empty")
    return text


def _delimiter(text: str) -> str:
    header = text.lstrip().split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def _column_name(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) per record; a quoted field may hold the delimiter and line breaks."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    number = 0
    try:
        for cells in reader:
            number += 1
            yield number, cells
    except csv.Error as error:
        raise FileRefused("not_csv", line=reader.line_num, problem=str(error)) from None


def read(content: bytes, *, default_channel: str, max_bytes: int, max_rows: int) -> Upload:
    """The file's orders, each row checked on its own (required values, the channel, the ref, rows of one
    order agreeing). FileRefused when the file cannot be taken at all."""
    if default_channel not in STAFF_CHANNELS:
        raise ValueError(f"the default channel must be one of {STAFF_CHANNELS}")
    text = _text(content, max_bytes)
    delimiter = _delimiter(text)
    records = _records(text, delimiter)
    header = next((cells for _, cells in records if any(cell.strip() for cell in cells)), [])
    columns = [_column_name(name) for name in header]
    named = [name for name in columns if name]
    if len(set(named)) < len(named):
        raise FileRefused("duplicate_columns", columns=sorted({n for n in named if named.count(n) > 1}))
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise FileRefused("missing_columns", columns=missing, found=named)
    orders: dict[tuple[str, str], OrderRows] = {}
    taken = 0
    for number, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        taken += 1
        if taken > max_rows:
            raise FileRefused("too_many_rows", too_large=True, limit=max_rows)
        row = _row(number, cells, columns, delimiter)
        ref, code = row.values["order_ref"], row.values["customer_code"]
        key = (code, ref) if "order_ref" not in row.errors else ("", f"row {number}")  # refused on its own
        order = orders.setdefault(key, OrderRows(ref=ref, customer_code=code, rows=[]))
        _agree(order, row)
        order.rows.append(row)
    if not orders:
        raise FileRefused("no_rows")
    for order in orders.values():
        if not order.value("channel"):
            order.rows[0].values["channel"] = default_channel
        order.outcome = "refused" if order.invalid else "unchecked"
    return Upload(columns=named, unknown_columns=[n for n in named if n not in COLUMNS], delimiter=delimiter,
                  orders=list(orders.values()))


def _row(number: int, cells: list[str], columns: list[str], delimiter: str) -> Row:
    values = {name: "" for name in COLUMNS}
    for name, cell in zip(columns, cells, strict=False):
        if name in values:
            values[name] = cell.strip()
    row = Row(number=number, values=values)
    extra = [cell for cell in cells[len(columns):] if cell.strip()]
    if extra:
        row.errors["row"] = f"has {len(columns) + len(extra)} values but the header names {len(columns)} columns"
    for name in REQUIRED:
        if not values[name]:
            row.errors[name] = "required"
    ref = values["order_ref"]
    if ref and (len(ref) > MAX_REF or not REF_PATTERN.fullmatch(ref)):
        row.errors["order_ref"] = f"at most {MAX_REF} characters, without brackets or control characters"
    values["channel"] = values["channel"].lower()
    if values["channel"] and values["channel"] not in STAFF_CHANNELS:
        row.errors["channel"] = f"'{values['channel'][:20]}' is not one of {', '.join(STAFF_CHANNELS)}"
    values["payment_method"] = values["payment_method"].lower()
    if delimiter == ";" and DECIMAL_COMMA.fullmatch(values["unit_price"]):
        values["unit_price"] = values["unit_price"].replace(",", ".")
    return row


def _agree(order: OrderRows, row: Row) -> None:
    """A later row of an order repeats the order's fields or leaves them empty."""
    for name in ORDER_FIELDS:
        given, first = row.values[name], order.value(name)
        if order.rows and given and first and given != first and name not in row.errors:
            source = next(r.number for r in order.rows if r.values.get(name))
            row.errors[name] = f"differs from row {source} of order {order.ref} ('{first[:40]}')"


# Checking and importing ---------------------------------------------------------------------------------


def _arguments(order: OrderRows) -> dict:
    """place_order's keyword arguments; the remarks begin with the idempotency marker."""
    remarks = order.value("remarks")
    return {
        "channel": order.value("channel"),
        "lines": [LineInput(sku=row.values["sku"], quantity=row.values["quantity"],
                            unit_price=row.values["unit_price"] or None, spec=row.values["spec"])
                  for row in order.rows],
        "requested_date": order.value("requested_date") or None,
        "payment_method": order.value("payment_method") or "credit",
        "remarks": order.marker + (f"\n{remarks}" if remarks else ""),
        "shipping_address": order.value("shipping_address") or None,
    }


def _record_errors(order: OrderRows, errors: dict[str, str]) -> None:
    """create_order's field errors put where the person will look: `lines.2.sku` on the order's second row,
    the order's own fields on the row they come from — unless that row already says what is wrong there."""
    for key, message in errors.items():
        parts = key.split(".")
        if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit() and 0 < int(parts[1]) <= len(order.rows):
            order.rows[int(parts[1]) - 1].errors.setdefault(parts[2], message)
            continue
        name = {"customer": "customer_code", "lines": "order"}.get(parts[0], parts[0])
        if name == "customer_code":
            message = f"unknown customer '{order.customer_code[:20]}'"
        if name not in order.source(name).errors:
            order.errors.setdefault(name, message)
    order.outcome = "refused"


def imported_before(customer_id: int, ref: str) -> Order | None:
    """The order an earlier import of this ref for this customer created."""
    marker = remarks_marker(ref)
    return db.session.scalar(select(Order).where(Order.customer_id == customer_id,
                                                 func.substr(Order.remarks, 1, len(marker)) == marker)
                             .order_by(Order.id).limit(1))


def _earlier(order: OrderRows) -> Order | None:
    customer = intake.customer_by_code(order.customer_code)
    if customer is None or not order.ref or "order_ref" in order.rows[0].errors:
        return None
    return imported_before(customer.id, order.ref)


def _check_one(order: OrderRows) -> None:
    """create_order's verdict on the order (prepare_order: the same rules), with nothing written."""
    earlier = _earlier(order)
    if earlier is not None:
        order.outcome, order.number = "duplicate", earlier.number
        return
    try:
        prepare_order(intake.customer_by_code(order.customer_code), entered_by="import check", **_arguments(order))
    except OrderError as error:
        _record_errors(order, error.errors)
    else:
        order.outcome = "refused" if order.invalid else "valid"
    finally:
        db.session.rollback()  # end the read transaction; the prepared order was never added


def check(upload: Upload) -> Upload:
    """What import_orders would do, order by order, with nothing written."""
    for order in upload.orders:
        _check_one(order)
    return upload


def _lock_customer(code: str) -> None:
    """Two imports of the same file at once: the second waits here until the first has committed, then
    finds its orders. The first statement of the unit, so SQLite takes its write lock now."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(Customer).where(Customer.code == code).values(code=Customer.code)
                           .execution_options(synchronize_session=False))
    else:
        db.session.execute(select(Customer.id).where(Customer.code == code).with_for_update())


def import_orders(upload: Upload, *, entered_by: str) -> Iterator[OrderRows]:
    """Import every order whose rows are all valid, each with its process in its own unit of work; yields
    each order once its outcome is known, so a page can show the progress. An order imported before is
    not imported again; a refused one gets every reason, as the check gives them."""
    for order in upload.orders:
        if order.invalid:
            _check_one(order)
        else:
            _import_one(order, entered_by)
        yield order


def _import_one(order: OrderRows, entered_by: str) -> None:
    db.session.rollback()  # end any read transaction, so the lock below is the unit's first statement
    try:
        with runtime.unit_of_work():
            _lock_customer(order.customer_code)
            earlier = _earlier(order)
            if earlier is not None:
                order.outcome, order.number = "duplicate", earlier.number
                return
            created = intake.place_order(order.customer_code, entered_by=entered_by, **_arguments(order))
    except OrderError as error:
        _record_errors(order, error.errors)
    except WorkflowError as error:  # e.g. no order process deployed: the order is not written either
        order.errors.setdefault("order", f"the order process could not start: {error}")
        order.outcome = "failed"
    else:
        order.outcome, order.number = "created", created.number
