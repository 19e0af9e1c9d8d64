"""Fulfilment: reserve stock for an order, make what is missing, ship in one or more shipments."""

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from app.catalog import service as catalog
from app.clock import now
from app.extensions import db
from app.fulfilment.models import Shipment, ShipmentLine
from app.numbering import next_number
from app.orders import service as orders
from app.orders.models import Order

PREPARING = ("picking", "packed", "checked")


class FulfilmentError(ValueError):
    pass


def reserve(order: Order) -> dict:
    """Reserve what stock allows for every line still open; report what is ready and what is short."""
    for line in order.lines:
        need = line.open_qty - line.reserved_qty
        if need > 0:
            line.reserved_qty += catalog.reserve(line.product, need, order.number)
    db.session.flush()
    return status(order)


def status(order: Order) -> dict:
    short = [{"sku": line.sku, "short": line.open_qty - line.reserved_qty, "make_to_order": line.make_to_order}
             for line in order.lines if line.open_qty > line.reserved_qty]
    ready = sum(line.reserved_qty for line in order.lines)
    return {"all_reserved": not short, "ready_qty": ready, "short": short, "allow_partial": order.allow_partial,
            "everything_shipped": all(line.open_qty == 0 for line in order.lines)}


# Days a shipment is on the road when the customer asked for no date.
TRANSIT_DAYS = 3


def deliver_by(order: Order) -> str:
    """The end of the promised delivery day (UTC, ISO): the customer's requested date, or the expected
    ship date plus the transit days. Past it, the order process raises a late-delivery case."""
    promised = order.requested_date or (order.expected_ship_date or now().date()) + timedelta(days=TRANSIT_DAYS)
    return datetime.combine(promised + timedelta(days=1), time(0), UTC).isoformat()


def book_production(order: Order, note: str = "") -> dict:
    """Production reports the missing goods made: they enter stock and are reserved for this order."""
    for line in order.lines:
        missing = line.open_qty - line.reserved_qty
        if missing > 0:
            catalog.receive(line.product, missing, order.number, note or "production completed")
            line.produced_qty += missing
    return reserve(order)


def open_shipment(order: Order) -> Shipment | None:
    return db.session.scalar(
        select(Shipment).where(Shipment.order_id == order.id, Shipment.status.in_(PREPARING))
        .order_by(Shipment.id.desc())
    )


def create_pick_list(order: Order) -> Shipment:
    """A shipment of everything reserved and not yet shipped; its lines are the pick list."""
    if open_shipment(order) is not None:
        raise FulfilmentError(f"{order.number} already has a shipment being prepared")
    lines = [ShipmentLine(order_line_id=line.id, sku=line.sku, quantity=line.reserved_qty)
             for line in order.lines if line.reserved_qty > 0]
    if not lines:
        raise FulfilmentError(f"nothing of {order.number} is reserved to pick")
    shipment = Shipment(number=next_number("SH"), order_id=order.id, lines=lines)
    shipment.backorder = sum(sl.quantity for sl in lines) < sum(line.open_qty for line in order.lines)
    db.session.add(shipment)
    if order.status == "confirmed":
        orders.set_status(order, "in_fulfilment")
    db.session.flush()
    return shipment


def advance(shipment: Shipment, to: str) -> Shipment:
    order_of_steps = ["picking", "packed", "checked", "shipped", "delivered"]
    if order_of_steps.index(to) != order_of_steps.index(shipment.status) + 1:
        raise FulfilmentError(f"shipment {shipment.number} is {shipment.status}; it cannot become {to}")
    shipment.status = to
    db.session.flush()
    return shipment


def ship(order: Order, shipment: Shipment, carrier: str, tracking_number: str) -> Shipment:
    """Hand the checked goods to the carrier: stock leaves, the lines count as shipped."""
    if not carrier.strip() or not tracking_number.strip():
        raise FulfilmentError("a carrier and a tracking number are needed")
    advance(shipment, "shipped")
    lines = {line.id: line for line in order.lines}
    for shipped in shipment.lines:
        line = lines[shipped.order_line_id]
        catalog.issue(line.product, shipped.quantity, order.number)
        line.reserved_qty -= shipped.quantity
        line.shipped_qty += shipped.quantity
    shipment.carrier, shipment.tracking_number, shipment.shipped_at = carrier.strip(), tracking_number.strip(), now()
    done = all(line.open_qty == 0 for line in order.lines)
    orders.set_status(order, "shipped" if done else "partial", kind="shipment_status")
    db.session.flush()
    return shipment


