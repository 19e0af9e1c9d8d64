"""POST /api/v1/orders/<number>/events: a partner reports what happened to an order.

`goods_received` and `payment_received` go to the order's process and answer the order, as they
always did. Every other event (app.exceptions.intake.EVENTS) answers {"order": …} with the case it
raised under "exception" (201, Location: the case) and a carrier's record under "event"; a carrier
event sent again answers 200 with the first outcome; a pick-up, only recorded, answers 202.
"""

from flask import g, jsonify

from app.api import bp, schemas
from app.api.exceptions import case_json
from app.api.orders import json_body, order_json, order_or_404, valid
from app.api.scopes import requires
from app.exceptions import intake as partner_events
from app.extensions import db
from app.fulfilment.models import CarrierEvent
from app.orders import intake


def _event_json(record: CarrierEvent) -> dict:
    return {"type": record.type, "event_id": record.event_id,
            "occurred_at": record.occurred_at.isoformat() if record.occurred_at else None,
            "recorded_at": record.recorded_at.isoformat()}


@bp.post("/orders/<number>/events")
@requires("events:write")
def post_event(number: str):
    order = order_or_404(number)
    body = json_body()
    valid(schemas.event_errors(body))
    kind, payload, actor = body["type"], body.get("payload", {}), g.api_client.actor
    if kind in intake.EVENTS:
        intake.report_event(order, kind, payload, actor=actor)
        db.session.expire_all()
        return jsonify(order_json(order_or_404(number)))
    reported = partner_events.report(order, kind, payload, reporter=actor)
    db.session.expire_all()
    answer = {"order": order_json(order_or_404(number))}
    if reported.carrier_event is not None:
        answer["event"] = _event_json(reported.carrier_event)
    if reported.case is not None:
        answer["exception"] = case_json(reported.case)
    if reported.repeated:
        return jsonify(answer), 200
    if reported.case is not None:
        return jsonify(answer), 201, {"Location": answer["exception"]["links"]["self"]}
    return jsonify(answer), 200 if kind == "delivered" else 202
