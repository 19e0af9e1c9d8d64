"""Human-friendly document numbers (SO-2026-000123). A counter row per prefix and year, incremented
under its row lock, so concurrent requests never draw the same number.

Gap-free numbers (invoices, credit notes) are drawn in the caller's transaction: a rolled-back
document gives its number back, but the row lock is held until the caller commits, so documents of
one prefix are numbered one transaction at a time. Order numbers need to be unique, not gap-free
(requirements: "a unique order number for tracking"); on PostgreSQL they are drawn in a transaction of
their own, committed at once, so concurrent orders never wait for each other's whole unit of work. An
order rolled back after drawing its number leaves a gap. (SQLite runs one writer at a time anyway: there
every number is drawn in the caller's transaction.)
"""

from sqlalchemy import String, bindparam, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db


class NumberSequence(db.Model):
    __tablename__ = "number_sequence"

    prefix: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


_COUNTERS = NumberSequence.__table__
# Built once: every order draws a number.
_BUMP = (update(_COUNTERS)
         .where(_COUNTERS.c.prefix == bindparam("counter_prefix"), _COUNTERS.c.year == bindparam("counter_year"))
         .values(last_value=_COUNTERS.c.last_value + 1)
         .returning(_COUNTERS.c.last_value))


def _bump(connection, dialect: str, prefix: str, year: int) -> int:
    counter = {"counter_prefix": prefix, "counter_year": year}
    bumped = connection.execute(_BUMP, counter).scalar()
    if bumped is None:
        # First number of the year: create the counter unless a concurrent request just did, then bump.
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        connection.execute(insert(NumberSequence).values(prefix=prefix, year=year, last_value=0)
                           .on_conflict_do_nothing())
        bumped = connection.execute(_BUMP, counter).scalar()
    return bumped


def next_number(prefix: str, *, gap_free: bool = True) -> str:
    year = now().year
    dialect = db.session.get_bind().dialect.name
    if gap_free or dialect != "postgresql":
        bumped = _bump(db.session, dialect, prefix, year)
    else:
        with db.engine.connect() as own:
            bumped = _bump(own.execution_options(isolation_level="AUTOCOMMIT"), dialect, prefix, year)
    return f"{prefix}-{year}-{bumped:06d}"

