"""The manage page's live preview: which recent papers a form's topics would match (pure: no I/O).

The page hands over the recent papers, indexed once per version of them and
shared (`PreviewIndexCache`), and the topics as they stand in the form (saved or
not); this applies the same matcher and ranking as the digests, and returns the
best few entries with their explanations, ready for a template.
Keywords the matcher cannot use are left out, with a note, instead of failing
the whole preview: the user is still typing, and saving reports them properly.
"""

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any

from bot.digest.model import DigestPaper
from bot.digest.render import PaperView, make_paper_view
from bot.errors import InputError
from bot.matching.engine import Matcher, PaperText, Rule, SimilarPaper
from bot.matching.facets import FACETS
from bot.matching.hints import KeywordHint, Vocabulary, keyword_hints
from bot.matching.keywords import MAX_KEYWORDS, parse_keyword
from bot.matching.ranking import PaperFacts, RankedPaper, rank
from bot.matching.similarity import (
    Candidate,
    SimilarityIndex,
    Topic,
    paper_terms,
    term_statistics,
)
from bot.matching.trending import check_min_upvotes, check_top

PREVIEW_LIMIT = 10
"""At most this many papers are shown."""

MIN_WINDOW_DAYS = 7
"""The preview looks back at least a week, even when `delivery.backlog_days` is shorter."""

MAX_TOPICS = 50
"""Topics previewed at most: a form is free text, and each topic costs matching time."""


@dataclass(frozen=True)
class RecentPaper:
    """What the preview needs of one recently seen paper: what it matches, and what it shows."""

    id: int
    title: str
    abstract: str
    paper_date: date | None = None
    upvotes: int | None = None
    arxiv_id: str | None = None
    url: str | None = None
    first_seen: date | None = None
    authors: tuple[str, ...] = ()
    author_count: int | None = None
    organization: str | None = None
    organization_name: str | None = None
    categories: tuple[str, ...] = ()
    list_day: date | None = None
    hf_url: str | None = None
    pdf_url: str | None = None
    comments: int | None = None
    github_stars: int | None = None
    ai_summary: str | None = None
    code_urls: tuple[str, ...] = ()
    project_urls: tuple[str, ...] = ()

    def digest_paper(self) -> DigestPaper:
        """This paper as digests show it: the preview shows it the same way."""
        return DigestPaper(
            paper_id=self.id,
            title=self.title,
            abstract=self.abstract,
            authors=self.authors,
            author_count=self.author_count,
            organization=self.organization or self.organization_name,
            paper_date=self.paper_date,
            upvotes=self.upvotes,
            code_urls=self.code_urls,
            project_urls=self.project_urls,
            arxiv_id=self.arxiv_id,
            url=self.url,
            pdf_url=self.pdf_url,
            hf_url=self.hf_url,
            comments=self.comments,
            github_stars=self.github_stars,
            ai_summary=self.ai_summary,
        )


