"""Trending papers: upvotes and the rank of a paper among its day's papers (pure: no I/O).

A paper's day is the day Hugging Face listed it (`list_day`), else its own date
(`paper_date`). Its rank is 1 plus the number of papers of the same day with
more upvotes, so papers with equal upvotes share a rank and "the top 3 of the
day" may hold more than three papers when some tie. A paper without upvotes, or
without a day for a top-N rule, is not trending. The rank counts the papers
paperbot holds for that day among those it matches against.

A rule may ask for at least N upvotes, for the day's top N, or both. With other
rules of its topic (keywords, authors, organisations, categories), trending is a
filter: a paper must match one of them and be trending. Alone, it selects every
trending paper.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.errors import InputError

MAX_MIN_UPVOTES = 100_000
MAX_TOP = 100


@dataclass(frozen=True, slots=True)
class Trend:
    """How a paper stands: its upvotes, and its rank among its day's papers (None without a day)."""

    upvotes: int
    rank: int | None

    def describe(self) -> str:
        """Say it for a reader: "42 upvotes, #3 of the day"."""
        votes = f"{self.upvotes} upvote{'' if self.upvotes == 1 else 's'}"
        return votes if self.rank is None else f"{votes}, #{self.rank} of the day"


def is_trending(trend: Trend | None, min_upvotes: int | None, top: int | None) -> bool:
    """Tell whether a paper standing as `trend` passes a rule's trending switches."""
    if trend is None:
        return False
    if min_upvotes is not None and trend.upvotes < min_upvotes:
        return False
    return top is None or (trend.rank is not None and trend.rank <= top)


def day_trends(upvotes: Sequence[int | None], days: Sequence[date | None]) -> list[Trend | None]:
    """Each paper's `Trend` (None without upvotes), by sorting each day's papers once."""
    by_day: dict[date, list[int]] = {}
    for votes, day in zip(upvotes, days, strict=True):
        if votes is not None and day is not None:
            by_day.setdefault(day, []).append(votes)
    # The rank of a count: 1 + how many of the day's papers have more.
    ranks: dict[date, dict[int, int]] = {}
    for day, counts in by_day.items():
        counts.sort(reverse=True)
        ranks[day] = {}
        for position, votes in enumerate(counts, start=1):
            ranks[day].setdefault(votes, position)
    return [
        None if votes is None else Trend(votes, None if day is None else ranks[day][votes])
        for votes, day in zip(upvotes, days, strict=True)
    ]


def day_trends_exhaustive(
    upvotes: Sequence[int | None], days: Sequence[date | None]
) -> list[Trend | None]:
    """The same as `day_trends`, by comparing every paper with every other: the reference."""
    trends: list[Trend | None] = []
    for votes, day in zip(upvotes, days, strict=True):
        if votes is None:
            trends.append(None)
            continue
        if day is None:
            trends.append(Trend(votes, None))
            continue
        above = sum(
            1
            for other, other_day in zip(upvotes, days, strict=True)
            if other_day == day and other is not None and other > votes
        )
        trends.append(Trend(votes, above + 1))
    return trends


def check_min_upvotes(value: int | None) -> int | None:
    """Return a minimum of upvotes if usable; raise `InputError` saying the bounds if not."""
    if value is not None and not 1 <= value <= MAX_MIN_UPVOTES:
        raise InputError(f"minimum upvotes {value} is out of range: 1 to {MAX_MIN_UPVOTES}")
    return value


def check_top(value: int | None) -> int | None:
    """Return a "top N of the day" if usable; raise `InputError` saying the bounds if not."""
    if value is not None and not 1 <= value <= MAX_TOP:
        raise InputError(f"top of the day {value} is out of range: 1 to {MAX_TOP}")
    return value
