"""Rate limits on the API. Every call counts against its client (API_RATE_LIMIT); calls answered 401
count against their address as well (API_AUTH_FAILURE_RATE_LIMIT), so unknown or revoked tokens cannot
be tried without end. Over a limit: 429 in the API's error shape, with Retry-After.

Flask-Limiter checks before the blueprint authenticates, so a client is known here only by its token:
the key is the token's SHA-256 (never the token). A call without a token counts against its address.
"""

from flask import current_app, request
from flask_limiter import RateLimitExceeded

from app import ratelimits
from app.api import answer, auth, bp
from app.extensions import limiter

CLIENT_SCOPE = "api"
AUTH_FAILURE_SCOPE = "api-auth"


def client_key() -> str:
    token = auth.bearer_token(request.headers.get("Authorization"))
    return f"token:{auth.hash_token(token)}" if token else ratelimits.address_key()


# Shared limits: one count per client across every endpoint, not one per endpoint.
limiter.shared_limit(lambda: current_app.config["API_RATE_LIMIT"], scope=CLIENT_SCOPE, key_func=client_key)(bp)
limiter.shared_limit(lambda: current_app.config["API_AUTH_FAILURE_RATE_LIMIT"], scope=AUTH_FAILURE_SCOPE,
                     key_func=ratelimits.address_key, deduct_when=lambda response: response.status_code == 401)(bp)


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(error: RateLimitExceeded):
    limit = ratelimits.breached()
    wait = ratelimits.retry_after(limit) if limit else int(error.limit.limit.get_expiry())
    who = "this address sent too many requests with an unknown or revoked token" \
        if error.limit.scope == AUTH_FAILURE_SCOPE else "this API client sent too many requests"
    response, status = answer(429, "rate_limited", f"{who} ({error.limit.limit}); retry after {wait} s",
                              {"limit": str(error.limit.limit), "retry_after": wait})
    response.headers["Retry-After"] = str(wait)
    return response, status


@bp.after_request
def _limit_headers(response):
    """The client's own budget on every answer; on a 429, the limit it went over."""
    limit = ratelimits.breached() or ratelimits.current(CLIENT_SCOPE)
    if limit is not None:
        response.headers.update(ratelimits.headers(limit))
    return response
