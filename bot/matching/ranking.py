"""Ordering matched papers for a reader (pure).

A paper matched by several topics, or by several keywords, counts once, with
its best match. Papers are ranked by match score (a title match beats an
abstract-only one), then by upvotes, then by recency.
"""

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from bot.matching.engine import Match


class Standing(Protocol):
    """What ranking reads of a paper beyond its match: `PaperFacts`, or any paper view that has them."""

    @property
    def upvotes(self) -> int | None: ...

    @property
    def paper_date(self) -> date | None: ...


@dataclass(frozen=True)
class PaperFacts:
    """What ranking needs to know of a paper beyond its match."""

    upvotes: int | None
    paper_date: date | None


_UNKNOWN = PaperFacts(None, None)


@dataclass(frozen=True)
class RankedPaper:
    """One matched paper: its best match and every rule (topic) that matched it."""

    paper_id: int
    best: Match
    rule_ids: tuple[int, ...]


@dataclass(frozen=True)
class Ranking:
    """The best few matched papers, best first, and how many papers matched in all."""

    top: tuple[RankedPaper, ...]
    total: int


def rank(matches: Iterable[Match], facts: Mapping[int, Standing]) -> list[RankedPaper]:
    """Return each matched paper once, best first."""
    best, rules = _best_matches(matches)
    ordered = sorted(best, key=_order(best, facts))
    return [RankedPaper(pid, best[pid], tuple(rules[pid])) for pid in ordered]


def rank_top(matches: Iterable[Match], facts: Mapping[int, Standing], limit: int) -> Ranking:
    """The first `limit` papers of `rank(matches, facts)`, in its order, and how many it has.

    Only the kept papers are put in order, and only they become `RankedPaper`s: a
    digest shows a few of a subscriber's many matched papers.
    """
    best, rules = _best_matches(matches)
    # The order's key ends with the paper id, so no two papers tie: the smallest
    # `limit` keys, in order, are exactly the head of the full sort.
    kept = heapq.nsmallest(limit, best, key=_order(best, facts))
    return Ranking(tuple(RankedPaper(pid, best[pid], tuple(rules[pid])) for pid in kept), len(best))


def _best_matches(matches: Iterable[Match]) -> tuple[dict[int, Match], dict[int, list[int]]]:
    """Each paper's best match (the first of equal scores), and the rules that matched it in order."""
    best: dict[int, Match] = {}
    rules: dict[int, list[int]] = {}
    for match in matches:
        rules.setdefault(match.paper_id, [])
        if match.rule_id not in rules[match.paper_id]:
            rules[match.paper_id].append(match.rule_id)
        current = best.get(match.paper_id)
        if current is None or match.score > current.score:
            best[match.paper_id] = match
    return best, rules


def _order(
    best: Mapping[int, Match], facts: Mapping[int, Standing]
) -> Callable[[int], tuple[float, int, int, int]]:
    """The sort key of a paper id: best first."""

    def order(paper_id: int) -> tuple[float, int, int, int]:
        known = facts.get(paper_id, _UNKNOWN)
        # Negated so one ascending sort puts the best first (an unknown date counts as
        # the oldest); the id keeps ties stable.
        newest = -known.paper_date.toordinal() if known.paper_date else 0
        return (-best[paper_id].score, -(known.upvotes or 0), newest, paper_id)

    return order
