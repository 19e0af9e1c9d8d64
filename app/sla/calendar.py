"""Business time: working hours per weekday in a time zone, minus holidays. SLA targets count only
this time, so a four-hour target set at 17:00 on a Friday falls due on Monday, not on Friday night.

All arithmetic is done on the local wall clock of the calendar's zone, day by day, and every answer
is an aware UTC datetime; a day whose hours cross a daylight-saving change keeps its wall-clock hours.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIDNIGHT = time(0)
# Searching further than this for working time means the calendar has none.
HORIZON_DAYS = 3 * 366


class CalendarError(ValueError):
    pass


@dataclass(frozen=True)
class BusinessCalendar:
    zone: str = "UTC"
    # weekday (Monday 0 … Sunday 6) → working intervals of that day, in order, not overlapping;
    # an interval ending at 00:00 runs to midnight
    hours: dict[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    def __post_init__(self):
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(f"unknown time zone '{self.zone}'") from None
        for weekday, intervals in self.hours.items():
            if weekday not in range(7):
                raise CalendarError(f"weekday {weekday} is not 0 (Monday) to 6 (Sunday)")
            previous_end = None
            for start, end in intervals:
                if not (start < end or end == MIDNIGHT):
                    raise CalendarError(f"working hours {start:%H:%M}–{end:%H:%M} end before they start")
                if previous_end is not None and start < previous_end:
                    raise CalendarError(f"working hours overlap on weekday {weekday}")
                previous_end = end if end != MIDNIGHT else time.max

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        tz = self.tz
        return [(datetime.combine(day, start, tz).astimezone(UTC),
                 datetime.combine(day + timedelta(days=1) if end == MIDNIGHT else day, end, tz).astimezone(UTC))
                for start, end in self.hours.get(day.weekday(), ())]

    def _from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals from `moment` on, the first one clipped to start at `moment`."""
        moment = _utc(moment)
        day = moment.astimezone(self.tz).date() - timedelta(days=1)  # yesterday's hours may run past midnight UTC
        for offset in range(HORIZON_DAYS):
            for start, end in self._intervals(day + timedelta(days=offset)):
                if end > moment:
                    yield max(start, moment), end
        raise CalendarError(f"the calendar has no working time within {HORIZON_DAYS} days of {moment:%Y-%m-%d}")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start` has passed."""
        if duration < timedelta(0):
            raise CalendarError("a business duration cannot be negative")
        left = duration
        for begin, end in self._from(start):
            if end - begin >= left:
                return begin + left
            left -= end - begin
        raise AssertionError("unreachable")  # _from raises when it runs out

    def between(self, start: datetime, end: datetime, pauses: Iterable[tuple[datetime, datetime]] = ()) -> timedelta:
        """Working time from `start` to `end`, leaving out the paused spans."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        for begin, finish in self._from(start):
            if begin >= end:
                break
            total += min(finish, end) - begin
        for paused_from, paused_to in pauses:
            lo, hi = max(_utc(paused_from), start), min(_utc(paused_to), end)
            if lo < hi:
                total -= self.between(lo, hi)
        return total

    def is_working(self, moment: datetime) -> bool:
        moment = _utc(moment)
        local_day = moment.astimezone(self.tz).date()
        return any(start <= moment < end for day in (local_day - timedelta(days=1), local_day)
                   for start, end in self._intervals(day))


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise CalendarError("times must carry a time zone")
    return moment.astimezone(UTC)


def office_hours(zone: str = "UTC", start: time = time(9), end: time = time(17),
                 weekdays: Iterable[int] = range(5), holidays: Iterable[date] = ()) -> BusinessCalendar:
    """The common case: the same hours every working weekday."""
    return BusinessCalendar(zone, {day: ((start, end),) for day in weekdays}, frozenset(holidays))


ALWAYS = BusinessCalendar("UTC", {day: ((MIDNIGHT, MIDNIGHT),) for day in range(7)})
