"""What the rate limits of the API (app/api/limits.py) and of the login page (app/web/auth.py) share.

Flask-Limiter (`limiter` in app/extensions.py) counts requests per key in fixed windows kept in
RATELIMIT_STORAGE_URI; a request over a limit raises RateLimitExceeded (HTTP 429), which the API answers
as JSON and app/web/errors.py as a page, both with Retry-After.
"""

import math
import time

from flask import request
from flask_limiter import RequestLimit

from app.extensions import limiter


def address_key() -> str:
    """Where the request comes from. Behind a reverse proxy this is the proxy unless the app is wrapped
    in werkzeug's ProxyFix, and every client would share one count."""
    return f"address:{request.remote_addr or 'unknown'}"


def breached() -> RequestLimit | None:
    """The limit this request went over, while a 429 is being answered."""
    limit = limiter.current_limit
    return limit if limit is not None and limit.breached else None


def current(scope: str) -> RequestLimit | None:
    """The limit of this request counted under `scope` (a shared limit's scope), if one was."""
    return next((limit for limit in limiter.current_limits if limit.request_args[-1] == scope), None)


def retry_after(limit: RequestLimit) -> int:
    """Whole seconds until the limit's window ends and requests count afresh; at least 1."""
    return max(1, math.ceil(limit.window.reset_time - time.time()))


def headers(limit: RequestLimit) -> dict[str, str]:
    """X-RateLimit-* for a limit: how many requests its window allows, how many are left, when it ends."""
    return {"X-RateLimit-Limit": str(limit.limit.amount), "X-RateLimit-Remaining": str(limit.remaining),
            "X-RateLimit-Reset": str(math.ceil(limit.window.reset_time))}


def forget(key_prefix: str) -> None:
    """Clear this request's counts whose key starts with `key_prefix` (a login that succeeded)."""
    for limit in limiter.current_limits:
        if limit.request_args[-2].startswith(key_prefix):
            limiter.limiter.clear(limit.limit, *limit.request_args)
