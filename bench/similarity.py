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
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import spaced_dump
from ingest import _in_child, _ingest, _peak_rss_mb

from bot.matching.similarity import (
    Candidate,
    Example,
    SimilarityIndex,
    Topic,
    paper_terms,
    term_statistics,
)

SAMPLES = Path(__file__).resolve().parent.parent / "examples" / "dumps"


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
