"""Selection benchmark: 10,000 subscribers' digests chosen from their matches.

Papers and topics are `bench/matching.py`'s (500 papers, topics of 1 to 5
keywords as users type them); each subscriber follows 1 to 3 topics and has
already received a few of the papers. Matching runs once, untimed. Then, on the
same inputs and alternately, `select_digest` as it was before the selection
learnt to keep only the top `cap` (kept below as the baseline: a full sort, the
snippet computed twice) and as it is now, each timed over every subscriber.
Prints both times, their ratio, and whether the digests are identical.

    python bench/selection.py [--subscribers N] [--papers N] [--cap N] [--repeat N]
"""

import argparse
import gc
import random
import sys
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matching import papers, rules

from bot.digest.model import Digest, DigestEntry, DigestPaper, DigestSection, MatchReason
from bot.digest.select import select_digest
from bot.matching.engine import Match, Matcher
from bot.matching.ranking import PaperFacts, RankedPaper

DAY = date(2025, 11, 22)


@dataclass(frozen=True)
class Subscriber:
    """What selection reads of one subscriber."""

    id: int
    topics: dict[int, str]
    matches: list[Match]
    sent: frozenset[int]


# --- The baseline: selection as it was, a full sort and the snippet twice ----------


def _rank_before(matches: Iterable[Match], facts: Mapping[int, PaperFacts]) -> list[RankedPaper]:
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
        newest = -known.paper_date.toordinal() if known.paper_date else 0
        return (-best[paper_id].score, -(known.upvotes or 0), newest, paper_id)

    return [RankedPaper(pid, best[pid], tuple(rules[pid])) for pid in sorted(best, key=order)]


def _select_before(
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
    fresh = [m for m in matches if m.paper_id not in already_sent and m.rule_id in topics]
    facts = {
        m.paper_id: PaperFacts(papers[m.paper_id].upvotes, papers[m.paper_id].paper_date)
        for m in fresh
    }
    ranked = _rank_before(fresh, facts)
    if not ranked:
        return None
    chosen = ranked[:cap]
    by_topic: dict[int, list[DigestEntry]] = {rule_id: [] for rule_id in topics}
    for entry in chosen:
        by_topic[entry.best.rule_id].append(_entry_before(entry, papers[entry.paper_id], topics))
    sections = tuple(
        DigestSection(topics[rule_id], tuple(entries), topic_id=rule_id)
        for rule_id, entries in by_topic.items()
        if entries
    )
    return Digest(subscriber_id, email, day, sections, more=len(ranked) - len(chosen))


def _entry_before(
    ranked: RankedPaper, paper: DigestPaper, topics: Mapping[int, str]
) -> DigestEntry:
    match = ranked.best
    why = match.explanation
    reason = MatchReason(
        topic=topics[match.rule_id],
        keyword=match.keyword,
        field=match.field,
        snippet=match.snippet,
        snippet_span=match.snippet_span,
        similarity=match.similarity,
        kind=why.kind,
        label=why.rule,
        trending=None if why.kind == "trending" else why.trending,
    )
    return DigestEntry(paper, reason, match.score)


# --- Inputs --------------------------------------------------------------------------


def prepare(
    subscriber_count: int, paper_count: int, seed: int
) -> tuple[list[Subscriber], dict[int, DigestPaper]]:
    """The subscribers with their matches, and the papers' digest views."""
    rng = random.Random(seed)
    corpus = papers(paper_count, seed=seed)
    # Few distinct upvote counts and days, so ranking meets ties and breaks them by id.
    views = {
        p.id: DigestPaper(
            p.id,
            p.title,
            p.abstract,
            upvotes=rng.choice((None, *range(0, 60, 3))),
            paper_date=rng.choice((None, *(DAY - timedelta(days=d) for d in range(4)))),
        )
        for p in corpus
    }
    topic_counts = [rng.randint(1, 3) for _ in range(subscriber_count)]
    made = rules(sum(topic_counts), seed=seed + 4)
    matches = Matcher(corpus).match(made)
    by_rule: dict[int, list[Match]] = {}
    for match in matches:
        by_rule.setdefault(match.rule_id, []).append(match)
    subscribers = []
    taken = 0
    for number, count in enumerate(topic_counts):
        own = made[taken : taken + count]
        taken += count
        mine = [m for rule in own for m in by_rule.get(rule.id, ())]
        sent = frozenset(rng.sample(sorted({m.paper_id for m in mine}), min(3, len(mine))))
        topics = {rule.id: f"topic {rule.id}" for rule in own}
        subscribers.append(Subscriber(number + 1, topics, mine, sent))
    return subscribers, views


def select_all(
    select: Any, subscribers: Sequence[Subscriber], views: Mapping[int, DigestPaper], cap: int
) -> list[Digest | None]:
    """Every subscriber's digest, chosen by `select`."""
    return [
        select(
            subscriber_id=s.id,
            email=f"reader{s.id}@bench.example",
            day=DAY,
            topics=s.topics,
            matches=s.matches,
            papers=views,
            already_sent=s.sent,
            cap=cap,
        )
        for s in subscribers
    ]


def main() -> None:
    """Prepare the inputs, time both selections alternately, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=500)
    parser.add_argument("--cap", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    subscribers, views = prepare(args.subscribers, args.papers, args.seed)
    pairs = sum(len(s.matches) for s in subscribers)
    print(f"inputs: {len(subscribers)} subscribers, {len(views)} papers, {pairs} matches "
          f"({pairs / len(subscribers):.1f} per subscriber), cap {args.cap} "
          f"(prepared in {time.perf_counter() - started:.1f} s)")  # fmt: skip

    timings: dict[str, list[float]] = {"before": [], "after": []}
    results: dict[str, list[Digest | None]] = {}
    for _ in range(args.repeat):
        for name, select in (("before", _select_before), ("after", select_digest)):
            # Each run starts from the same heap: the last run's digests freed, collected.
            results.pop(name, None)
            gc.collect()
            started = time.perf_counter()
            results[name] = select_all(select, subscribers, views, args.cap)
            timings[name].append(time.perf_counter() - started)
    before, after = min(timings["before"]), min(timings["after"])
    print(f"before (full sort)    {before:7.3f} s  (best of {args.repeat})")
    print(f"after                 {after:7.3f} s  (best of {args.repeat})")
    print(f"  ratio               {before / after:7.2f}x")
    same = results["before"] == results["after"]
    print(f"identical digests: {same}")
    if not same:
        raise SystemExit("the selections disagree")


if __name__ == "__main__":
    main()
