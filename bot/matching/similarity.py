"""Topics by example: which new papers are similar enough to the papers a reader likes.

A reader gives two or three papers they like (and maybe some they do not); a new
paper is included when it is similar enough to the liked ones and not closer to
an unliked one, with the liked example it is closest to as the explanation.

The method is lexical, on purpose: it runs anywhere with no model to download
and no GPU. docs/similarity.md has the measured table of what was tried on the
labelled profiles of `tests/data/similarity/`; only what helped there is here.

1. **Terms, once per paper.** `paper_terms` turns a title and abstract into a
   sparse {term: weight} mapping: the words' normal forms (`bot.matching.text`:
   case, accents, British spellings, plurals folded) minus function words, with
   sublinear counts (1 + log n; title words count twice). It depends on the
   paper's text alone, so it is computed once and stored; `METHOD` names the
   recipe, and a stored vector of another recipe is recomputed.
2. **IDF, per run.** How rare a term is depends on the corpus, so it is not baked
   into the stored vectors: `term_statistics` counts document frequencies over
   the papers being compared (the new papers and the examples), one pass over
   their terms. A fixed background table shipped with the package was the
   alternative; per-run counts follow the store's own fields and vocabulary, and
   need no data file kept in step with the tokeniser.
3. **Centroid.** A paper's first score is its TF-IDF cosine to the mean of the
   liked examples, the classic. Each example is one query however many topics
   give it: the centroid's cosine is the sum of the examples' cosines over the
   length of their sum, so a batch costs one query per distinct example.
4. **Pseudo-relevance feedback.** The topic's best few papers in the batch are
   taken as further examples: each paper's score is blended with its mean
   similarity to those papers, which finds relevant papers that share words with
   the top papers rather than with the examples.
5. **Unliked examples, only where closer.** Subtracting the unliked examples
   (Rocchio), or even only scaling down the papers closer to them, lowered
   precision, because unliked papers share the liked ones' topic. Here the
   unliked examples only keep papers out of the digest; the ranking is left
   alone. One unliked example keeps out the papers nearer to it than to every
   liked example. From two on (readers marking papers "fewer" add them by the
   dozen), that rule lets each one decide alone, and a classifier of all the
   examples (kernel ridge regression over their similarities) decides instead.
6. **A threshold, shifted by a level.** A paper is included when its score
   reaches `Method.threshold_at(level)`; level 0 is the default calibrated on the
   labelled profiles, each level up ("more") lowers it by a fraction and each
   level down ("fewer") raises it.

Everything here is pure: vectors and statistics in, scores and matches out. The
batch scoring is vectorised with numpy; a query keeps only its strongest terms,
so it touches only the papers that share one of them.
"""

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter, mul

import numpy as np
import numpy.typing as npt

from bot.errors import InputError
from bot.matching.text import forms, tokenise

# The recipe of `paper_terms`: change it whenever the terms a text yields change,
# so that stored vectors of the old recipe are recomputed.
METHOD = "terms/1"

# Function words and the boilerplate of abstracts: IDF would weight them near zero
# anyway; leaving them out keeps the vectors small.
_STOPWORD_LIST = """
    a about above across after again against all almost also although always am among an
    and another any are around as at be because been before being below between both but
    by can could did do does doing done down due during each either else et etc even
    ever every for from further had has have having he her here hers him his how however
    i if in into is it its itself just least less many may me might more most much must
    my neither no nor not now of off often on once one only onto or other others
    otherwise our ours out over own per rather same several she should since so some
    such than that the their theirs them themselves then there therefore these they this
    those though through thus to too toward towards under until up upon us use used
    using very via was we well were what whatever when where whereas whether which while
    who whom whose why will with within without would yet you your paper propose
    proposed show shows shown present presents work approach method methods novel new
    results result based also demonstrate demonstrates existing furthermore moreover
    addition address achieve achieves significantly significant state art
"""
_STOPWORDS = frozenset(_STOPWORD_LIST.split())
_TITLE_WEIGHT = 2
_MAX_WORD = 40


