"""Whole numbers from URLs and forms kept within what the databases store: a huge id is simply
not found and a huge page number is the last page, never an overflow deep in a query."""

from flask import request
from werkzeug.routing import IntegerConverter

DB_INT_MAX = 2**31 - 1  # PostgreSQL's integer; SQLite stores more, but ids never get there
MAX_PAGE = 100_000


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in every route: a number beyond DB_INT_MAX does not match (404)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=DB_INT_MAX, signed=False):  # noqa: A002 - werkzeug's names
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def page_arg() -> int:
    """The `page` query argument: 1 when missing or unreadable, at most MAX_PAGE."""
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)


def form_id(name: str) -> int | None:
    """A row id sent in a form, or None when it is missing, unreadable or out of range."""
    try:
        value = int(request.form.get(name, ""))
    except ValueError:
        return None
    return value if 0 < value <= DB_INT_MAX else None
