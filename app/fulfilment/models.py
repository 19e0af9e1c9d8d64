"""Shipments: what leaves the warehouse together, picked, packed, checked and handed to a carrier."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.extensions import db
from app.sqltypes import UTCDateTime


class Shipment(db.Model):
    __tablename__ = "shipment"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"), index=True)
    # picking → packed → checked → shipped → delivered
    status: Mapped[str] = mapped_column(String(20), default="picking")
    backorder: Mapped[bool] = mapped_column(default=False)  # ships less than the order still needs
    carrier: Mapped[str] = mapped_column(String(80), default="")
    tracking_number: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list["ShipmentLine"]] = relationship(cascade="all, delete-orphan", order_by="ShipmentLine.id")


class ShipmentLine(db.Model):
    __tablename__ = "shipment_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipment.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"))
    sku: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int]