@dataclass(frozen=True, slots=True)
class PaperTerms:
    """A paper's terms and their weights (1 + log count), independent of any corpus.

    Plain data meant to be stored with the paper: `to_json` and `from_json` turn it
    into text and back; `method` is the recipe that made it (`METHOD`).
    """

    terms: Mapping[str, float]
    method: str = METHOD

    def to_json(self) -> str:
        """Return the vector as compact JSON text, terms sorted (the same text for the same paper)."""
        rounded = {term: round(weight, 4) for term, weight in sorted(self.terms.items())}
        return json.dumps({"method": self.method, "terms": rounded}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "PaperTerms":
        """Read a vector written by `to_json`; raise InputError when the text is not one."""
        try:
            data = json.loads(text)
            method, terms = data["method"], data["terms"]
        except (ValueError, TypeError, KeyError) as error:
            raise InputError(f"stored paper vector: not a vector ({error})") from None
        if not isinstance(method, str) or not isinstance(terms, dict):
            raise InputError("stored paper vector: 'method' must be text, 'terms' a mapping")
        if not all(isinstance(w, int | float) and not isinstance(w, bool) for w in terms.values()):
            raise InputError("stored paper vector: every term weight must be a number")
        return cls({str(term): float(weight) for term, weight in terms.items()}, method)

    @property
    def current(self) -> bool:
        """Whether the vector was made by this version's recipe (else: recompute it)."""
        return self.method == METHOD


def paper_terms(title: str, abstract: str) -> PaperTerms:
    """Return the terms of a paper's title and abstract (see the module's docstring)."""
    counts: Counter[str] = Counter()
    title_terms = _terms(title)
    for _ in range(_TITLE_WEIGHT):
        counts.update(title_terms)
    counts.update(_terms(abstract))
    return PaperTerms({term: _tf(count) for term, count in counts.items()})


def _terms(text: str) -> list[str]:
    """The normal forms of the words of `text`, function words left out.

    This runs once per paper over every word, so the common case is kept cheap:
    `str.split`, and one cached lookup per plain word.
    """
    keys: list[str] = []
    for token in text.split():
        if token.isalnum():
            if key := _key(token):
                keys.append(key)
        else:
            keys += _token_keys(token)
    return keys


@lru_cache(maxsize=1 << 16)
def _token_keys(token: str) -> tuple[str, ...]:
    """The keys of a token that is not one plain word: "(ICL),", "self-supervised", "rl_reach"."""
    return tuple(key for word in tokenise(token) if (key := _key(word.text)))


@lru_cache(maxsize=1 << 18)
def _key(word: str) -> str:
    """A word's normal form, or "" for a word left out (function words, numbers, one letter)."""
    if len(word) > _MAX_WORD:
        return ""
    key = forms(word).key
    return key if len(key) > 1 and key not in _STOPWORDS and not key.isdigit() else ""


@lru_cache(maxsize=1024)
def _tf(count: int) -> float:
    return 1.0 + math.log(count)


@dataclass(frozen=True, slots=True)
class TermStatistics:
    """Document frequencies over the papers compared in one run, and the IDF they give."""

    papers: int
    frequency: Mapping[str, int]

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency: rare terms weigh most, none weighs zero."""
        return math.log((1 + self.papers) / (1 + self.frequency.get(term, 0))) + 1.0


def term_statistics(vectors: Iterable[PaperTerms]) -> TermStatistics:
    """Count in how many of `vectors` each term occurs (each paper once)."""
    frequency: Counter[str] = Counter()
    papers = 0
    for vector in vectors:
        frequency.update(vector.terms.keys())
        papers += 1
    return TermStatistics(papers, frequency)


@dataclass(frozen=True, slots=True)
class Example:
    """A paper a reader gave as an example: its id, title (for explanations) and terms."""

    paper_id: int
    title: str
    terms: PaperTerms


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic by example: liked papers (at least one), unliked ones, and a level.

    `level` shifts the inclusion threshold: 0 is the default, positive levels
    include more papers, negative ones fewer (from -`MAX_LEVEL` to `MAX_LEVEL`).
    """

    key: int
    liked: tuple[Example, ...]
    unliked: tuple[Example, ...] = ()
    level: int = 0

    def __post_init__(self) -> None:
        if not self.liked:
            raise InputError(f"topic {self.key}: give at least one liked example paper")
        if not -MAX_LEVEL <= self.level <= MAX_LEVEL:
            raise InputError(
                f"topic {self.key}: level {self.level} is out of range; "
                f"use a whole number from -{MAX_LEVEL} (fewer) to {MAX_LEVEL} (more)"
            )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A paper that may match: its id and terms."""

    paper_id: int
    terms: PaperTerms


@dataclass(frozen=True, slots=True)
class Match:
    """A paper included in a topic, its score, and the liked example it is most similar to."""

    topic_key: int
    paper_id: int
    score: float
    example_id: int
    example_title: str
    example_score: float

    @property
    def explanation(self) -> str:
        """The line a digest shows: 'similar to <example title> (0.71)'."""
        return f"similar to {self.example_title} ({self.example_score:.2f})"


MAX_LEVEL = 3


@dataclass(frozen=True, slots=True)
class Method:
    """The numbers of the method (the defaults are the measured best; see docs/similarity.md).

    `feedback_papers`, `feedback`: how many of a topic's top papers feed back, and
    their weight in the score (0 turns feedback off).
    `query_terms`: strongest terms kept per query vector (speed; 0 keeps all).
    `threshold`: the score a paper needs at level 0; `level_step`: the fraction of
    it that one level ("more" or "fewer") takes off or adds.
    `classifier_unliked`: from how many unliked examples on (with at least two
    liked) a classifier of the examples decides what is kept out, instead of
    "nearer to an unliked example than to every liked one"; `classifier_ridge`:
    its regularisation.
    """

    feedback_papers: int = 5
    feedback: float = 0.3
    query_terms: int = 60
    threshold: float = 0.16
    level_step: float = 0.15
    classifier_unliked: int = 2
    classifier_ridge: float = 0.5

    def threshold_at(self, level: int) -> float:
        """The inclusion threshold at a topic's level ("more" is positive, "fewer" negative)."""
        return self.threshold * (1 - level * self.level_step)


DEFAULT_METHOD = Method()
# The classic baseline: TF-IDF cosine to the mean of the liked examples, nothing else.
BASELINE_METHOD = Method(feedback_papers=0, feedback=0.0, query_terms=0)

_FloatArray = npt.NDArray[np.float32]
_IntArray = npt.NDArray[np.int64]
_TOPIC_BLOCK = 1024
# Joined (query term, candidate) pairs per step of a batch: about 100 MB of arrays.
_JOIN_BLOCK = 2_000_000


@dataclass(frozen=True, slots=True)
class Scores:
    """Every topic's score for every candidate, and what the explanations need.

    `final[t, c]` ranks candidate c for topic t; `nearest[t, c]` is the index in
    `topics[t].liked` of the example most similar to it and `nearest_score[t, c]`
    that similarity; `vetoed[t, c]` marks candidates the unliked examples keep out,
    and the topic's own examples.
    """

    topics: tuple[Topic, ...]
    candidates: tuple[Candidate, ...]
    final: _FloatArray
    nearest: npt.NDArray[np.int16]
    nearest_score: _FloatArray
    vetoed: npt.NDArray[np.bool_]

    def ranking(self, row: int) -> list[int]:
        """Candidate indexes for topic `row`, best first (ties by candidate order)."""
        return [int(i) for i in np.argsort(-self.final[row], kind="stable")]

    def included(self, row: int, method: Method = DEFAULT_METHOD) -> list[int]:
        """Candidate indexes topic `row` includes at its level, best first."""
        scores = self.final[row]
        cut = method.threshold_at(self.topics[row].level)
        kept = np.flatnonzero((scores >= cut) & ~self.vetoed[row])
        return [int(i) for i in kept[np.argsort(-scores[kept], kind="stable")]]

    def matches(self, method: Method = DEFAULT_METHOD) -> list[Match]:
        """The included papers of every topic, with their explanations, best first per topic."""
        found: list[Match] = []
        for row, topic in enumerate(self.topics):
            for i in self.included(row, method):
                example = topic.liked[int(self.nearest[row, i])]
                found.append(
                    Match(
                        topic.key,
                        self.candidates[i].paper_id,
                        float(self.final[row, i]),
                        example.paper_id,
                        example.title,
                        float(self.nearest_score[row, i]),
                    )
                )
        return found


class _Queries:
    """Query vectors as rows: candidate-vocabulary term ids and their weights."""

    def __init__(self, vocabulary: Mapping[str, int]) -> None:
        self.vocabulary = vocabulary
        self.rows: list[tuple[_IntArray, _FloatArray]] = []

    def add(self, weights: Mapping[str, float]) -> int:
        """Add a query (its terms known to the candidates); return its row."""
        vocabulary = self.vocabulary
        items = [(vocabulary[t], w) for t, w in weights.items() if t in vocabulary]
        self.rows.append(
            (
                np.fromiter((i for i, _ in items), dtype=np.int64, count=len(items)),
                np.fromiter((w for _, w in items), dtype=np.float32, count=len(items)),
            )
        )
        return len(self.rows) - 1


class SimilarityIndex:
    """The candidates of one run, weighted and indexed by term, ready to score topics."""

    def __init__(
        self,
        candidates: Sequence[Candidate],
        statistics: TermStatistics,
        method: Method = DEFAULT_METHOD,
    ) -> None:
        self.candidates = tuple(candidates)
        self.statistics = statistics
        self.method = method
        self._idf: dict[str, float] = {}
        self._vectors = [self.weighted(c.terms) for c in self.candidates]
        self._columns = {c.paper_id: column for column, c in enumerate(self.candidates)}
        self._neighbours: _FloatArray | None = None
        vocabulary: dict[str, int] = {}
        columns: list[list[tuple[int, float]]] = []
        for number, vector in enumerate(self._vectors):
            for term, weight in vector.items():
                column = vocabulary.setdefault(term, len(vocabulary))
                if column == len(columns):
                    columns.append([])
                columns[column].append((number, weight))
        self.vocabulary = vocabulary
        lengths = np.fromiter((len(c) for c in columns), dtype=np.int64, count=len(columns))
        self._starts = np.zeros(len(columns) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self._starts[1:])
        flat = [entry for column in columns for entry in column]
        self._rows = np.fromiter((r for r, _ in flat), dtype=np.int64, count=len(flat))
        self._weights = np.fromiter((w for _, w in flat), dtype=np.float32, count=len(flat))

    def weighted(self, vector: PaperTerms) -> dict[str, float]:
        """The vector's TF-IDF weights over this run's statistics, of unit length."""
        idf = self._idf
        weights: dict[str, float] = {}
        for term, tf in vector.terms.items():
            value = idf.get(term)
            if value is None:
                value = idf[term] = self.statistics.idf(term)
            weights[term] = tf * value
        return _unit(weights)

    def score(self, topics: Sequence[Topic]) -> Scores:
        """Score every candidate for every topic (see the module's docstring for how).

        Each distinct example is one query, however many topics give it; the
        centroid's score follows from the examples' own (cosine is linear in the
        query), so no query is per topic.
        """
        method = self.method
        queries = _Queries(self.vocabulary)
        rows: dict[int, int] = {}
        examples: dict[int, dict[str, float]] = {}
        squares: dict[int, float] = {}

        def example_row(example: Example) -> int:
            row = rows.get(example.paper_id)
            if row is None:
                weights = examples[example.paper_id] = _strongest(
                    self.weighted(example.terms), method.query_terms
                )
                row = rows[example.paper_id] = queries.add(weights)
                squares[example.paper_id] = _dot(weights, weights)
            return row

        widest = max((len(t.liked) for t in topics), default=1)
        # Topics with fewer examples than the widest point at an empty query: zeros.
        liked = np.full((len(topics), widest), queries.add({}), dtype=np.int64)
        unliked_rows: list[list[int]] = []
        norms = np.ones(len(topics), dtype=np.float32)
        for number, topic in enumerate(topics):
            liked[number, : len(topic.liked)] = [example_row(e) for e in topic.liked]
            unliked_rows.append([example_row(e) for e in topic.unliked])
            vectors = [examples[e.paper_id] for e in topic.liked]
            norms[number] = _length_of_sum(vectors, (squares[e.paper_id] for e in topic.liked))
        similarity = self._dot(queries)

        count = len(self.candidates)
        final = np.zeros((len(topics), count), dtype=np.float32)
        nearest = np.zeros((len(topics), count), dtype=np.int16)
        nearest_score = np.zeros((len(topics), count), dtype=np.float32)
        vetoed = np.zeros((len(topics), count), dtype=np.bool_)
        for first in range(0, len(topics), _TOPIC_BLOCK):
            block = slice(first, first + _TOPIC_BLOCK)
            per_example = similarity[liked[block]]
            nearest[block] = np.argmax(per_example, axis=1)
            nearest_score[block] = per_example.max(axis=1)
            final[block] = per_example.sum(axis=1) / norms[block, None]
        for number, rows_of_unliked in enumerate(unliked_rows):
            topic = topics[number]
            if len(topic.liked) >= 2 and len(topic.unliked) >= max(method.classifier_unliked, 1):
                given = [rows[e.paper_id] for e in topic.liked + topic.unliked]
                vetoed[number] = self._classified_unliked(topic, queries, similarity, given)
            elif rows_of_unliked:
                closest = similarity[rows_of_unliked].max(axis=0)
                vetoed[number] = closest > nearest_score[number]
            # A topic's own examples, when they are candidates too, are neither
            # included nor taken as its best papers for feedback: they are the query.
            for example in topic.liked + topic.unliked:
                column = self._columns.get(example.paper_id)
                if column is not None:
                    vetoed[number, column] = True
        if method.feedback_papers and method.feedback and count > method.feedback_papers:
            self._feedback(final, vetoed)
        return Scores(tuple(topics), self.candidates, final, nearest, nearest_score, vetoed)

    def _classified_unliked(
        self, topic: Topic, queries: _Queries, similarity: _FloatArray, given: list[int]
    ) -> npt.NDArray[np.bool_]:
        """The candidates a classifier of the topic's liked and unliked examples calls unliked.

        Kernel ridge regression over the examples, cosine similarity as the kernel:
        the weights solve (G + ridge I) a = y, where G holds the examples'
        similarities to one another and y is +1/n for each of the n liked examples
        and -1/m for each of the m unliked ones (each side weighs the same however
        many it has). A candidate is unliked when a . s, its similarities to the
        examples weighted, is below zero: every example has its say, so ten unliked
        examples around the topic do not each get a veto of their own. `given` are
        the query rows of the liked examples, then of the unliked ones; like the
        similarities, G counts the terms the candidates have.
        """
        gram = _gram([queries.rows[row] for row in given])
        liked, unliked = len(topic.liked), len(topic.unliked)
        target = np.concatenate([np.full(liked, 1.0 / liked), np.full(unliked, -1.0 / unliked)])
        ridge = self.method.classifier_ridge * np.eye(len(given))
        weights = np.linalg.solve(gram + ridge, target).astype(np.float32)
        decision = weights @ similarity[given]
        return np.asarray(decision < 0, dtype=np.bool_)

    def _feedback(self, scores: _FloatArray, vetoed: npt.NDArray[np.bool_]) -> None:
        """Blend each score, in place, with the mean similarity to the topic's best few papers.

        A block of topics at a time, so the temporary arrays stay small.
        """
        method = self.method
        papers = method.feedback_papers
        neighbours = self._paper_similarity()
        keep = np.float32(1 - method.feedback)
        weight = np.float32(method.feedback / papers)
        last = scores.shape[1] - papers
        for first in range(0, len(scores), _TOPIC_BLOCK):
            block = scores[first : first + _TOPIC_BLOCK]
            ranked = np.where(vetoed[first : first + _TOPIC_BLOCK], np.float32(-1.0), block)
            top = np.argpartition(ranked, last, axis=1)[:, last:]
            echo = neighbours[top[:, 0]]
            for k in range(1, papers):
                echo += neighbours[top[:, k]]
            block *= keep
            block += weight * echo

    def _paper_similarity(self) -> _FloatArray:
        """Cosine similarity between every two candidates, each with itself at zero.

        Made on first use and kept: an index kept for many scorings (the web
        preview's) pays for it once.
        """
        if self._neighbours is None:
            queries = _Queries(self.vocabulary)
            for vector in self._vectors:
                queries.add(_strongest(vector, self.method.query_terms))
            similarity = self._dot(queries)
            np.fill_diagonal(similarity, 0.0)
            self._neighbours = similarity
        return self._neighbours

    def _dot(self, queries: _Queries) -> _FloatArray:
        """Dot products of every query with every candidate: a join on the term ids.

        Each query entry (term, weight) meets the candidates listed under its term;
        `bincount` adds the products into the (query, candidate) cells. Queries go
        in blocks of about `_JOIN_BLOCK` joined pairs so the arrays stay small.
        """
        count = len(self.candidates)
        out = np.zeros((len(queries.rows), count), dtype=np.float32)
        if not count:
            return out
        first, pending = 0, 0
        for number, (terms, _) in enumerate(queries.rows):
            pending += int((self._starts[terms + 1] - self._starts[terms]).sum())
            if pending >= _JOIN_BLOCK or number == len(queries.rows) - 1:
                out[first : number + 1] = self._join(queries.rows[first : number + 1])
                first, pending = number + 1, 0
        return out

    def _join(self, rows: list[tuple[_IntArray, _FloatArray]]) -> _FloatArray:
        count = len(self.candidates)
        terms = np.concatenate([t for t, _ in rows])
        weights = np.concatenate([w for _, w in rows])
        owner = np.repeat(np.arange(len(rows), dtype=np.int64), [len(t) for t, _ in rows])
        starts = self._starts[terms]
        lengths = self._starts[terms + 1] - starts
        total = int(lengths.sum())
        # Position of each joined pair within its term's list of candidates.
        offsets = np.arange(total, dtype=np.int64) - np.repeat(
            np.cumsum(lengths) - lengths, lengths
        )
        postings = np.repeat(starts, lengths) + offsets
        cells = np.repeat(owner, lengths) * count + self._rows[postings]
        products = np.repeat(weights, lengths) * self._weights[postings]
        sums = np.bincount(cells, weights=products, minlength=len(rows) * count)
        return sums.reshape(len(rows), count).astype(np.float32)


def _unit(weights: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {term: w / norm for term, w in weights.items()}


def _strongest(weights: dict[str, float], keep: int) -> dict[str, float]:
    """The `keep` heaviest terms (all when `keep` is 0), weights unchanged.

    A query's weakest terms are its commonest, the ones listed under most papers:
    leaving them out is most of the speed.
    """
    if not keep or len(weights) <= keep:
        return weights
    return dict(sorted(weights.items(), key=itemgetter(1), reverse=True)[:keep])


def _length_of_sum(vectors: Sequence[Mapping[str, float]], squares: Iterable[float]) -> float:
    """The length of the vectors' sum, given their squared lengths (for the centroid's cosine)."""
    square = sum(squares)
    for number, first in enumerate(vectors):
        for second in vectors[number + 1 :]:
            square += 2 * _dot(first, second)
    return math.sqrt(square) or 1.0


def _gram(rows: Sequence[tuple[_IntArray, _FloatArray]]) -> npt.NDArray[np.float64]:
    """The dot products of every two query rows, through a dense matrix of their terms."""
    terms, columns = np.unique(np.concatenate([t for t, _ in rows]), return_inverse=True)
    owner = np.repeat(np.arange(len(rows)), [len(t) for t, _ in rows])
    dense = np.zeros((len(rows), len(terms)))
    dense[owner, columns] = np.concatenate([w for _, w in rows])
    return dense @ dense.T


def _dot(first: Mapping[str, float], second: Mapping[str, float]) -> float:
    common = first.keys() & second.keys()
    return float(sum(map(mul, map(first.__getitem__, common), map(second.__getitem__, common))))
