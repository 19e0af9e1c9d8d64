"""Idempotency-Key on POST: a client that retries a request (a timeout, a dropped connection) gets the
first answer again instead of a second order.

The first request with a key writes an in-flight record before the work starts, in the transaction the
work commits (so an order and its key's record are committed together); the unique (client, key)
makes a concurrent duplicate wait for that transaction, then collide with the record, and that
duplicate is told to come back (409 request_in_progress) or, once the answer is kept, gets it replayed.
The answer is stored when the work is done, refusals (4xx) included; a server error (5xx) deletes the
record so a retry can try again. A retry of the same request (method,
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
_ANSWER = update(_RECORDS).where(_RECORDS.c.id == bindparam("record_id"), _RECORDS.c.key == bindparam("record_key"),
                                 _RECORDS.c.status.is_(None))


@dataclass(frozen=True)
class Claim:
    """This request's in-flight record: written in the request's own transaction, so a view that
    commits its work commits the claim with it, and a refusal rolls both back."""

    record_id: int
    client_id: int
    key: str
    fingerprint: str

    def row(self) -> dict:
        return {"client_id": self.client_id, "key": self.key, "request_hash": self.fingerprint,
                "response_headers": {}, "created_at": now()}


def _claim(client_id: int, key: str, fingerprint: str) -> int | None:
    """Insert the in-flight record unless the key has one; its id, or None. One statement: a concurrent
    first use of the key waits until the other's transaction ends, then finds its row (or, when that
    one was rolled back, takes the key)."""
    claim = _CLAIM[db.session.get_bind().dialect.name]
    return db.session.scalar(claim, {"client_id": client_id, "key": key, "request_hash": fingerprint,
                                     "response_headers": {}, "created_at": now()})


def begin(client_id: int, key: str) -> Response | Refusal | None:
    """Before the work. None: this request is the key's first; its record is written, uncommitted, and
    the view runs (its unit of work commits the two together). Otherwise what to answer instead: the
    stored answer replayed, or a refusal."""
    fingerprint = request_hash()
    for _attempt in range(2):
        record_id = _claim(client_id, key, fingerprint)
        if record_id is not None:
            g.idempotency_claim = Claim(record_id, client_id, key, fingerprint)
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
    commits (with the call's audit row). A claim the request rolled back (a refusal) is written afresh
    with the answer, unless a retry has taken the key meanwhile: that one's answer is kept."""
    claim = g.pop("idempotency_claim", None)
    if claim is None:
        return
    if response.status_code >= 500:
        db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == claim.record_id))
        return
    answer = {"status": response.status_code, "completed_at": now(),
              "response_body": response.get_data().decode("utf-8", "replace"),
              "response_headers": {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}}
    # The id alone could name another key's row: SQLite may hand a rolled-back id out again.
    kept = db.session.execute(_ANSWER, {"record_id": claim.record_id, "record_key": claim.key, **answer})
    if not kept.rowcount:
        db.session.execute(_CLAIM[db.session.get_bind().dialect.name], {**claim.row(), **answer})


def forget() -> None:
    """Delete the in-flight record (the work failed) and commit; a retry with the key starts afresh."""
    claim = g.pop("idempotency_claim", None)
    if claim is None:
        return
    db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == claim.record_id))
    db.session.commit()


def purge_expired() -> int:
    """Delete every expired record; the caller commits (`flask api-clients purge-keys`, and the scheduler
    every hour). Retries never need them: an expired key is new."""
    result = db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < _expiry()))
    return result.rowcount or 0