def confirm_delivery(order: Order) -> None:
    for shipment in db.session.scalars(select(Shipment).where(Shipment.order_id == order.id,
                                                              Shipment.status == "shipped")):
        shipment.status, shipment.delivered_at = "delivered", now()
    orders.set_status(order, "delivered", kind="shipment_status")
    orders.move_on(order, "delivered")


# When things go wrong ----------------------------------------------------------------------------

def release_reservations(order: Order) -> int:
    """Give back every unit reserved for the order; picked goods go back to the shelf with them."""
    released = 0
    for line in order.lines:
        if line.reserved_qty and line.product is not None:
            catalog.release(line.product, line.reserved_qty, order.number)
            released += line.reserved_qty
            line.reserved_qty = 0
    shipment = open_shipment(order)
    if shipment is not None:
        shipment.status = "cancelled"
    db.session.flush()
    return released


def scrap(order: Order, sku: str, quantity: int, note: str) -> None:
    """Defective goods picked for the order leave stock for good (a quality hold)."""
    line = next((line for line in order.lines if line.sku == sku), None)
    if line is None or line.product is None:
        raise FulfilmentError(f"{order.number} has no line for {sku}")
    if not 0 < quantity <= line.reserved_qty:
        raise FulfilmentError(f"only {line.reserved_qty} of {sku} are reserved for {order.number}")
    catalog.write_off(line.product, quantity, order.number, note)
    line.reserved_qty -= quantity
    db.session.flush()


def take_back(order: Order, note: str) -> int:
    """Everything shipped comes back into stock (a refused delivery, a return)."""
    back = 0
    for line in order.lines:
        returning = line.shipped_qty - line.returned_qty
        if returning > 0 and line.product is not None:
            catalog.receive(line.product, returning, order.number, note, kind="return")
            line.returned_qty += returning
            back += returning
    for shipment in db.session.scalars(select(Shipment).where(Shipment.order_id == order.id,
                                                              Shipment.status.in_(("shipped", "delivered")))):
        shipment.status = "returned"
    if back:
        orders.set_status(order, "returned", kind="shipment_status")
    db.session.flush()
    return back


def write_off_in_transit(order: Order) -> int:
    """Goods the carrier lost or damaged: the customer is not charged for them (the carrier is)."""
    lost = 0
    for line in order.lines:
        gone = line.shipped_qty - line.returned_qty
        line.returned_qty += gone
        lost += gone
    db.session.flush()
    return lost


def reship(order: Order, carrier: str, tracking_number: str) -> Shipment:
    """Send again what the last shipment carried (it was lost or damaged), from stock, at once."""
    last = db.session.scalar(select(Shipment).where(Shipment.order_id == order.id,
                                                    Shipment.status.in_(("shipped", "delivered")))
                             .order_by(Shipment.id.desc()))
    if last is None:
        raise FulfilmentError(f"{order.number} has no shipment to send again")
    if not carrier.strip() or not tracking_number.strip():
        raise FulfilmentError("a carrier and a tracking number are needed")
    lines = {line.id: line for line in order.lines}
    for item in last.lines:
        product = lines[item.order_line_id].product
        if product is None or product.available < item.quantity:
            raise FulfilmentError(f"not enough {item.sku} in stock to ship again "
                                  f"({product.available if product else 0} available, {item.quantity} needed)")
    replacement = Shipment(number=next_number("SH"), order_id=order.id, status="shipped", carrier=carrier.strip(),
                           tracking_number=tracking_number.strip(), shipped_at=now(),
                           lines=[ShipmentLine(order_line_id=i.order_line_id, sku=i.sku, quantity=i.quantity)
                                  for i in last.lines])
    for item in last.lines:
        product = lines[item.order_line_id].product
        catalog.reserve(product, item.quantity, order.number)
        catalog.issue(product, item.quantity, order.number)
    db.session.add(replacement)
    db.session.flush()
    return replacement
