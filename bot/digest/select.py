"""What one subscriber's digest holds (pure: data in, a `Digest` out).

matches of the subscriber's topics ─> drop papers already in the ledger
  ─> one entry per paper, best match first, the first `cap` kept
     (`matching.ranking.rank_top`), the rest counted in `more`
  ─> grouped into one section per topic, in the subscriber's topic order
"""

from collections.abc import Collection, Iterable, Mapping
from datetime import date

from bot.digest.model import Digest, DigestEntry, DigestPaper, DigestSection, MatchReason
from bot.matching.engine import Match
from bot.matching.ranking import RankedPaper, rank_top


def select_digest(
    *,
    subscriber_id: int,
    email: str,
    day: date,
    topics: Mapping[int, str],
    matches: Iterable[Match],
    papers: Mapping[int, DigestPaper],
    already_sent: Collection[int],
    cap: int,
) -> Digest | None:
    """Return the digest of the matched papers not sent yet, or None when there are none.

    `topics` maps each of the subscriber's rule ids to its topic name, in the
    order the sections should follow. A paper matched by several topics appears
    once, in the section of its best match.
    """
    fresh = (m for m in matches if m.paper_id not in already_sent and m.rule_id in topics)
    # The papers' own views have the upvotes and dates ranking reads: no facts are
    # built, and only the `cap` papers shown are put in order.
    ranked = rank_top(fresh, papers, cap)
    if not ranked.total:
        return None
    by_topic: dict[int, list[DigestEntry]] = {rule_id: [] for rule_id in topics}
    for entry in ranked.top:
        by_topic[entry.best.rule_id].append(_entry(entry, papers[entry.paper_id], topics))
    sections = tuple(
        DigestSection(topics[rule_id], tuple(entries), topic_id=rule_id)
        for rule_id, entries in by_topic.items()
        if entries
    )
    return Digest(subscriber_id, email, day, sections, more=ranked.total - len(ranked.top))


def _entry(ranked: RankedPaper, paper: DigestPaper, topics: Mapping[int, str]) -> DigestEntry:
    match = ranked.best
    why = match.explanation
    # Both from one snippet: asking for `snippet` and `snippet_span` apart computes it twice.
    snippet, span = why.excerpt
    reason = MatchReason(
        topic=topics[match.rule_id],
        keyword=why.keyword,
        field=why.field,
        snippet=snippet,
        snippet_span=span,
        similarity=why.similarity,
        kind=why.kind,
        label=why.rule,
        # Trending alone says the paper's standing as its snippet already.
        trending=None if why.kind == "trending" else why.trending,
    )
    return DigestEntry(paper, reason, match.score)
