"""Stock: reserving for orders, releasing, issuing on shipment, receiving from production."""

from sqlalchemy import bindparam, select

from app.catalog.models import Product, StockMove
from app.extensions import db


class StockError(ValueError):
    pass


def by_sku(sku: str) -> Product | None:
    return db.session.scalar(select(Product).where(Product.sku == sku.strip().upper()))


# Built once: every order reads it.
_PRODUCTS_BY_SKU = select(Product).where(Product.sku.in_(bindparam("skus", expanding=True)))


def by_skus(skus) -> dict[str, Product]:
    """The products of these SKUs (as by_sku reads them), by SKU, in one query."""
    wanted = sorted({sku.strip().upper() for sku in skus})
    if not wanted:
        return {}
    return {product.sku: product for product in db.session.scalars(_PRODUCTS_BY_SKU, {"skus": wanted})}


def _move(product: Product, kind: str, quantity: int, order_number: str | None, note: str = "") -> None:
    db.session.add(StockMove(product_id=product.id, kind=kind, quantity=quantity, order_number=order_number,
                             note=note))


def reserve(product: Product, quantity: int, order_number: str) -> int:
    """Reserve up to `quantity` of what is available; returns how many were reserved."""
    take = max(0, min(quantity, product.available))
    if take:
        product.reserved += take
        _move(product, "reserve", take, order_number)
    return take


def release(product: Product, quantity: int, order_number: str) -> None:
    if quantity > product.reserved:
        raise StockError(f"{product.sku}: cannot release {quantity}, only {product.reserved} reserved")
    product.reserved -= quantity
    _move(product, "release", quantity, order_number)


def issue(product: Product, quantity: int, order_number: str) -> None:
    """Goods leave the warehouse: they were reserved, now they are gone from stock."""
    if quantity > product.reserved or quantity > product.on_hand:
        raise StockError(f"{product.sku}: cannot ship {quantity} (on hand {product.on_hand}, "
                         f"reserved {product.reserved})")
    product.reserved -= quantity
    product.on_hand -= quantity
    _move(product, "issue", quantity, order_number)


def receive(product: Product, quantity: int, order_number: str | None, note: str = "", kind: str = "receipt") -> None:
    if quantity <= 0:
        raise StockError("a receipt needs a positive quantity")
    product.on_hand += quantity
    _move(product, kind, quantity, order_number, note)


def write_off(product: Product, quantity: int, order_number: str | None, note: str) -> None:
    """Reserved goods that are defective leave stock."""
    if quantity > product.reserved:
        raise StockError(f"{product.sku}: cannot write off {quantity}, only {product.reserved} reserved")
    product.reserved -= quantity
    product.on_hand -= quantity
    _move(product, "write_off", quantity, order_number, note)


def adjust(product: Product, counted: int, note: str) -> int:
    """A stock count found `counted` on the shelf: the book follows. Returns the difference."""
    if counted < 0:
        raise StockError("a count cannot be negative")
    if counted < product.reserved:
        raise StockError(f"{product.sku}: {product.reserved} are reserved for orders; a count of {counted} "
                         "needs those orders looked at first")
    difference = counted - product.on_hand
    product.on_hand = counted
    _move(product, "count", difference, None, note)
    return difference
