"""Matching quality on hand-labelled subscriptions over the sample dumps, and over listed papers.

`tests/data/matching/eval.toml` holds realistic subscriptions, each with the
papers that truly match it, decided by reading the papers, not by running the
matcher. This test prints precision and recall per query and overall, for the
matcher and for the exact-substring matching that arXiv-style alerts use, and
fails when the matcher falls below 0.95 on either.

`tests/data/matching/follow.toml` does the same for topics that follow authors,
organisations, categories and trending papers, over papers of its own (the
dumps list no authors' names).
"""

import tomllib
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from bot.ingest.dumps import read_dump
from bot.ingest.identity import title_key
from bot.matching.engine import Matcher, PaperText, Rule
from tests.conftest import DATA, SAMPLES

BAR = 0.95


@dataclass(frozen=True)
class Query:
    name: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...]
    relevant: frozenset[str]


@dataclass(frozen=True)
class Score:
    true_positives: int
    found: int
    relevant: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.relevant if self.relevant else 1.0


def _papers() -> list[PaperText]:
    papers: dict[str, PaperText] = {}
    for path in sorted(SAMPLES.glob("*.txt")):
        for paper in read_dump(
            path.read_bytes(), source=path.name, taken=date(2025, 11, 22)
        ).papers:
            papers.setdefault(
                title_key(paper.title), PaperText(len(papers) + 1, paper.title, paper.abstract)
            )
    return list(papers.values())


def _queries() -> list[Query]:
    data = tomllib.loads((DATA / "matching" / "eval.toml").read_text(encoding="utf-8"))
    return [
        Query(
            q["name"], tuple(q["keywords"]), tuple(q.get("exclude", ())), frozenset(q["relevant"])
        )
        for q in data["query"]
    ]


def _substring_baseline(papers: list[PaperText], query: Query) -> set[str]:
    def hit(keyword: str, paper: PaperText) -> bool:
        needle = keyword.strip('"').lower()
        return needle in paper.title.lower() or needle in paper.abstract.lower()

    return {
        p.title
        for p in papers
        if any(hit(k, p) for k in query.keywords) and not any(hit(x, p) for x in query.exclude)
    }


def _score(found: set[str], relevant: frozenset[str]) -> Score:
    return Score(len(found & relevant), len(found), len(relevant))


def _total(scores: list[Score]) -> Score:
    return Score(
        sum(s.true_positives for s in scores),
        sum(s.found for s in scores),
        sum(s.relevant for s in scores),
    )


def test_matching_quality_on_the_labelled_subscriptions(capsys: pytest.CaptureFixture[str]) -> None:
    papers = _papers()
    queries = _queries()
    titles = {p.title for p in papers}
    for query in queries:
        assert query.relevant <= titles, f"{query.name}: labelled titles not in the dumps"
    assert len(queries) >= 25
    matcher = Matcher(papers)
    by_id = {p.id: p.title for p in papers}
    rules = [Rule(n, q.keywords, q.exclude) for n, q in enumerate(queries)]
    found: dict[int, set[str]] = {n: set() for n in range(len(queries))}
    for match in matcher.match(rules):
        found[match.rule_id].add(by_id[match.paper_id])
    ours = [_score(found[n], q.relevant) for n, q in enumerate(queries)]
    baseline = [_score(_substring_baseline(papers, q), q.relevant) for q in queries]

    lines = [f"{'query':<28} {'truth':>5} {'P':>6} {'R':>6}   {'substring P':>11} {'R':>6}"]
    for query, mine, theirs in zip(queries, ours, baseline, strict=True):
        lines.append(
            f"{query.name:<28} {mine.relevant:>5} {mine.precision:>6.3f} {mine.recall:>6.3f}"
            f"   {theirs.precision:>11.3f} {theirs.recall:>6.3f}"
        )
    overall, base = _total(ours), _total(baseline)
    lines.append(
        f"{'overall (micro)':<28} {overall.relevant:>5} {overall.precision:>6.3f} {overall.recall:>6.3f}"
        f"   {base.precision:>11.3f} {base.recall:>6.3f}"
    )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    misses = {
        q.name: sorted(q.relevant - found[n]) + [f"NOT {t}" for t in sorted(found[n] - q.relevant)]
        for n, q in enumerate(queries)
        if found[n] != q.relevant
    }
    assert overall.precision >= BAR and overall.recall >= BAR, misses


def _listed_papers(data: dict[str, Any]) -> list[PaperText]:
    return [
        PaperText(
            number,
            paper["title"],
            paper["abstract"],
            authors=tuple(paper["authors"]),
            organization=paper.get("organization"),
            organization_name=paper.get("organization_name"),
            categories=tuple(paper["categories"]),
            upvotes=paper.get("upvotes"),
            day=paper["day"],
        )
        for number, paper in enumerate(data["paper"], start=1)
    ]


def _follow_rule(number: int, query: dict[str, Any]) -> Rule:
    lists = (
        "keywords", "authors", "organisations", "categories",
        "exclude_authors", "exclude_organisations", "exclude_categories",
    )  # fmt: skip
    return Rule(
        number,
        **{key: tuple(query.get(key, ())) for key in lists},
        min_upvotes=query.get("min_upvotes"),
        top=query.get("top"),
    )


def test_following_quality_on_the_labelled_papers(capsys: pytest.CaptureFixture[str]) -> None:
    data = tomllib.loads((DATA / "matching" / "follow.toml").read_text(encoding="utf-8"))
    papers = _listed_papers(data)
    titles = {p.id: p.title for p in papers}
    queries = data["query"]
    for query in queries:
        assert set(query["relevant"]) <= set(titles.values()), query["name"]
    kinds = {key for q in queries for key in q if key not in ("name", "tests", "relevant")}
    assert kinds >= {"authors", "organisations", "categories", "top", "min_upvotes"}
    found: dict[int, set[str]] = {n: set() for n in range(len(queries))}
    for match in Matcher(papers).match(_follow_rule(n, q) for n, q in enumerate(queries)):
        found[match.rule_id].add(titles[match.paper_id])
    scores = [_score(found[n], frozenset(q["relevant"])) for n, q in enumerate(queries)]
    lines = [f"{'query':<28} {'truth':>5} {'P':>6} {'R':>6}"]
    for query, score in zip(queries, scores, strict=True):
        lines.append(
            f"{query['name']:<28} {score.relevant:>5} {score.precision:>6.3f} {score.recall:>6.3f}"
        )
    overall = _total(scores)
    lines.append(
        f"{'overall (micro)':<28} {overall.relevant:>5} {overall.precision:>6.3f}"
        f" {overall.recall:>6.3f}"
    )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    misses = {
        q["name"]: sorted(set(q["relevant"]) - found[n])
        + [f"NOT {t}" for t in sorted(found[n] - set(q["relevant"]))]
        for n, q in enumerate(queries)
        if found[n] != set(q["relevant"])
    }
    assert overall.precision >= BAR and overall.recall >= BAR, misses
