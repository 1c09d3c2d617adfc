"""Warnings about keywords that match no stored paper, for the commands that take keywords.

A warning, never a refusal: the keyword is stored or tried as typed (papers
that match it may come later), and the command's exit status is unchanged.
Warnings go to stderr, so `--json` output stays one JSON document.
"""

from collections.abc import Iterable

from sqlalchemy.engine import Engine

from bot.cli.app import err
from bot.matching.engine import Matcher
from bot.matching.hints import KeywordHint, Vocabulary, keyword_hint
from bot.papers import papers_for_matching

HINT_PAPERS = 1_000
"""The newest stored papers that `subscribe` and `subscriptions import` check keywords against.

Indexing is the check's cost, about half a millisecond of CPU and 30 KB per
paper: the whole store of a year would make every `subscribe` take seconds to
minutes, and hundreds of MB, before it says anything. A keyword that matches
none of the newest thousand is worth a second look whatever older papers hold.
"""


class KeywordChecker:
    """Says which keywords match none of the papers it indexed once, for any number of checks.

    `papers` names what was searched, in "matches no <papers>".
    """

    def __init__(self, matcher: Matcher, *, papers: str = "stored paper") -> None:
        self._matcher = matcher
        self._vocabulary = Vocabulary.of_matcher(matcher)
        self.papers = papers
        # An import repeats keywords across thousands of rows: each is looked at once.
        self._hints: dict[str, KeywordHint | None] = {}

    @classmethod
    def of_store(cls, engine: Engine, *, newest: int = HINT_PAPERS) -> "KeywordChecker":
        """A checker of the `newest` papers first seen in `engine`'s store (all when fewer)."""
        texts, _ = papers_for_matching(engine, newest=newest + 1)  # one more: are there more?
        if len(texts) <= newest:
            return cls(Matcher(texts))
        return cls(Matcher(texts[:newest]), papers=f"paper of the {newest:,} newest")

    def warn(self, keywords: Iterable[str], *, whose: str = "") -> int:
        """Print one warning line per keyword matching no paper; how many were printed.

        `whose` ("ana@lab.org, topic 'graphs'") starts each line when given.
        """
        sentences = self.sentences(keywords)
        for sentence in sentences:
            print_warning(sentence, whose)
        return len(sentences)

    def sentences(self, keywords: Iterable[str]) -> list[str]:
        """What to say of those `keywords` that match no paper, in order, each once."""
        hints = (self._hint(keyword) for keyword in dict.fromkeys(keywords))
        return [hint.sentence(self.papers) for hint in hints if hint is not None]

    def _hint(self, keyword: str) -> KeywordHint | None:
        if keyword not in self._hints:
            self._hints[keyword] = keyword_hint(keyword, self._matcher, self._vocabulary)
        return self._hints[keyword]


def print_warning(sentence: str, whose: str = "") -> None:
    """Print `sentence` as one warning line on stderr, starting with `whose` when given."""
    where = f"{whose}: " if whose else ""
    err.print(
        f"paperbot: warning: {where}{sentence}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
