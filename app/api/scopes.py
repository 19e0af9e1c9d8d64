"""What an API client may do. Each client holds a set of scopes; each route of /api/v1 names the one it
needs with `@requires(...)` (or `@public` for what anybody may read, such as the API's own description).
A route that names neither is refused to every client, so a new route cannot be open by accident."""

from collections.abc import Callable

ORDERS_READ = "orders:read"
ORDERS_WRITE = "orders:write"
EVENTS_WRITE = "events:write"
EXCEPTIONS_READ = "exceptions:read"
EXCEPTIONS_WRITE = "exceptions:write"

# In the order pages and listings show them; app.api.models.EVERY_SCOPE is the same list as text.
SCOPES = (ORDERS_READ, ORDERS_WRITE, EVENTS_WRITE, EXCEPTIONS_READ, EXCEPTIONS_WRITE)

# The registry the decorators fill: view function → the scope it needs (None: public, no token needed).
REQUIRED: dict[Callable, str | None] = {}


def requires(scope: str):
    """Mark a view as needing `scope`. Works above or below `@bp.get/post` (the view is returned as is)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope '{scope}' (one of {', '.join(SCOPES)})")

    def decorator(view: Callable) -> Callable:
        REQUIRED[view] = scope
        return view

    return decorator


def public(view: Callable) -> Callable:
    """Mark a view that answers without a token (the OpenAPI document and its page)."""
    REQUIRED[view] = None
    return view


def is_declared(view: Callable | None) -> bool:
    return view in REQUIRED


def required(view: Callable | None) -> str | None:
    return REQUIRED.get(view)


def parse(text: str | None) -> list[str]:
    """Scopes as an admin writes them (space- or comma-separated) in their canonical order; unknown ones
    raise ValueError naming them."""
    named = set((text or "").replace(",", " ").split())
    unknown = sorted(named.difference(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    return [scope for scope in SCOPES if scope in named]


def held(scopes_text: str | None) -> set[str]:
    return set((scopes_text or "").split())
