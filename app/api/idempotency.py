"""Idempotency-Key on POST: a client that retries a request (a timeout, a dropped connection) gets the
first answer again instead of a second order.

The first request with a key commits an in-flight record BEFORE the work starts; the unique
(client, key) makes a concurrent duplicate collide with it, and that duplicate is told to come back
(409 request_in_progress). The answer is stored when the work is done, refusals (4xx) included; a
server error (5xx) deletes the record so a retry can try again. A retry of the same request (method,
path, media type and body, JSON compared after canonical encoding) replays the stored status, body,
Location and Content-Type byte for byte, marked `Idempotent-Replayed: true`; the same key with a
different request is refused (422 idempotency_key_reused). Keys are kept API_IDEMPOTENCY_HOURS; an
expired key is a new key, and so is one whose first request never answered within
API_IDEMPOTENCY_ABANDONED_MINUTES (its worker was killed). The scheduler deletes expired records every
hour. A POST without the header is answered as always.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

from flask import Response, current_app, g, request
from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.api.models import IdempotencyRecord
from app.clock import now
from app.extensions import db

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII: no spaces, no control characters
KEPT_HEADERS = ("Location", "Content-Type", "Preference-Applied")


def key_problem(key: str) -> str | None:
    if KEY.fullmatch(key):
        return None
    return "1 to 200 visible ASCII characters (no spaces)"


def request_hash() -> str:
    body = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode("ascii")
    except (ValueError, RecursionError):  # not JSON: the bytes as sent (the view refuses them anyway)
        canonical = body
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1"), request.mimetype):
        digest.update(part.encode("utf-8", "replace") + b"\0")
    digest.update(canonical)
    return digest.hexdigest()


def _expiry():
    return now() - timedelta(hours=current_app.config["API_IDEMPOTENCY_HOURS"])


def _abandoned():
    return now() - timedelta(minutes=current_app.config["API_IDEMPOTENCY_ABANDONED_MINUTES"])


def _of(client_id: int, key: str):
    return (IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key)


@dataclass(frozen=True)
class Refusal:
    status: int
    error: str
    message: str
    retry_after: int | None = None


REUSED = Refusal(422, "idempotency_key_reused", "this Idempotency-Key was used for a different request; use a new key")
IN_PROGRESS = Refusal(409, "request_in_progress",
                      "a request with this Idempotency-Key is still being answered; retry in a moment", retry_after=1)


_RECORDS = IdempotencyRecord.__table__
# Built once (per dialect): every POST with a key runs them, and building them cost more than running them.
_CLAIM = {dialect: insert(_RECORDS).on_conflict_do_nothing(index_elements=["client_id", "key"]).returning(_RECORDS.c.id)
          for dialect, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))}
_ANSWER = update(_RECORDS).where(_RECORDS.c.id == bindparam("record_id"))


def _claim(client_id: int, key: str, fingerprint: str) -> int | None:
    """Insert the in-flight record unless the key has one; its id, or None. One statement: a concurrent
    first use of the key waits for the other's commit, then finds its row."""
    claim = _CLAIM[db.session.get_bind().dialect.name]
    return db.session.scalar(claim, {"client_id": client_id, "key": key, "request_hash": fingerprint,
                                     "response_headers": {}, "created_at": now()})


def begin(client_id: int, key: str) -> Response | Refusal | None:
    """Before the work. None: this request is the key's first, its record is committed and the view runs.
    Otherwise what to answer instead: the stored answer replayed, or a refusal."""
    fingerprint = request_hash()
    for _attempt in range(2):
        record_id = _claim(client_id, key, fingerprint)
        if record_id is not None:
            db.session.commit()
            g.idempotency_record_id = record_id
            return None
        # The key was used before, or is being used right now. An expired use, or one whose request
        # died before it answered, is forgotten (once) and the key taken afresh.
        gone = db.session.execute(delete(IdempotencyRecord).where(*_of(client_id, key), or_(
            IdempotencyRecord.created_at < _expiry(),
            and_(IdempotencyRecord.status.is_(None), IdempotencyRecord.created_at < _abandoned()))))
        if not gone.rowcount:
            break
    first = db.session.scalar(select(IdempotencyRecord).where(*_of(client_id, key)))
    if first is not None and first.request_hash != fingerprint:
        return REUSED
    if first is None or first.status is None:  # in flight (or failed and forgotten a moment ago)
        return IN_PROGRESS
    g.idempotency_replayed = True
    response = current_app.response_class(first.response_body.encode("utf-8"), status=first.status)
    for name, value in (first.response_headers or {}).items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def finish(response: Response) -> None:
    """After the work: keep the answer (a 4xx too), or forget the key after a server error. The caller
    commits (with the call's audit row)."""
    record_id = g.pop("idempotency_record_id", None)
    if record_id is None:
        return
    if response.status_code >= 500:
        db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
        return
    kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    db.session.execute(_ANSWER, {
        "record_id": record_id, "status": response.status_code, "completed_at": now(),
        "response_body": response.get_data().decode("utf-8", "replace"), "response_headers": kept})


def forget() -> None:
    """Delete the in-flight record (the work failed) and commit; a retry with the key starts afresh."""
    record_id = g.pop("idempotency_record_id", None)
    if record_id is None:
        return
    db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
    db.session.commit()


def purge_expired() -> int:
    """Delete every expired record; the caller commits (`flask api-clients purge-keys`, and the scheduler
    every hour). Retries never need them: an expired key is new."""
    result = db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < _expiry()))
    return result.rowcount or 0
