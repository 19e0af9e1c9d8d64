"""Business-time arithmetic across nights, weekends, holidays, time zones and daylight saving."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from app.sla.calendar import ALWAYS, BusinessCalendar, CalendarError, office_hours

SHANGHAI = office_hours("Asia/Shanghai", time(9), time(18), holidays=[date(2026, 10, 1), date(2026, 10, 2)])
BERLIN = BusinessCalendar("Europe/Berlin", {d: ((time(8), time(12)), (time(13), time(17))) for d in range(5)})


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_within_one_working_day():
    # 09:00 Shanghai is 01:00 UTC
    assert SHANGHAI.add(utc(2026, 3, 2, 1, 0), timedelta(hours=4)) == utc(2026, 3, 2, 5, 0)


def test_across_a_night():
    # Monday 16:00 Shanghai (08:00 UTC) + 4 h: 2 h on Monday, 2 h on Tuesday from 09:00 → 11:00 local
    assert SHANGHAI.add(utc(2026, 3, 2, 8, 0), timedelta(hours=4)) == utc(2026, 3, 3, 3, 0)


def test_across_a_weekend():
    # Friday 17:00 Shanghai + 4 h: 1 h on Friday, then Monday 09:00 + 3 h = Monday 12:00 local
    assert SHANGHAI.add(utc(2026, 3, 6, 9, 0), timedelta(hours=4)) == utc(2026, 3, 9, 4, 0)


def test_started_outside_hours_counts_from_the_next_opening():
    # Saturday noon: nothing counts until Monday 09:00 local
    assert SHANGHAI.add(utc(2026, 3, 7, 4, 0), timedelta(hours=1)) == utc(2026, 3, 9, 2, 0)
    assert SHANGHAI.add(utc(2026, 3, 7, 4, 0), timedelta(0)) == utc(2026, 3, 9, 1, 0)


def test_across_holidays():
    # Wednesday 30 Sep 17:00 local + 2 h: 1 h that day, Thu 1 and Fri 2 Oct are holidays, then the weekend:
    # Monday 5 Oct 10:00 local
    assert SHANGHAI.add(utc(2026, 9, 30, 9, 0), timedelta(hours=2)) == utc(2026, 10, 5, 2, 0)


def test_a_lunch_break_is_not_counted():
    # Berlin in March is UTC+1: Monday 11:00 local + 2 h = 12:00 (1 h), break, 13:00 + 1 h = 14:00 local
    assert BERLIN.add(utc(2026, 3, 2, 10, 0), timedelta(hours=2)) == utc(2026, 3, 2, 13, 0)


def test_daylight_saving_keeps_wall_clock_hours():
    # Berlin goes to summer time on Sunday 29 March 2026. Friday 16:00 local (15:00 UTC) + 2 h:
    # 1 h on Friday, then Monday 08:00 local, now UTC+2 → 09:00 local = 07:00 UTC
    assert BERLIN.add(utc(2026, 3, 27, 15, 0), timedelta(hours=2)) == utc(2026, 3, 30, 7, 0)


def test_same_instant_in_different_zones_differs():
    moment = utc(2026, 3, 2, 10, 0)  # 18:00 in Shanghai (closed), 11:00 in Berlin (open)
    assert not SHANGHAI.is_working(moment)
    assert BERLIN.is_working(moment)
    assert SHANGHAI.add(moment, timedelta(hours=1)) == utc(2026, 3, 3, 2, 0)
    assert BERLIN.add(moment, timedelta(hours=1)) == utc(2026, 3, 2, 11, 0)


def test_between_counts_working_time_and_leaves_out_pauses():
    monday_9, wednesday_9 = utc(2026, 3, 2, 1, 0), utc(2026, 3, 4, 1, 0)
    assert SHANGHAI.between(monday_9, wednesday_9) == timedelta(hours=18)
    assert SHANGHAI.between(wednesday_9, monday_9) == timedelta(0)
    pause = (utc(2026, 3, 2, 3, 0), utc(2026, 3, 3, 3, 0))  # Monday 11:00 → Tuesday 11:00 local: 9 working h
    assert SHANGHAI.between(monday_9, wednesday_9, [pause]) == timedelta(hours=9)
    # a pause outside the span changes nothing
    assert SHANGHAI.between(monday_9, wednesday_9, [(utc(2026, 4, 1), utc(2026, 4, 2))]) == timedelta(hours=18)


def test_add_and_between_agree():
    start = utc(2026, 3, 5, 7, 30)
    for hours in (0.5, 3, 9, 17, 40):
        due = SHANGHAI.add(start, timedelta(hours=hours))
        assert SHANGHAI.between(start, due) == timedelta(hours=hours)


def test_always_counts_every_hour():
    assert ALWAYS.add(utc(2026, 3, 7, 23, 0), timedelta(hours=2)) == utc(2026, 3, 8, 1, 0)
    assert ALWAYS.between(utc(2026, 3, 6), utc(2026, 3, 9)) == timedelta(days=3)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: BusinessCalendar("Mars/Olympus"), "unknown time zone"),
    (lambda: BusinessCalendar("UTC", {0: ((time(17), time(9)),)}), "end before they start"),
    (lambda: BusinessCalendar("UTC", {0: ((time(9), time(13)), (time(12), time(17)))}), "overlap"),
    (lambda: BusinessCalendar("UTC", {7: ((time(9), time(17)),)}), "weekday 7"),
])
def test_bad_calendars_are_refused(make, message):
    with pytest.raises(CalendarError, match=message):
        make()


def test_a_calendar_without_working_time_says_so():
    with pytest.raises(CalendarError, match="no working time"):
        BusinessCalendar("UTC", {}).add(utc(2026, 3, 2), timedelta(hours=1))


def test_naive_times_and_negative_durations_are_refused():
    with pytest.raises(CalendarError, match="time zone"):
        SHANGHAI.add(datetime(2026, 3, 2, 9), timedelta(hours=1))
    with pytest.raises(CalendarError, match="negative"):
        SHANGHAI.add(utc(2026, 3, 2), timedelta(hours=-1))
