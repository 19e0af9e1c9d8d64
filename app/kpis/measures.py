"""The shapes a figure takes, each with the counts behind it: a share of a whole, a rate per 100, and
the spread of a set of durations (median and 90th percentile)."""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Share:
    """`part` of `whole` things; no value at all when there is nothing to count."""

    part: int
    whole: int

    @property
    def percent(self) -> float | None:
        return 100 * self.part / self.whole if self.whole else None


@dataclass(frozen=True)
class Rate:
    """`count` events per 100 of `base` things (may exceed 100); no value without a base."""

    count: int
    base: int

    @property
    def per_100(self) -> float | None:
        return 100 * self.count / self.base if self.base else None


def median(ordered: list[timedelta]) -> timedelta:
    """The middle value; for an even number of values, the mean of the two in the middle."""
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def nearest_rank(ordered: list[timedelta], percent: int) -> timedelta:
    """The percentile by nearest rank: the smallest value with at least `percent` % of the values at
    or below it (the ceil(p/100 × n)-th value), always one that was measured."""
    return ordered[max(1, math.ceil(percent * len(ordered) / 100)) - 1]


@dataclass(frozen=True)
class Spread:
    """How long something took, over `count` cases: median and 90th percentile (None when none)."""

    count: int
    median: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, durations: Iterable[timedelta]) -> "Spread":
        ordered = sorted(durations)
        if not ordered:
            return cls(0, None, None)
        return cls(len(ordered), median(ordered), nearest_rank(ordered, 90))
