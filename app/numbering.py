"""Human-friendly, gap-free document numbers (SO-2026-000123). A counter row per prefix and year,
incremented under its row lock, so concurrent requests never draw the same number."""

from sqlalchemy import String, update
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


def next_number(prefix: str) -> str:
    year = now().year
    bumped = db.session.execute(
        update(NumberSequence)
        .where(NumberSequence.prefix == prefix, NumberSequence.year == year)
        .values(last_value=NumberSequence.last_value + 1)
        .returning(NumberSequence.last_value)
    ).scalar()
    if bumped is None:
        # First number of the year: create the counter unless a concurrent request just did, then bump.
        dialect = db.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(insert(NumberSequence).values(prefix=prefix, year=year, last_value=0)
                           .on_conflict_do_nothing())
        return next_number(prefix)
    return f"{prefix}-{year}-{bumped:06d}"

