"""Bearer tokens for API clients: create (the token is shown once), revoke, and find the client a
request's token belongs to."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select, update

from app.api import scopes
from app.api.models import EVERY_SCOPE, ApiClient
from app.clock import now
from app.extensions import db
from app.orders.models import CHANNELS

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$")
MAX_TOKEN_CHARS = 200
# last_used_at is written at most this often per client, so reads do not each cost a write.
TOUCH_EVERY = timedelta(minutes=1)


class ClientError(ValueError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_client(name: str, channel: str, scope_text: str = EVERY_SCOPE,
                  created_by: str = "") -> tuple[ApiClient, str]:
    """A new client and its token; only the token's hash is stored, so show the token now or never."""
    if not NAME.match(name or ""):
        raise ClientError("a name is 1 to 60 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if channel not in CHANNELS:
        raise ClientError(f"unknown channel '{channel}' (one of {', '.join(CHANNELS)})")
    try:
        granted = scopes.parse(scope_text)
    except ValueError as error:
        raise ClientError(str(error)) from None
    if not granted:
        raise ClientError(f"give the client at least one scope (of {', '.join(scopes.SCOPES)})")
    if db.session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise ClientError(f"an API client named '{name}' exists already")
    token = secrets.token_urlsafe(32)
    client = ApiClient(name=name, channel=channel, token_hash=hash_token(token), scopes=" ".join(granted),
                       created_by=created_by[:80])
    db.session.add(client)
    db.session.flush()
    return client, token


def client_named(name: str) -> ApiClient:
    client = db.session.scalar(select(ApiClient).where(ApiClient.name == name))
    if client is None:
        raise ClientError(f"no API client named '{name}'")
    return client


def revoke(client: ApiClient, by: str) -> ApiClient:
    """Its token stops working at once; who revoked it and when is kept (a second revoke changes nothing)."""
    if not client.active:
        raise ClientError(f"API client '{client.name}' was revoked already")
    client.active, client.revoked_at, client.revoked_by = False, now(), by[:80]
    db.session.flush()
    return client


def revoke_client(name: str, by: str = "cli") -> ApiClient:
    return revoke(client_named(name), by)


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return token


_CLIENT_BY_TOKEN = select(ApiClient).where(ApiClient.token_hash == bindparam("digest"))  # built once: every call


def identify(authorization: str | None) -> ApiClient | None:
    """The client whose token the Authorization header carries, active or revoked, or None."""
    token = bearer_token(authorization)
    if token is None:
        return None
    digest = hash_token(token)
    client = db.session.scalar(_CLIENT_BY_TOKEN, {"digest": digest})
    if client is None or not hmac.compare_digest(client.token_hash, digest):
        return None
    return client


@dataclass(frozen=True)
class Caller:
    """The authenticated client of one request, as plain values."""

    id: int
    name: str
    channel: str

    @classmethod
    def of(cls, client: ApiClient) -> "Caller":
        return cls(client.id, client.name, client.channel)

    @property
    def actor(self) -> str:
        return f"api:{self.name}"


def touch(client: ApiClient) -> None:
    """Record when the client was last seen (its own small unit of work, so a refused request still counts)."""
    moment = now()
    if client.last_used_at is None or moment - client.last_used_at >= TOUCH_EVERY:
        db.session.execute(update(ApiClient).where(ApiClient.id == client.id).values(last_used_at=moment))
        db.session.commit()


def authenticate(authorization: str | None) -> ApiClient | None:
    """The active client whose token the Authorization header carries, or None."""
    client = identify(authorization)
    if client is None or not client.active:
        return None
    touch(client)
    return client
