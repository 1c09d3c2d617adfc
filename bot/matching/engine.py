"""Which papers match which subscriptions, and why (pure: no I/O).

A rule (one subscription topic) matches a paper when one of its keywords
matches the title or the abstract, or one of the authors, organisations or
categories it follows is the paper's (`bot.matching.facets`), or it is similar
enough to the rule's example papers (found beforehand by
`bot.matching.similarity`, given as `Rule.similar`), and none of its exclusions
of any kind does. A rule's own example papers never match it: the reader has
them already. A rule that asks for trending papers
(`bot.matching.trending`) keeps only those; with nothing else to match, it
selects every trending paper. Per rule and paper the best match is kept: a
title match (score 1 + similarity) beats an abstract match (score =
similarity); similarity is 1.0 for an exact match and lower for a keyword
corrected for a typo. An author, organisation or category, or trending alone,
scores 1.0, as an exact abstract match: on a tie the keyword explains, then the
kinds in the order of `FACETS`. A paper similar to the examples scores its
similarity (about 0.15 to 0.8), so in a mixed topic a keyword or a follow
explains a paper both find.

`Matcher` finds matches through an index built once from the papers;
`match_exhaustive` applies the same rules by trying every keyword at every
word of every paper, and gives the same result, slowly: it is the reference
the index is checked against.
"""

import copy
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from itertools import islice, product
from typing import Literal, Protocol

from rapidfuzz.distance import OSA

from bot.bulk import collector_paused
from bot.matching.facets import FACETS, Facet, FacetField, FacetFinder, FacetKind
from bot.matching.index import TITLE, Fields, PaperIndex, TokenTable
from bot.matching.keywords import Keyword, Word, parse_keyword, typo_bound
from bot.matching.text import snippet
from bot.matching.trending import Trend, day_trends, day_trends_exhaustive, is_trending

Field = Literal["title", "abstract", FacetField, "upvotes", "examples"]
RuleKind = Literal["keyword", FacetKind, "trending", "similar"]
_FIELDS: tuple[Field, Field] = ("title", "abstract")
# A keyword is searched as a few spellings (plural forms of inner words, typo
# corrections); this bounds their number for keywords with many such words.
MAX_SPELLINGS = 64
KEPT_HITS = 200_000
"""Keyword hits a matcher keeps for reuse (about 300 bytes each with their keyword: 60 MB).

Past that, the least recently used keywords go; one matching nothing counts as one hit,
so that thousands of typos cannot pile up outside the bound.
"""


@dataclass(frozen=True, slots=True)
class PaperText:
    """What the matcher reads of a paper: its id, text, what it lists, and its standing.

    `organization` is the full name, `organization_name` the Hub's short one;
    `day` is the day the paper was listed (else its own date), for trending rules.
    """

    id: int
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    organization: str | None = None
    organization_name: str | None = None
    categories: tuple[str, ...] = ()
    upvotes: int | None = None
    day: date | None = None

    @property
    def organisations(self) -> tuple[str, ...]:
        """The organisation's names the paper gives: short name first, then the full one."""
        return tuple(name for name in (self.organization_name, self.organization) if name)


@dataclass(frozen=True, slots=True)
class SimilarPaper:
    """A paper similar enough to a topic's liked examples, and the example it is closest to."""

    paper_id: int
    score: float
    example_title: str
    example_score: float


