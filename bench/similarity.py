"""Topics-by-example benchmark: 10,000 example topics against 1,000 new papers.

Similarity needs the vocabulary of real abstracts (the keyword benchmark's
generated text has a few hundred words, so every paper resembles every other):
papers here are made (seeded) from the sentences of the sample dumps' 555
papers, most from one paper and a few from another. Prints, from one run:

- the vectors of 20,000 papers: papers/s (computed once per paper);
- scoring: 10,000 topics of 2-3 liked examples on one subject (a fifth with an
  unliked one; a tenth, as after feedback, with up to 8 liked and 4-12
  unliked), drawn from 5,000 stored papers whose vectors are made, against 1,000
  new papers, timed from the new papers' text to the matches with their
  explanations (target < 3 s on one core), and the peak RSS (target < 500 MB);
- the real path, as delivery takes it, on a SQLite file: the same 5,000 stored
  and 1,000 new papers stored as ingest stores them, and 10,000 subscribers of
  one topic each, subscribed with 2-3 liked papers on one subject (a fifth with
  an unliked one). Timed: listing the subscribers with their topics and
  examples, reading the new papers into the matcher, reading (or making) the
  vectors and indexing them (`load_similar_papers`), the topics' rules with the
  papers similar to their examples, and matching the new papers with them;
  each step's seconds, the total (target < 3 s) and the peak RSS (target <
  500 MB). Twice: a first run makes and stores every vector, a second reads
  them back;
- ingest of bench/ingest.py's generated 20,000-paper dump, with and without
  computing the papers' vectors, and the ratio (target <= 1.5x). Each of these
  runs in a fresh process so their peaks do not mix.

    python bench/similarity.py [--topics N] [--new N] [--stored N] [--vectors N]
"""

import argparse
import multiprocessing
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import spaced_dump
from ingest import _in_child, _ingest, _peak_rss_mb
from sqlalchemy.engine import Engine

from bot.matching.similarity import (
    Candidate,
    Example,
    SimilarityIndex,
    Topic,
    paper_terms,
    term_statistics,
)
from bot.subscriptions.spec import SubscriptionSpec, make_spec

SAMPLES = Path(__file__).resolve().parent.parent / "examples" / "dumps"
# The real path's clock: stored papers were seen a week before, new ones an hour before.
NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)
STORED_SEEN = NOW - timedelta(days=7)
NEW_SEEN = NOW - timedelta(hours=1)


@dataclass(frozen=True)
class _Paper:
    id: int
    title: str
    abstract: str
    subject: int


def papers(count: int, *, seed: int) -> list[_Paper]:
    """`count` papers, each from 3-6 sentences of one sample paper and 0-2 of another.

    `subject` is the sample paper most of it comes from.
    """
    from bot.ingest.dumps import read_dump

    real = [
        paper
        for path in sorted(SAMPLES.glob("*.txt"))
        for paper in read_dump(path.read_bytes(), source=path.name, taken=date(2025, 11, 22)).papers
    ]
    sentences = [paper.abstract.split(". ") for paper in real]
    rng = random.Random(seed)
    made = []
    for number in range(count):
        main, other = rng.randrange(len(real)), rng.randrange(len(real))
        own = rng.sample(sentences[main], min(len(sentences[main]), rng.randint(3, 6)))
        borrowed = rng.sample(sentences[other], min(len(sentences[other]), rng.randint(0, 2)))
        title = f"{real[main].title} ({number})"
        made.append(_Paper(number + 1, title, ". ".join(own + borrowed), main))
    return made


def _vectors(count: int) -> dict[str, Any]:
    corpus = papers(count, seed=21)
    started = time.perf_counter()
    for paper in corpus:
        paper_terms(paper.title, paper.abstract)
    return {"seconds": time.perf_counter() - started, "papers": count}


def _score(topics: int, new: int, stored: int) -> dict[str, Any]:
    rng = random.Random(5)
    stored_papers = papers(stored, seed=13)
    pool = [
        Example(paper.id + 1_000_000, paper.title, paper_terms(paper.title, paper.abstract))
        for paper in stored_papers
    ]
    by_subject: dict[int, list[Example]] = {}
    for paper, example in zip(stored_papers, pool, strict=True):
        by_subject.setdefault(paper.subject, []).append(example)
    subjects = [group for group in by_subject.values() if len(group) >= 3]
    subscriptions = []
    for number in range(topics):
        subject = rng.choice(subjects)
        if rng.random() < 0.1:
            # After a few rounds of feedback: more liked examples, many unliked.
            liked = rng.sample(subject, min(len(subject), 8))
            unliked = rng.sample(pool, rng.randint(4, 12))
        else:
            liked = rng.sample(subject, rng.choice((2, 3)))
            unliked = [rng.choice(pool)] if rng.random() < 0.2 else []
        subscriptions.append(
            Topic(number, tuple(liked), tuple(unliked), rng.choice((-1, 0, 0, 0, 1)))
        )
    arrived = papers(new, seed=17)
    before = _peak_rss_mb()
    started = time.perf_counter()
    candidates = [Candidate(p.id, paper_terms(p.title, p.abstract)) for p in arrived]
    vectored = time.perf_counter()
    examples = {e.paper_id: e.terms for t in subscriptions for e in t.liked + t.unliked}
    statistics = term_statistics([c.terms for c in candidates] + list(examples.values()))
    index = SimilarityIndex(candidates, statistics)
    indexed = time.perf_counter()
    scores = index.score(subscriptions)
    scored = time.perf_counter()
    matches = scores.matches()
    done = time.perf_counter()
    return {
        "vectors": vectored - started,
        "index": indexed - vectored,
        "score": scored - indexed,
        "matches_s": done - scored,
        "total": done - started,
        "matches": len(matches),
        "examples": len(examples),
        "rss_before": before,
        "rss": _peak_rss_mb(),
    }


