"""Stock: reserving for orders, releasing, issuing on shipment, receiving from production."""

from sqlalchemy import select

from app.catalog.models import Product, StockMove
from app.extensions import db


class StockError(ValueError):
    pass


def by_sku(sku: str) -> Product | None:
    return db.session.scalar(select(Product).where(Product.sku == sku.strip().upper()))


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


def receive(product: Product, quantity: int, order_number: str | None, note: str = "") -> None:
    if quantity <= 0:
        raise StockError("a receipt needs a positive quantity")
    product.on_hand += quantity
    _move(product, "receipt", quantity, order_number, note)