@dataclass(frozen=True, slots=True)
class Rule:
    """One subscription topic: what selects papers, what vetoes them, and trending switches.

    Any of `keywords`, `authors`, `organisations` and `categories` selects a
    paper; any of `exclusions` (keywords) and the `exclude_*` lists vetoes it.
    `min_upvotes` and `top` (the day's top N by upvotes) keep only trending
    papers, or select them all when nothing else selects. `liked` and
    `unliked` are the ids of the topic's example papers, which never match it;
    `similar` the papers the similarity of `liked` selects.
    """

    id: int
    keywords: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exclude_authors: tuple[str, ...] = ()
    exclude_organisations: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    min_upvotes: int | None = None
    top: int | None = None
    liked: tuple[int, ...] = ()
    unliked: tuple[int, ...] = ()
    similar: tuple[SimilarPaper, ...] = ()

    @property
    def trending(self) -> bool:
        """True when the rule keeps only trending papers."""
        return self.min_upvotes is not None or self.top is not None

    @property
    def selects(self) -> bool:
        """True when something besides trending selects papers (keywords, authors, examples...)."""
        return (
            bool(self.keywords)
            or bool(self.liked)
            or any(getattr(self, facet.include) for facet in FACETS)
        )


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a paper matched: which rule, where, how closely.

    `kind` is the kind of rule that matched: a "keyword", an "author", an
    "organisation", a "category", "trending" alone, or "similar" to an example
    paper (then `keyword` and `text` are the example's title and `similarity`
    the paper's similarity to it). `keyword` is the rule as
    the user typed it (the keyword, the author's name...; "" for trending),
    `text` the paper's field it matched in (the title, the abstract, the
    author's name as listed..., for trending alone the paper's standing: "42
    upvotes, #3 of the day"). `start` and `end` are offsets into `text`, so
    `text[start:end]` is `matched`. `trend` is the paper's standing when the rule
    asks for trending papers.
    """

    keyword: str
    field: Field
    start: int
    end: int
    similarity: float
    text: str = dataclass_field(repr=False)
    kind: RuleKind = "keyword"
    trend: Trend | None = None

    @property
    def rule(self) -> str:
        """The rule that matched, named: "keyword: graph", "author: Y. LeCun", "trending",
        "similar to Attention Is All You Need (0.71)"."""
        if self.kind == "similar":
            return f"similar to {self.keyword} ({self.similarity:.2f})"
        return "trending" if self.kind == "trending" else f"{self.kind}: {self.keyword}"

    @property
    def label(self) -> str:
        """The rule that matched, or for trending alone the paper's standing: "trending: 42 upvotes..."."""
        return self.trending or "trending" if self.kind == "trending" else self.rule

    @property
    def trending(self) -> str | None:
        """ "trending: 42 upvotes, #3 of the day" when the rule asks for trending papers."""
        return None if self.trend is None else f"trending: {self.trend.describe()}"

    @property
    def matched(self) -> str:
        """The matched words as they appear in the paper."""
        return self.text[self.start : self.end]

    @property
    def snippet(self) -> str:
        """About 60 characters either side of the match, on one line, "…" where cut."""
        return snippet(self.text, self.start, self.end)[0]

    @property
    def snippet_span(self) -> tuple[int, int]:
        """Where the match is in `snippet`: `snippet[a:b]` for `(a, b)`, to highlight it."""
        _, start, end = snippet(self.text, self.start, self.end)
        return start, end

    @property
    def excerpt(self) -> tuple[str, tuple[int, int]]:
        """`snippet` and `snippet_span` together, from one computation of the snippet."""
        text, start, end = snippet(self.text, self.start, self.end)
        return text, (start, end)


@dataclass(frozen=True, slots=True)
class Match:
    """A paper matched by a rule, its score and the explanation of its best match."""

    rule_id: int
    paper_id: int
    score: float
    explanation: Explanation

    @property
    def keyword(self) -> str:
        """The keyword that matched, as the user typed it."""
        return self.explanation.keyword

    @property
    def field(self) -> Field:
        """Which field matched: "title" or "abstract"."""
        return self.explanation.field

    @property
    def start(self) -> int:
        """Offset of the match in the field's text."""
        return self.explanation.start

    @property
    def end(self) -> int:
        """Offset just after the match in the field's text."""
        return self.explanation.end

    @property
    def matched(self) -> str:
        """The matched words as they appear in the paper."""
        return self.explanation.matched

    @property
    def snippet(self) -> str:
        """The text around the match (see `Explanation.snippet`)."""
        return self.explanation.snippet

    @property
    def snippet_span(self) -> tuple[int, int]:
        """Where the match is in `snippet`."""
        return self.explanation.snippet_span

    @property
    def similarity(self) -> float:
        """1.0 for an exact match, less for a keyword corrected for a typo."""
        return self.explanation.similarity


class _Finder(Protocol):
    """Where a target or a quoted keyword may match, and typo corrections."""

    def singles(self, target: str) -> Sequence[int]: ...
    def starts_of(self, target: str) -> list[tuple[Sequence[int], int]]: ...
    def literal_starts(self, words: Sequence[str]) -> Sequence[int]: ...
    def nearest(self, key: str, bound: int) -> str | None: ...


# A keyword's best match in each paper it matches, by paper number, as
# (-score, paper id, paper number, score, explanation): sorting ranks them.
_Hits = dict[int, tuple[float, int, int, float, Explanation]]


class Matcher:
    """Matches rules and keywords against a fixed set of papers, through an index built once.

    Each distinct keyword is searched once per `Matcher`, however many `match`
    calls ask for it: a delivery matches its subscribers a few at a time, and
    most keywords recur from one batch to the next.
    """

    def __init__(self, papers: Iterable[PaperText]) -> None:
        papers = list(papers)
        with collector_paused():
            index = PaperIndex([Fields(p.title, p.abstract) for p in papers])
            self._facets = {
                facet.kind: facet.index([getattr(p, facet.values) for p in papers])
                for facet in FACETS
            }
        self._trends = day_trends([p.upvotes for p in papers], [p.day for p in papers])
        self._index = index
        self._search = _Search(index, index, papers, self._facets, self._trends)

    @property
    def index(self) -> PaperIndex:
        """The index of the papers, to read (the words of `bot.matching.hints`), never to change."""
        return self._index

    def match(self, rules: Iterable[Rule]) -> list[Match]:
        """Return the best match of each rule in each paper it matches.

        Sorted by rule id, then score (best first), then paper id. Raises
        `InputError` for a keyword or exclusion that is not usable.
        """
        with collector_paused():
            return self._search.match(rules)

    def match_apart(self, rules: Iterable[Rule]) -> list[Match]:
        """Like `match`, but nothing of this call's keywords is kept for later calls.

        For a matcher shared by many callers whose keywords are not worth keeping
        (the web preview's, typed by anyone): memory stays that of the index, and
        concurrent calls share nothing but the index, which they only read.
        """
        with collector_paused():
            return self._search.apart().match(rules)

    def match_keyword(self, keyword: str) -> list[Match]:
        """Return the best match of one keyword in each paper, best first (rule id 0)."""
        return self.match([Rule(0, (keyword,))])


def match_exhaustive(papers: Iterable[PaperText], rules: Iterable[Rule]) -> list[Match]:
    """Apply the same rules as `Matcher.match` without an index: every keyword at every word.

    Slow; the reference that `Matcher` is tested and measured against.
    """
    papers = list(papers)
    with collector_paused():
        table = TokenTable([Fields(paper.title, paper.abstract) for paper in papers])
        facets = {
            facet.kind: facet.scan([getattr(p, facet.values) for p in papers]) for facet in FACETS
        }
        trends = day_trends_exhaustive([p.upvotes for p in papers], [p.day for p in papers])
        return _Search(table, _Scan(table), papers, facets, trends).match(rules)


class _Scan:
    """A `_Finder` that proposes every token and reads every token for corrections."""

    def __init__(self, table: TokenTable) -> None:
        self._table = table

    def singles(self, target: str) -> Sequence[int]:
        return ()

    def starts_of(self, target: str) -> list[tuple[Sequence[int], int]]:
        return [(range(len(self._table)), 0)]

    def literal_starts(self, words: Sequence[str]) -> Sequence[int]:
        return range(len(self._table))

    def nearest(self, key: str, bound: int) -> str | None:
        counts: dict[str, int] = {}
        distances: dict[str, int] = {}
        for other in self._table.keys:
            if other[0] == key[0]:
                distance = OSA.distance(key, other, score_cutoff=bound)
                if distance <= bound:
                    counts[other] = counts.get(other, 0) + 1
                    distances[other] = distance
        if not counts:
            return None
        return min(counts, key=lambda other: (distances[other], -counts[other], other))


class _Search:
    """The searches behind one `Matcher`: each distinct keyword compiled and searched once, kept."""

    def __init__(
        self,
        table: TokenTable,
        finder: _Finder,
        papers: Sequence[PaperText],
        facets: dict[FacetKind, FacetFinder],
        trends: Sequence[Trend | None],
    ) -> None:
        self._table = table
        self._finder = finder
        self._facets = facets
        self._trends = trends
        self._ids = [paper.id for paper in papers]
        self._numbers = {paper_id: number for number, paper_id in enumerate(self._ids)}
        self._start_empty()

    def _start_empty(self) -> None:
        # Each keyword's hits, least recently used first, and how many hits that holds.
        self._hits: OrderedDict[str, _Hits] = OrderedDict()
        self._cached_hits = 0
        self._facet_hits: dict[tuple[FacetKind, str], _Hits] = {}
        self._trending_hits: dict[tuple[int | None, int | None], _Hits] = {}
        self._occurs: dict[str, bool] = {}
        self._corrections: dict[tuple[str, int], str | None] = {}

    def apart(self) -> "_Search":
        """A search of the same papers that keeps nothing of this one's, nor shares what it keeps.

        What is read only (the index, the ids, the facets) is shared: a new search
        over 500 papers took longer than looking up a keyword.
        """
        search = copy.copy(self)
        search._start_empty()
        return search

    def match(self, rules: Iterable[Rule]) -> list[Match]:
        matches: list[Match] = []
        for rule in sorted(rules, key=lambda rule: rule.id):
            rule_id = rule.id
            matches += [
                Match(rule_id, paper_id, score, why)
                for _, paper_id, _, score, why in sorted(self._rule(rule).values())
            ]
        return matches

    def _rule(self, rule: Rule) -> _Hits:
        """The best match of `rule` in each paper: its selectors' best, trending, minus vetoed papers."""
        best: _Hits = {}
        for text in rule.keywords:
            best = _better(best, self._keyword_hits(text))
        for facet in FACETS:
            for term in getattr(rule, facet.include):
                best = _better(best, self._facet_hits_of(facet, term))
        if rule.similar:
            best = _better(best, self._similar_hits(rule.similar))
        if rule.trending:
            if rule.selects:
                trends, low, top = self._trends, rule.min_upvotes, rule.top
                best = {
                    paper: _with_trend(hit, trends[paper])
                    for paper, hit in best.items()
                    if is_trending(trends[paper], low, top)
                }
            else:
                best = self._trending(rule.min_upvotes, rule.top).copy()
        vetoes = [self._keyword_hits(text) for text in rule.exclusions] + [
            self._facet_hits_of(facet, term)
            for facet in FACETS
            for term in getattr(rule, facet.exclude)
        ]
        for hits in vetoes:
            for paper in hits:
                best.pop(paper, None)
        for paper_id in rule.liked + rule.unliked:
            number = self._numbers.get(paper_id)
            if number is not None:
                best.pop(number, None)
        return best

    def _similar_hits(self, similar: Sequence[SimilarPaper]) -> _Hits:
        """The hits of papers found similar to a rule's examples (not kept: they are per rule)."""
        hits: _Hits = {}
        for found in similar:
            number = self._numbers.get(found.paper_id)
            if number is None:
                continue  # similar among papers this matcher was not given
            title = found.example_title
            why = Explanation(
                title, "examples", 0, len(title), found.example_score, title, "similar"
            )
            hits[number] = (-found.score, found.paper_id, number, found.score, why)
        return hits

    def _facet_hits_of(self, facet: Facet, term: str) -> _Hits:
        known = (facet.kind, term)
        hits = self._facet_hits.get(known)
        if hits is None:
            ids = self._ids
            hits = self._facet_hits[known] = {
                paper: (
                    -1.0,
                    ids[paper],
                    paper,
                    1.0,
                    Explanation(term.strip(), facet.values, 0, len(value), 1.0, value, facet.kind),
                )
                for paper, value in self._facets[facet.kind].find(term).items()
            }
        return hits

    def _trending(self, low: int | None, top: int | None) -> _Hits:
        """Every trending paper, for a rule that asks for nothing else."""
        hits = self._trending_hits.get((low, top))
        if hits is None:
            ids = self._ids
            hits = self._trending_hits[(low, top)] = {
                paper: (-1.0, ids[paper], paper, 1.0, Explanation(
                    "", "upvotes", 0, len(trend.describe()), 1.0, trend.describe(), "trending", trend
                ))
                for paper, trend in enumerate(self._trends)
                if trend is not None and is_trending(trend, low, top)
            }  # fmt: skip
        return hits

    def _keyword_hits(self, text: str) -> _Hits:
        """The hits of one keyword, searched once and kept while `KEPT_HITS` allows.

        Thousands of subscribers share keywords, so each is searched once; but
        the hits of every keyword of 10,000 subscribers over 5,000 papers would
        take hundreds of MB, so the least recently used go first.
        """
        hits = self._hits.get(text)
        if hits is not None:
            self._hits.move_to_end(text)
            return hits
        hits = self._hits[text] = self._search(parse_keyword(text))
        self._cached_hits += len(hits) or 1
        while self._cached_hits > KEPT_HITS and len(self._hits) > 1:
            _, dropped = self._hits.popitem(last=False)
            self._cached_hits -= len(dropped) or 1
        return hits

    def _search(self, keyword: Keyword) -> _Hits:
        table, ids = self._table, self._ids
        hits: _Hits = {}
        for target, unsplit, similarity in self._spellings(keyword):
            found = self._find_literal(keyword) if keyword.quoted else self._find(target, unsplit)
            for segment, (first, last) in found.items():
                paper = segment // 2
                score = similarity + 1.0 if segment % 2 == TITLE else similarity
                kept = hits.get(paper)
                if kept is None or -score < kept[0]:
                    why = Explanation(
                        keyword.text,
                        _FIELDS[segment % 2],
                        table.starts[first],
                        table.ends[last],
                        similarity,
                        table.text(segment),
                    )
                    hits[paper] = (-score, ids[paper], paper, score, why)
        return hits

    def _spellings(self, keyword: Keyword) -> list[tuple[str, frozenset[int], float]]:
        """The targets to search for `keyword`: (target, offsets not to cut, similarity), best first.

        Each word is spelt by its key; an inner word also by its fold, so that
        "dense retrieval" finds "denseretrieval"; a word found nowhere also by
        its typo correction, if any.
        """
        if keyword.quoted:
            return [("", frozenset(), 1.0)]
        last = len(keyword.words) - 1
        # Per word: (spelling, the key it stands for, whether the text may cut it).
        choices: list[list[tuple[str, str, bool]]] = []
        for number, word in enumerate(keyword.words):
            whole = _unsplittable(word)
            options = [(word.key, word.key, whole)]
            if number < last and word.fold != word.key:
                options.append((word.fold, word.key, whole))
            correction = self._correction(word)
            if correction is not None:
                options.append((correction, correction, False))
            choices.append(options)
        typed = "".join(word.key for word in keyword.words)
        targets: dict[tuple[str, frozenset[int]], float] = {}
        for combination in islice(product(*choices), MAX_SPELLINGS):
            target = "".join(spelling for spelling, _, _ in combination)
            meant = "".join(key for _, key, _ in combination)
            similarity = 1.0 if meant == typed else OSA.normalized_similarity(typed, meant)
            spelt = (target, _inner_cuts(combination))
            if targets.get(spelt, -1.0) < similarity:
                targets[spelt] = similarity
        ranked = sorted(
            targets.items(), key=lambda item: (-item[1], item[0][0], sorted(item[0][1]))
        )
        return [(target, unsplit, similarity) for (target, unsplit), similarity in ranked]

    def _correction(self, word: Word) -> str | None:
        """The word the user most likely meant, when `word` is found nowhere and may have a typo."""
        bound = typo_bound(word)
        if bound == 0 or self._occurs_anywhere(word.key):
            return None
        known = (word.key, bound)
        if known not in self._corrections:
            self._corrections[known] = self._finder.nearest(word.key, bound)
        return self._corrections[known]

    def _occurs_anywhere(self, target: str) -> bool:
        occurs = self._occurs.get(target)
        if occurs is None:
            occurs = self._occurs[target] = bool(
                self._finder.singles(target) or self._find(target, first_only=True)
            )
        return occurs

    def _find(
        self, target: str, unsplit: frozenset[int] = frozenset(), *, first_only: bool = False
    ) -> dict[int, tuple[int, int]]:
        """The first match of `target` in each segment: segment -> (first token, last token)."""
        segments, keys, walk = self._table.segments, self._table.keys, self._table.walk
        found: dict[int, tuple[int, int]] = {}
        for token in self._finder.singles(target):
            kept = found.get(segments[token])
            if kept is None or kept[0] > token:
                found[segments[token]] = (token, token)
        for group, cut in self._finder.starts_of(target):
            if cut in unsplit:
                continue
            head, tail = target[:cut], target[cut:]
            for token in group:
                kept = found.get(segments[token])
                if kept is not None and kept[0] <= token:
                    continue
                # Two keys spelling the target: what `walk` would find first, sooner.
                if cut and keys[token] == head and keys[token + 1] == tail:
                    last = token + 1
                else:
                    last = walk(target, token, unsplit)
                if last >= 0:
                    found[segments[token]] = (token, last)
                    if first_only:
                        return found
        return found

    def _find_literal(self, keyword: Keyword) -> dict[int, tuple[int, int]]:
        """The first literal match of a quoted keyword in each segment."""
        segments, walk = self._table.segments, self._table.walk_literal
        words = [word.literal for word in keyword.words]
        found: dict[int, tuple[int, int]] = {}
        for token in self._finder.literal_starts(words):
            kept = found.get(segments[token])
            if kept is not None and kept[0] <= token:
                continue
            last = walk(words, keyword.separators, token)
            if last >= 0:
                found[segments[token]] = (token, last)
        return found


def _better(best: _Hits, hits: _Hits) -> _Hits:
    """`best` with `hits` merged in, each paper keeping its better match (a tie keeps `best`'s).

    Never changes `hits` (kept for later rules): the first one merged is copied.
    """
    if not best:
        return hits.copy()
    for paper, hit in hits.items():
        kept = best.get(paper)
        if kept is None or hit[0] < kept[0]:
            best[paper] = hit
    return best


def _with_trend(
    hit: tuple[float, int, int, float, Explanation], trend: Trend | None
) -> tuple[float, int, int, float, Explanation]:
    """A hit whose explanation tells the paper's standing, for a rule that asks for trending."""
    why = hit[4]
    # Built directly: dataclasses.replace costs three times as much, for many hits.
    told = Explanation(
        why.keyword, why.field, why.start, why.end, why.similarity, why.text, why.kind, trend
    )
    return (hit[0], hit[1], hit[2], hit[3], told)


def _unsplittable(word: Word) -> bool:
    """Acronyms and words of three letters or fewer may not be cut by the text ("AI" is not "a-i")."""
    return len(word.key) <= 3 or any(char.isupper() for char in word.text[1:])


def _inner_cuts(combination: Sequence[tuple[str, str, bool]]) -> frozenset[int]:
    """Offsets inside the unsplittable words of a spelling, but for letter/digit seams ("GPT4")."""
    cuts: set[int] = set()
    offset = 0
    for spelling, _, whole in combination:
        if whole:
            cuts.update(
                offset + at
                for at in range(1, len(spelling))
                if spelling[at - 1].isdigit() == spelling[at].isdigit()
            )
        offset += len(spelling)
    return frozenset(cuts)
