"""Products and their stock: on hand, reserved for confirmed orders, and every movement."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.extensions import db
from app.sqltypes import UTCDateTime


class Product(db.Model):
    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(Text, default="")
    list_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # The lowest price the pricing policy allows without a manager's approval, as a share of list.
    floor_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("80"))
    make_to_order: Mapped[bool] = mapped_column(default=False)
    lead_time_days: Mapped[int] = mapped_column(default=0)
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMove(db.Model):
    """Every change to stock, with its reason: reserve, release, issue (shipped), receipt, return,
    write_off (defective goods), count (a stock count corrected the book)."""

    __tablename__ = "stock_move"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int]
    order_number: Mapped[str | None] = mapped_column(String(20), index=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    product: Mapped[Product] = relationship()
