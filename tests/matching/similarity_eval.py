"""The labelled profiles of `tests/data/similarity/profiles.toml` and the measures on them.

Shared by the evaluation test and `bench/similarity_feedback.py`: loading the
sample papers and the profiles, scoring a method on them, and the figures
(mean average precision, precision at 10, recall at 20, and the precision and
recall of what the threshold includes).
"""

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.ingest.dumps import read_dump
from bot.ingest.identity import title_key
from bot.matching.similarity import (
    Candidate,
    Example,
    Method,
    PaperTerms,
    SimilarityIndex,
    Topic,
    paper_terms,
    term_statistics,
)

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "tests" / "data" / "similarity" / "profiles.toml"
SAMPLES = ROOT / "examples" / "dumps"


@dataclass(frozen=True)
class Paper:
    id: int
    title: str
    terms: PaperTerms


@dataclass(frozen=True)
class Profile:
    name: str
    liked: tuple[str, ...]
    unliked: tuple[str, ...]
    relevant: frozenset[str]
    held_out: bool


@dataclass(frozen=True)
class Outcome:
    """One profile's figures for one method."""

    name: str
    relevant: int
    average_precision: float | None
    precision_at_10: float | None
    recall_at_20: float | None
    included: int
    included_relevant: int
    top_10: tuple[str, ...]


def load_papers() -> list[Paper]:
    """The distinct papers of the sample dumps (a title seen twice counts once)."""
    seen: dict[str, Paper] = {}
    for path in sorted(SAMPLES.glob("*.txt")):
        parsed = read_dump(path.read_bytes(), source=path.name, taken=date(2025, 11, 22))
        for paper in parsed.papers:
            key = title_key(paper.title)
            if key not in seen:
                terms = paper_terms(paper.title, paper.abstract)
                seen[key] = Paper(len(seen) + 1, paper.title, terms)
    return list(seen.values())


def load_profiles() -> list[Profile]:
    """The labelled profiles; every other one (odd positions) is held out from tuning."""
    data = tomllib.loads(PROFILES.read_text(encoding="utf-8"))
    return [
        Profile(
            p["name"],
            tuple(p["liked"]),
            tuple(p.get("unliked", ())),
            frozenset(p["relevant"]),
            held_out=n % 2 == 1,
        )
        for n, p in enumerate(data["profile"])
    ]


def topic_for(number: int, profile: Profile, by_title: dict[str, Paper], level: int = 0) -> Topic:
    """The profile as a topic of the engine."""

    def example(title: str) -> Example:
        paper = by_title[title]
        return Example(paper.id, paper.title, paper.terms)

    return Topic(
        number,
        tuple(example(t) for t in profile.liked),
        tuple(example(t) for t in profile.unliked),
        level,
    )


def evaluate(
    papers: Sequence[Paper],
    profiles: Sequence[Profile],
    method: Method,
    *,
    liked: dict[str, tuple[str, ...]] | None = None,
    unliked: dict[str, tuple[str, ...]] | None = None,
    level: int = 0,
) -> list[Outcome]:
    """Score `method` on every profile; `liked`/`unliked` replace a profile's examples.

    One index over every paper serves all profiles, as delivery's serves all
    topics: a profile's own examples are never included, and are left out of its
    ranking here.
    """
    by_title = {p.title: p for p in papers}
    statistics = term_statistics(p.terms for p in papers)
    index = SimilarityIndex([Candidate(p.id, p.terms) for p in papers], statistics, method)
    shown = [
        Profile(
            profile.name,
            (liked or {}).get(profile.name, profile.liked),
            (unliked or {}).get(profile.name, profile.unliked),
            profile.relevant,
            profile.held_out,
        )
        for profile in profiles
    ]
    scores = index.score(
        [topic_for(n, profile, by_title, level) for n, profile in enumerate(shown)]
    )
    outcomes = []
    for number, profile in enumerate(shown):
        examples = set(profile.liked) | set(profile.unliked)
        ranked = [papers[i].title for i in scores.ranking(number)]
        ranked = [title for title in ranked if title not in examples]
        included = [papers[i].title for i in scores.included(number, method)]
        outcomes.append(_outcome(profile.name, profile.relevant - examples, ranked, included))
    return outcomes


def _outcome(
    name: str, relevant: frozenset[str], ranked: list[str], included: list[str]
) -> Outcome:
    hits = [title in relevant for title in ranked]
    total = len(relevant)
    if total:
        found, precisions = 0, []
        for rank, hit in enumerate(hits, start=1):
            if hit:
                found += 1
                precisions.append(found / rank)
        average: float | None = sum(precisions) / total
        at_10: float | None = sum(hits[:10]) / min(10, total)
        at_20: float | None = sum(hits[:20]) / total
    else:
        average = at_10 = at_20 = None
    kept = sum(title in relevant for title in included)
    return Outcome(name, total, average, at_10, at_20, len(included), kept, tuple(ranked[:10]))


@dataclass(frozen=True)
class Summary:
    """Figures over several profiles: means of the ranking measures, micro included-set ones."""

    mean_average_precision: float
    precision_at_10: float
    recall_at_20: float
    included_precision: float
    included_recall: float
    included: int


def summarise(outcomes: Sequence[Outcome]) -> Summary:
    """Means over the profiles that have relevant papers; included figures pooled over all."""
    ranked = [o for o in outcomes if o.relevant]

    def mean(values: list[float | None]) -> float:
        present = [v for v in values if v is not None]
        return sum(present) / len(present) if present else 0.0

    included = sum(o.included for o in outcomes)
    kept = sum(o.included_relevant for o in outcomes)
    relevant = sum(o.relevant for o in outcomes)
    return Summary(
        mean([o.average_precision for o in ranked]),
        mean([o.precision_at_10 for o in ranked]),
        mean([o.recall_at_20 for o in ranked]),
        kept / included if included else 1.0,
        kept / relevant if relevant else 1.0,
        included,
    )


@dataclass(frozen=True)
class Round:
    """One feedback round: the figures over the papers not yet marked, and the reader's total.

    `found_recall`: the relevant papers the reader has met so far (marked "more" in
    earlier rounds, or included now) over all the relevant papers.
    """

    summary: Summary
    found_recall: float


def feedback_rounds(
    papers: Sequence[Paper], profiles: Sequence[Profile], method: Method, rounds: int = 3
) -> list[Round]:
    """A reader marks each topic's top 10 after every round: relevant ones "more", others "fewer".

    "More" papers join the liked examples and "fewer" ones the unliked; the
    figures of each round count only the papers not yet given as examples.
    """
    liked = {p.name: p.liked for p in profiles}
    unliked = {p.name: p.unliked for p in profiles}
    total = sum(len(p.relevant) for p in profiles)
    summaries = []
    for round_number in range(rounds + 1):
        outcomes = evaluate(papers, profiles, method, liked=liked, unliked=unliked)
        marked = sum(len(liked[p.name]) - len(p.liked) for p in profiles)
        met = marked + sum(o.included_relevant for o in outcomes)
        summaries.append(Round(summarise(outcomes), met / total))
        if round_number == rounds:
            break
        for profile, outcome in zip(profiles, outcomes, strict=True):
            more = tuple(t for t in outcome.top_10 if t in profile.relevant)
            fewer = tuple(t for t in outcome.top_10 if t not in profile.relevant)
            liked[profile.name] += more
            unliked[profile.name] += fewer
    return summaries
