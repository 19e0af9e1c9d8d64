"""Shipments: what leaves the warehouse together, picked, packed, checked and handed to a carrier;
and what carriers report about them."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
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


class CarrierEvent(db.Model):
    """What a carrier reported about an order's goods on their way (picked up, delayed, delivered, lost …),
    once per event: the carrier's own event id is unique under the partner that sent it, so a report
    sent twice is recorded, and acted on, once."""

    __tablename__ = "carrier_event"
    __table_args__ = (UniqueConstraint("reported_by", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipment.id"))
    type: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(50))
    reported_by: Mapped[str] = mapped_column(String(80))  # the partner: api:<client>
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # The exception case the event raised (a delay, a loss …); none for a pick-up or a delivery.
    exception_id: Mapped[int | None] = mapped_column(ForeignKey("exception_case.id"))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when the carrier says it happened
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
