"""Ordering matched papers for a reader (pure).

A paper matched by several topics, or by several keywords, counts once, with
its best match. Papers are ranked by match score (a title match beats an
abstract-only one), then by upvotes, then by recency.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from bot.matching.engine import Match


@dataclass(frozen=True)
class PaperFacts:
    """What ranking needs to know of a paper beyond its match."""

    upvotes: int | None
    paper_date: date | None


@dataclass(frozen=True)
class RankedPaper:
    """One matched paper: its best match and every rule (topic) that matched it."""

    paper_id: int
    best: Match
    rule_ids: tuple[int, ...]


def rank(matches: Iterable[Match], facts: Mapping[int, PaperFacts]) -> list[RankedPaper]:
    """Return each matched paper once, best first."""
    best: dict[int, Match] = {}
    rules: dict[int, list[int]] = {}
    for match in matches:
        rules.setdefault(match.paper_id, [])
        if match.rule_id not in rules[match.paper_id]:
            rules[match.paper_id].append(match.rule_id)
        current = best.get(match.paper_id)
        if current is None or match.score > current.score:
            best[match.paper_id] = match

    def order(paper_id: int) -> tuple[float, int, int, int]:
        known = facts.get(paper_id, PaperFacts(None, None))
        # Negated so one ascending sort puts the best first (an unknown date counts as
        # the oldest); the id keeps ties stable.
        newest = -known.paper_date.toordinal() if known.paper_date else 0
        return (-best[paper_id].score, -(known.upvotes or 0), newest, paper_id)

    return [RankedPaper(pid, best[pid], tuple(rules[pid])) for pid in sorted(best, key=order)]