@dataclass(frozen=True)
class FormTopic:
    """One topic as the form states it: its name, keyword lists and what else it follows.

    `follows` holds `make_spec`'s arguments of `bot.matching.facets.FOLLOW_FIELDS`
    as the form gives them, unchecked; `problems` what the form could not even
    read (a number that is not one).
    """

    name: str
    keywords: tuple[str, ...]
    exclusions: tuple[str, ...] = ()
    follows: Mapping[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreviewEntry:
    """One matched paper and why, split so a template can highlight the matched text."""

    paper_id: int
    title: str
    link: str | None
    paper: PaperView  # as digests show it: links, authors, counts, summary line
    day: date | None
    topics: tuple[str, ...]  # the best match's topic first
    keyword: str
    field: str  # "title" or "abstract", or what a followed author... was found in
    before: str
    matched: str
    after: str
    close: bool  # True when the keyword was corrected for a typo
    similarity: float = 1.0  # the keyword's, or for "similar" the paper's to the example
    kind: str = "keyword"  # or "author", "organisation", "category", "trending", "similar"
    label: str = ""  # the rule that matched: "author: Y. LeCun", "trending"
    trending: str | None = None  # "trending: 42 upvotes, #3 of the day", beside another rule

    @property
    def topic(self) -> str:
        """The topic whose keyword explains the match."""
        return self.topics[0]


@dataclass(frozen=True)
class Preview:
    """The best entries, how many papers matched in all, and what was left out and why."""

    entries: tuple[PreviewEntry, ...]
    matched: int
    searched: int
    notes: tuple[str, ...] = ()


def window_start(now: datetime, backlog_days: int) -> datetime:
    """The earliest first sighting of a paper the preview considers."""
    return now - timedelta(days=max(backlog_days, MIN_WINDOW_DAYS))


def window_days(backlog_days: int) -> int:
    """How many days back the preview looks, for the page to say so."""
    return max(backlog_days, MIN_WINDOW_DAYS)


class PreviewIndex:
    """Recent papers indexed once for any number of previews, from any number of threads.

    Indexing is the preview's cost (about 0.3 s per 1,000 papers); matching a
    form's keywords against the index then takes milliseconds. The same index
    tells which keywords match no recent paper (`hints`), from the vocabulary of
    its papers, counted on first use.
    """

    def __init__(self, papers: Sequence[RecentPaper]) -> None:
        self.papers = tuple(papers)
        self._matcher = Matcher(
            PaperText(
                p.id, p.title, p.abstract, p.authors, p.organization, p.organization_name,
                p.categories, p.upvotes, p.list_day or p.paper_date,
            )
            for p in self.papers
        )  # fmt: skip
        self._facts = {p.id: PaperFacts(p.upvotes, p.paper_date) for p in self.papers}
        self._by_id = {p.id: p for p in self.papers}
        self._vocabulary: Vocabulary | None = None
        # Each paper's view is prepared once per index, whichever previews show it.
        self._views: dict[int, PaperView] = {}
        self._vocabulary_lock = threading.Lock()
        self._similarity: SimilarityIndex | None = None
        self._similarity_lock = threading.Lock()

    def hints(self, keywords: Iterable[str]) -> list[KeywordHint]:
        """The keywords that match no recent paper, with what they may have meant.

        Only the first `MAX_KEYWORDS` are looked at: anyone can type a form.
        """
        return keyword_hints(islice(keywords, MAX_KEYWORDS), self._matcher, self._words())

    def _view(self, paper_id: int) -> PaperView:
        view = self._views.get(paper_id)
        if view is None:  # two requests may both prepare it: the same view, harmlessly
            view = self._views[paper_id] = make_paper_view(self._by_id[paper_id].digest_paper())
        return view

    def _words(self) -> Vocabulary:
        if self._vocabulary is None:
            with self._vocabulary_lock:
                if self._vocabulary is None:  # not counted by another request meanwhile
                    self._vocabulary = Vocabulary.of_matcher(self._matcher)
        return self._vocabulary

    def _similarities(self) -> SimilarityIndex:
        """The recent papers' similarity index, made on first use (their vectors from their text).

        The words' rarity is counted over the recent papers alone: a visitor's few
        examples would barely move it, and the index is shared by every visitor.
        """
        if self._similarity is None:
            with self._similarity_lock:
                if self._similarity is None:  # not made by another request meanwhile
                    candidates = [
                        Candidate(p.id, paper_terms(p.title, p.abstract)) for p in self.papers
                    ]
                    statistics = term_statistics(c.terms for c in candidates)
                    self._similarity = SimilarityIndex(candidates, statistics)
        return self._similarity

    def _similar(
        self, topics: Sequence[FormTopic], examples: Mapping[str, Topic]
    ) -> dict[int, tuple[Topic, tuple[SimilarPaper, ...]]]:
        """For each form topic (by position) with stored examples: them, and the papers like them."""
        wanted = [
            Topic(number, given.liked, given.unliked, given.level)
            for number, topic in enumerate(topics[:MAX_TOPICS])
            if (given := examples.get(topic.name)) is not None
        ]
        if not wanted or not self.papers:
            return {}
        found: dict[int, list[SimilarPaper]] = {topic.key: [] for topic in wanted}
        for match in self._similarities().score(wanted).matches():
            found[match.topic_key].append(
                SimilarPaper(match.paper_id, match.score, match.example_title, match.example_score)
            )
        return {topic.key: (topic, tuple(found[topic.key])) for topic in wanted}

    def preview(
        self,
        topics: Iterable[FormTopic],
        *,
        limit: int = PREVIEW_LIMIT,
        examples: Mapping[str, Topic] | None = None,
    ) -> Preview:
        """Return the papers the topics would match, best first (at most `limit`), with notes.

        `examples` are the stored example papers of topics by name (with their
        vectors and level): the papers like them are matched too.
        """
        topics = list(topics)
        rules, names, notes = _rules(topics, self._similar(topics, examples or {}))
        searched = len(self.papers)
        if not rules or not searched:
            return Preview((), 0, searched, tuple(notes))
        # Nothing of a form's keywords is kept: anyone can type them.
        ranked = rank(self._matcher.match_apart(rules), self._facts)
        entries = tuple(
            _entry(item, self._by_id[item.paper_id], self._view(item.paper_id), names)
            for item in ranked[:limit]
        )
        return Preview(entries, len(ranked), searched, tuple(notes))


def build_preview(
    papers: Sequence[RecentPaper],
    topics: Iterable[FormTopic],
    *,
    limit: int = PREVIEW_LIMIT,
    examples: Mapping[str, Topic] | None = None,
) -> Preview:
    """Return the papers the topics would match, best first (at most `limit`), with notes."""
    return PreviewIndex(papers).preview(topics, limit=limit, examples=examples)


@dataclass(frozen=True)
class PaperSetVersion:
    """What tells one state of the recent papers from another, read with one cheap query.

    Papers are never deleted and ids only grow, so a paper added changes the
    count and the last id, one leaving the window the count, and one updated
    by an ingest its `updated_at`: equal versions mean the same papers.
    """

    count: int
    last_id: int | None
    last_update: datetime | None


class PreviewIndexCache:
    """The `PreviewIndex` of the latest version of the recent papers, shared by every request.

    Built once per version: the first request to see a new version builds it
    while the others wait for it, then all use it until the version changes
    (another process may ingest: each request reads the version, not an event).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: tuple[PaperSetVersion, PreviewIndex] | None = None
        self.builds = 0  # how many indexes were built, for tests and benchmarks

    def get(
        self, version: PaperSetVersion, load: Callable[[], Sequence[RecentPaper]]
    ) -> PreviewIndex:
        """The index for `version`, built from `load()` if the one kept is of another."""
        latest = self._latest
        if latest is not None and latest[0] == version:
            return latest[1]
        with self._lock:
            latest = self._latest
            if latest is not None and latest[0] == version:
                return latest[1]  # built by another request meanwhile
            # Loaded after `version` was read: the papers are at least that recent, so a
            # later version read triggers a rebuild, never an index older than its label.
            index = PreviewIndex(load())
            self._latest = (version, index)
            self.builds += 1
            return index


def _entry(
    item: RankedPaper, paper: RecentPaper, view: PaperView, names: dict[int, str]
) -> PreviewEntry:
    match = item.best
    start, end = match.snippet_span
    text = match.snippet
    # The best match's topic first, then any other topic that matched the paper too.
    others = tuple(names[rule_id] for rule_id in item.rule_ids if rule_id != match.rule_id)
    return PreviewEntry(
        paper_id=paper.id,
        title=view.title,
        link=view.link,
        paper=view,
        day=paper.paper_date or paper.first_seen,
        topics=(names[match.rule_id], *others),
        keyword=match.keyword,
        field=match.field,
        before=text[:start],
        matched=text[start:end],
        after=text[end:],
        close=match.similarity < 1.0,
        similarity=match.similarity,
        kind=match.explanation.kind,
        label=match.explanation.rule,
        trending=None if match.explanation.kind == "trending" else match.explanation.trending,
    )


def _rules(
    topics: Iterable[FormTopic], similar: Mapping[int, tuple[Topic, tuple[SimilarPaper, ...]]]
) -> tuple[list[Rule], dict[int, str], list[str]]:
    """The matcher's rules for the usable part of each topic, their names, and notes.

    `similar` holds, by topic position, the topic's examples and the papers like them.
    """
    rules: list[Rule] = []
    names: dict[int, str] = {}
    notes: list[str] = []
    for number, topic in enumerate(topics):
        if number == MAX_TOPICS:
            notes.append(f"only the first {MAX_TOPICS} topics are previewed")
            break
        keywords = _usable(topic.keywords, "keyword", topic.name, notes)
        exclusions = _usable(topic.exclusions, "exclusion", topic.name, notes)
        notes += [
            f"topic {topic.name!r}: {problem}; left out of the preview"
            for problem in topic.problems
        ]
        given, like_them = similar.get(number, (None, ()))
        rule = Rule(
            number, keywords, exclusions, **_usable_follows(topic, notes),
            liked=tuple(e.paper_id for e in given.liked) if given else (),
            unliked=tuple(e.paper_id for e in given.unliked) if given else (),
            similar=like_them,
        )  # fmt: skip
        if rule.selects or rule.trending:
            rules.append(rule)
            names[number] = topic.name
    return rules, names, notes


def _usable_follows(topic: FormTopic, notes: list[str]) -> dict[str, Any]:
    """The follows the matcher accepts (the first 100 of each list); a note for each one left out."""
    usable: dict[str, Any] = {}
    for facet in FACETS:
        for name, what, plural in (
            (facet.include, facet.kind, facet.plural),
            (facet.exclude, f"excluded {facet.kind}", f"excluded {facet.plural}"),
        ):
            given = tuple(topic.follows.get(name) or ())
            if len(given) > MAX_KEYWORDS:
                notes.append(
                    f"topic {topic.name!r}: only the first {MAX_KEYWORDS} {plural} are previewed"
                )
            kept = []
            for text in given[:MAX_KEYWORDS]:
                try:
                    kept.append(facet.check(text, what))
                except InputError as exc:
                    notes.append(f"topic {topic.name!r}: {exc}; left out of the preview")
            usable[name] = tuple(kept)
    for name, check in (("min_upvotes", check_min_upvotes), ("top", check_top)):
        try:
            usable[name] = check(topic.follows.get(name))
        except InputError as exc:
            notes.append(f"topic {topic.name!r}: {exc}; left out of the preview")
            usable[name] = None
    return usable


def _usable(texts: Sequence[str], what: str, topic: str, notes: list[str]) -> tuple[str, ...]:
    """The keywords the matcher accepts (the first 100); a note for each one left out."""
    if len(texts) > MAX_KEYWORDS:
        notes.append(f"topic {topic!r}: only the first {MAX_KEYWORDS} {what}s are previewed")
    kept = []
    for text in texts[:MAX_KEYWORDS]:
        try:
            parse_keyword(text, what=what)
        except InputError as exc:
            notes.append(f"topic {topic!r}: {exc}; left out of the preview")
            continue
        kept.append(text)
    return tuple(kept)