def _arxiv_id(prefix: str, paper: _Paper) -> str:
    return f"{prefix}.{paper.id:05d}"


def _store(engine: Engine, made: list[_Paper], prefix: str, seen: datetime) -> None:
    """Store the papers as ingest does, each with its own arXiv id (`prefix`.number)."""
    from bot.db import write_session
    from bot.ingest.parsed import ParsedPaper
    from bot.ingest.store import Origin, store_papers

    parsed = [
        ParsedPaper(
            title=paper.title,
            abstract=paper.abstract,
            authors=(f"Author {paper.id}",),
            paper_date=seen.date(),
            arxiv_id=_arxiv_id(prefix, paper),
        )
        for paper in made
    ]
    with write_session(engine) as session:
        store_papers(session, parsed, Origin(seen_at=seen))


def _example_specs(topics: int, stored_papers: list[_Paper]) -> list[SubscriptionSpec]:
    """One subscriber per topic: 2-3 liked papers on one subject, a fifth with an unliked one."""
    rng = random.Random(5)
    by_subject: dict[int, list[str]] = {}
    for paper in stored_papers:
        by_subject.setdefault(paper.subject, []).append(_arxiv_id("2510", paper))
    subjects = [group for group in by_subject.values() if len(group) >= 3]
    everyone = [_arxiv_id("2510", paper) for paper in stored_papers]
    specs = []
    for number in range(topics):
        liked = rng.sample(rng.choice(subjects), rng.choice((2, 3)))
        unliked = [rng.choice(everyone)] if rng.random() < 0.2 else []
        unliked = [paper for paper in unliked if paper not in liked]  # one mark per paper
        spec = make_spec(
            f"reader{number}@bench.example", (), name="by example", liked=liked,
            unliked=unliked, level=rng.choice((-1, 0, 0, 0, 1)),
        )  # fmt: skip
        specs.append(spec)
    return specs


def _build_real(db: str, topics: int, new: int, stored: int) -> dict[str, Any]:
    """The real path's database: stored and new papers, subscribers of example topics."""
    from bot.db import open_engine, upgrade_schema, write_session
    from bot.subscriptions.store import subscribe

    started = time.perf_counter()
    engine = open_engine(f"sqlite:///{db}")
    upgrade_schema(engine)
    stored_papers = papers(stored, seed=13)
    _store(engine, stored_papers, "2510", STORED_SEEN)
    _store(engine, papers(new, seed=17), "2511", NEW_SEEN)
    with write_session(engine) as session:
        # As `paperbot subscribe --like` stores them (examples named by arXiv id), in one
        # transaction so that set-up stays under a minute.
        for spec in _example_specs(topics, stored_papers):
            subscribe(session, spec, now=STORED_SEEN)
    engine.dispose()
    return {"seconds": time.perf_counter() - started}


def _real_path(db: str) -> dict[str, Any]:
    """One delivery's similarity work on the stored database, step by step, as delivery does it.

    Listing the subscribers (`list_subscribers`), reading the papers first seen
    since yesterday into the matcher, `load_similar_papers` over them and every
    topic (vectors stored with `keep`), the rules, and matching the new papers.
    On a fresh database the first run is the worst case: the examples' vectors
    are made too, where a running service made them when the papers were new.
    """
    from sqlmodel import Session, col, select

    from bot.db import open_engine
    from bot.matching.engine import Match, Matcher
    from bot.models import Paper
    from bot.papers import paper_text
    from bot.similar_papers import example_ids, load_similar_papers
    from bot.subscriptions.store import list_subscribers

    engine = open_engine(f"sqlite:///{db}")
    before = _peak_rss_mb()
    started = time.perf_counter()
    with Session(engine) as session:
        subscribers = list_subscribers(session)
    topics = [topic for subscriber in subscribers for topic in subscriber.topics]
    listed = time.perf_counter()
    with Session(engine) as session:
        # A daily subscriber's window (delivery's `_index`): the new papers, not the stored ones.
        since = col(Paper.first_seen_at) >= NOW - timedelta(days=1)
        texts = [paper_text(paper) for paper in session.scalars(select(Paper).where(since))]
    matcher = Matcher(texts)
    read = time.perf_counter()
    candidates = [text.id for text in texts]
    similar = load_similar_papers(engine, candidates, example_ids(topics), keep=True)
    loaded = time.perf_counter()
    rules = similar.rules(topics)
    ruled = time.perf_counter()
    by_rule: dict[int, list[Match]] = {}
    for match in matcher.match(rules):
        by_rule.setdefault(match.rule_id, []).append(match)
    done = time.perf_counter()
    engine.dispose()
    return {
        "topics": listed - started,
        "papers": read - listed,
        "similar": loaded - read,
        "rules": ruled - loaded,
        "match": done - ruled,
        "total": done - started,
        "count": len(topics),
        "new": len(texts),
        "matches": sum(len(found) for found in by_rule.values()),
        "matched": len(by_rule),
        "rss_before": before,
        "rss": _peak_rss_mb(),
    }


