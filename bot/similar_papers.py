"""Which new papers resemble the example papers of stored topics (the database's side).

`bot.matching.similarity` scores papers against examples from their vectors
alone; this module reads those vectors (`bot.paper_vectors`, made and stored the
first time a paper is compared) and turns the included papers into the
matcher's `SimilarPaper`s, so a topic's examples select papers beside its
keywords and follows (`Topic.rule`).

One `SimilarPapers` is built per run, over the run's candidate papers and the
examples of every topic it may score: the terms' rarity is counted over both,
as on the labelled profiles the method was measured on. Topics are then scored
a batch at a time.
"""

from collections.abc import Collection, Iterable, Sequence

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.db import write_session
from bot.matching.engine import Rule, SimilarPaper
from bot.matching.similarity import (
    DEFAULT_METHOD,
    Candidate,
    Example,
    Method,
    PaperTerms,
    SimilarityIndex,
    term_statistics,
)
from bot.matching.similarity import Topic as ExampleTopic
from bot.paper_vectors import paper_vectors
from bot.subscriptions.examples import ExamplePaper
from bot.subscriptions.store import Topic


class SimilarPapers:
    """The candidate papers of one run, ready to find those similar to topics' examples."""

    def __init__(
        self,
        candidates: Collection[int],
        vectors: dict[int, PaperTerms],
        method: Method = DEFAULT_METHOD,
    ) -> None:
        """`vectors` holds the candidates' vectors and those of the examples to be scored."""
        self._vectors = vectors
        kept = [Candidate(pid, vectors[pid]) for pid in candidates if pid in vectors]
        self._index = (
            SimilarityIndex(kept, term_statistics(vectors.values()), method) if kept else None
        )
        self._method = method

    def rules(self, topics: Iterable[Topic]) -> list[Rule]:
        """Each topic's rule, with the candidates similar enough to its liked examples."""
        topics = list(topics)
        similar = self.similar(topics)
        return [topic.rule(similar.get(topic.id, ())) for topic in topics]

    def similar(self, topics: Sequence[Topic]) -> dict[int, tuple[SimilarPaper, ...]]:
        """The candidates each topic with liked examples includes, by topic id, best first."""
        scored = [t for t in (self._example_topic(topic) for topic in topics) if t is not None]
        if self._index is None or not scored:
            return {}
        found: dict[int, list[SimilarPaper]] = {}
        for match in self._index.score(scored).matches(self._method):
            found.setdefault(match.topic_key, []).append(
                SimilarPaper(match.paper_id, match.score, match.example_title, match.example_score)
            )
        return {key: tuple(papers) for key, papers in found.items()}

    def _example_topic(self, topic: Topic) -> ExampleTopic | None:
        vectors = self._vectors

        def examples(papers: Iterable[ExamplePaper]) -> tuple[Example, ...]:
            return tuple(Example(p.id, p.title, vectors[p.id]) for p in papers if p.id in vectors)

        liked = examples(topic.liked)
        if not liked:
            return None
        return ExampleTopic(topic.id, liked, examples(topic.unliked), topic.level)


def example_ids(topics: Iterable[Topic]) -> set[int]:
    """The ids of every example paper of these topics, liked or not."""
    return {paper.id for topic in topics for paper in topic.liked + topic.unliked}


def load_similar_papers(
    engine: Engine, candidates: Collection[int], topics: Iterable[Topic], *, keep: bool = True
) -> SimilarPapers:
    """A `SimilarPapers` over `candidates` for `topics`, with the vectors read (or made) once.

    With `keep`, new vectors are stored for later runs. When another worker
    stores the same papers' vectors at the same moment, this run keeps its own
    in memory and stores none: they are the same vectors.
    """
    wanted = example_ids(topics)
    if not wanted:
        return SimilarPapers(candidates, {})
    ids = set(candidates) | wanted
    if keep:
        try:
            with write_session(engine, exclusive=False) as session:
                return SimilarPapers(candidates, paper_vectors(session, ids))
        except IntegrityError:
            pass
    with Session(engine) as session:
        vectors = paper_vectors(session, ids)
        session.rollback()
    return SimilarPapers(candidates, vectors)
