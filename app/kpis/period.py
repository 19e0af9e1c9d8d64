"""The stretch of time the KPIs are computed over, and the periods a manager picks from."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.clock import now

PRESETS = ("last_7_days", "last_30_days", "this_month")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


@dataclass(frozen=True)
class Period:
    """[start, end): from `start` (included) up to `end` (left out), both aware UTC."""

    start: datetime
    end: datetime

    def __post_init__(self):
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs aware datetimes")
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")

    @classmethod
    def of_days(cls, first: date, last: date) -> "Period":
        """Whole days in UTC, the first and the last included."""
        return cls(_midnight(first), _midnight(last + timedelta(days=1)))

    @classmethod
    def preset(cls, name: str, today: date | None = None) -> "Period":
        """The last 7 or 30 days (today included), or this month up to today."""
        today = today or now().date()
        if name == "last_7_days":
            return cls.of_days(today - timedelta(days=6), today)
        if name == "last_30_days":
            return cls.of_days(today - timedelta(days=29), today)
        if name == "this_month":
            return cls.of_days(today.replace(day=1), today)
        raise ValueError(f"unknown period '{name}' (one of {', '.join(PRESETS)})")

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).date()

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)

    @property
    def as_of(self) -> datetime:
        """The moment balances are taken at: the period's end, or now while the period still runs."""
        return min(self.end, now())

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end
