"""One `api_call` row per API request a known client made, answered or refused: method, path, status,
Idempotency-Key, whether the answer was a replay, and how long it took.

The row is written after the answer is made, in the small transaction that also keeps the answer for
its Idempotency-Key, so a request whose work was rolled back is audited all the same; a failure to write
it is logged and never changes the answer.
"""

import time
from datetime import timedelta

from flask import Response, current_app, g, request
from sqlalchemy import func, insert, select

from app.api.models import ApiCall
from app.clock import now
from app.extensions import db

IDEMPOTENCY_HEADER = "Idempotency-Key"


def start() -> None:
    g.api_started = time.perf_counter()


# A plain INSERT, as nothing reads the row back; built once, as building it cost more than running it.
_INSERT_CALL = insert(ApiCall.__table__)


def add(client_id: int, status: int) -> None:
    """Add the row to the session; the caller commits (after finishing the request's own transaction)."""
    started = g.get("api_started")
    key = request.headers.get(IDEMPOTENCY_HEADER)
    db.session.execute(_INSERT_CALL, {
        "client_id": client_id, "method": request.method[:10], "path": request.path[:300], "status": status,
        "idempotency_key": key[:200] if key else None, "replayed": bool(g.get("idempotency_replayed")),
        "duration_ms": int((time.perf_counter() - started) * 1000) if started is not None else 0, "at": now(),
    })


def record(client_id: int, status: int) -> None:
    """Write the row in a transaction of its own."""
    add(client_id, status)
    db.session.commit()


def record_safely(client_id: int | None, response: Response | None) -> None:
    if client_id is None:
        return
    try:
        record(client_id, response.status_code if response is not None else 500)
    except Exception:  # the audit must never cost the client its answer
        db.session.rollback()
        current_app.logger.exception("could not audit API call %s %s", request.method, request.path)


# --- what the admin pages read -------------------------------------------------------------------------


def calls_since(hours: int, client_id: int | None = None) -> dict[int, int]:
    """Calls per client id in the last `hours` (of every client, or of one)."""
    query = select(ApiCall.client_id, func.count()).where(ApiCall.at >= now() - timedelta(hours=hours))
    if client_id is not None:
        query = query.where(ApiCall.client_id == client_id)
    return dict(db.session.execute(query.group_by(ApiCall.client_id)).all())


def calls_of(client_id: int):
    """A client's calls, newest first (a select for paging)."""
    return select(ApiCall).where(ApiCall.client_id == client_id).order_by(ApiCall.at.desc(), ApiCall.id.desc())
