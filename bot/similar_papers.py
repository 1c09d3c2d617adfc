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

from collections.abc import Collection, Iterable, Mapping, Sequence

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.db import write_session
from bot.matching.engine import Rule, SimilarPaper
from bot.matching.similarity import (
    DEFAULT_METHOD,
    Candidate,
    Example,
    Match,
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
        scored = [t for t in (example_topic(topic, self._vectors) for topic in topics) if t]
        if self._index is None or not scored:
            return {}
        return similar_by_topic(self._index.score(scored).matches(self._method))


def example_topic(topic: Topic, vectors: Mapping[int, PaperTerms]) -> ExampleTopic | None:
    """The stored topic as the similarity scorer takes it, or None when it likes no paper.

    Examples whose vectors are missing (a paper removed since) are left out.
    """

    def examples(papers: Iterable[ExamplePaper]) -> tuple[Example, ...]:
        return tuple(Example(p.id, p.title, vectors[p.id]) for p in papers if p.id in vectors)

    liked = examples(topic.liked)
    if not liked:
        return None
    return ExampleTopic(topic.id, liked, examples(topic.unliked), topic.level)


def similar_by_topic(matches: Iterable[Match]) -> dict[int, tuple[SimilarPaper, ...]]:
    """The scorer's matches as the matcher's `SimilarPaper`s, by topic key, in their order."""
    found: dict[int, list[SimilarPaper]] = {}
    for match in matches:
        found.setdefault(match.topic_key, []).append(
            SimilarPaper(match.paper_id, match.score, match.example_title, match.example_score)
        )
    return {key: tuple(papers) for key, papers in found.items()}


def example_ids(topics: Iterable[Topic]) -> set[int]:
    """The ids of every example paper of these topics, liked or not."""
    return {paper.id for topic in topics for paper in topic.liked + topic.unliked}


def load_similar_papers(
    engine: Engine, candidates: Collection[int], examples: Collection[int], *, keep: bool = True
) -> SimilarPapers:
    """A `SimilarPapers` over `candidates` for topics with these `examples` (their papers' ids).

    The vectors are read (or made) once; with `keep`, new ones are stored for
    later runs (`read_vectors`).
    """
    wanted = set(examples)
    if not wanted:
        return SimilarPapers(candidates, {})
    ids = set(candidates) | wanted
    return SimilarPapers(candidates, read_vectors(engine, ids, keep=keep))


def read_vectors(
    engine: Engine, paper_ids: Collection[int], *, keep: bool
) -> dict[int, PaperTerms]:
    """The vectors of these papers; with `keep`, those made now are stored for later.

    When another worker stores the same papers' vectors at the same moment, the
    ones made here are used without being stored: they are the same vectors.
    """
    if keep:
        try:
            with write_session(engine, exclusive=False) as session:
                return paper_vectors(session, paper_ids)
        except IntegrityError:
            pass
    with Session(engine) as session:
        vectors = paper_vectors(session, paper_ids)
        session.rollback()
    return vectors


def stored_example_topics(engine: Engine, topics: Iterable[Topic]) -> dict[str, ExampleTopic]:
    """The topics that like some paper, by name, with their examples' vectors (nothing stored).

    For the web pages: a visitor's request reads the database but never writes it.
    """
    topics = [topic for topic in topics if topic.liked]
    vectors = read_vectors(engine, example_ids(topics), keep=False)
    found = ((topic.name, example_topic(topic, vectors)) for topic in topics)
    return {name: scored for name, scored in found if scored is not None}