def _ingest_with_vectors(path: str, db: str) -> dict[str, Any]:
    """bench/ingest.py's dump phase, then the vectors of the papers it stored."""
    from sqlmodel import Session, select

    from bot.db import open_engine
    from bot.models import Paper

    result = _ingest(path, db)
    engine = open_engine(f"sqlite:///{db}")
    started = time.perf_counter()
    with Session(engine) as session:
        rows = session.exec(select(Paper.title, Paper.abstract)).all()
    for title, abstract in rows:
        paper_terms(title, abstract or "")
    result["vectors"] = time.perf_counter() - started
    result["rss"] = _peak_rss_mb()
    return result


def _child(function: Any, *args: Any) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(function, args)
        return result


def _print_real(topics: int, new: int, stored: int) -> None:
    """Build the real path's database, then time two runs on it, each in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="paperbot-bench-") as tmp:
        db = str(Path(tmp, "real.db"))
        built = _child(_build_real, db, topics, new, stored)
        print(f"real path on SQLite: {topics} subscribers of example topics, {stored} stored"
              f" + {new} new papers (set up in {built['seconds']:.1f} s)")  # fmt: skip
        for name in ("first run (vectors made and stored)", "second run (vectors read back)"):
            run = _child(_real_path, db)
            print(f"  {name}: topics {run['topics']:.2f} s + new papers {run['papers']:.2f} s"
                  f" + vectors and index {run['similar']:.2f} s + rules {run['rules']:.2f} s"
                  f" + matching {run['match']:.2f} s = {run['total']:.2f} s (target < 3 s)")  # fmt: skip
            print(f"    {run['count']} topics x {run['new']} new papers: {run['matches']} matches"
                  f" in {run['matched']} topics; peak RSS {run['rss']:.0f} MB"
                  f" ({run['rss_before']:.0f} MB before; target < 500 MB)")  # fmt: skip


def main() -> None:
    """Run each phase in its own process and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--stored", type=int, default=5000)
    parser.add_argument("--vectors", type=int, default=20_000)
    args = parser.parse_args()

    made = _child(_vectors, args.vectors)
    print(f"vectors: {made['papers']} papers in {made['seconds']:.2f} s, "
          f"{made['papers'] / made['seconds']:.0f} papers/s")  # fmt: skip

    run = _child(_score, args.topics, args.new, args.stored)
    print(
        f"scoring: {args.topics} topics ({run['examples']} distinct examples) x {args.new} new papers"
    )
    print(f"  new papers' vectors {run['vectors']:.2f} s + statistics and index {run['index']:.2f} s"
          f" + scores {run['score']:.2f} s + matches {run['matches_s']:.2f} s"
          f" = {run['total']:.2f} s (target < 3 s)")  # fmt: skip
    print(f"  {run['matches']} matches, {run['matches'] / args.topics:.1f} per topic; "
          f"peak RSS {run['rss']:.0f} MB ({run['rss_before']:.0f} MB before scoring; target < 500 MB)")  # fmt: skip

    _print_real(args.topics, args.new, args.stored)

    with tempfile.TemporaryDirectory(prefix="paperbot-bench-") as tmp:
        dump = Path(tmp, "dump.txt")
        dump.write_text(spaced_dump(args.vectors), encoding="utf-8")
        plain = _in_child(_ingest, str(dump), str(Path(tmp, "plain.db")))
        both = _child(_ingest_with_vectors, str(dump), str(Path(tmp, "vectors.db")))
    with_vectors = both["seconds"] + both["vectors"]
    print(f"dump ingest of {plain['new']} papers: {plain['seconds']:.2f} s without vectors, "
          f"{with_vectors:.2f} s with them ({both['vectors']:.2f} s of vectors): "
          f"{with_vectors / plain['seconds']:.2f}x (target <= 1.5x)")  # fmt: skip


if __name__ == "__main__":
    main()
