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


class KeywordChecker:
    """Says which keywords match none of the stored papers, indexed once for any number of checks."""

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self._vocabulary = Vocabulary.of_matcher(matcher)
        # An import repeats keywords across thousands of rows: each is looked at once.
        self._hints: dict[str, KeywordHint | None] = {}

    @classmethod
    def of_store(cls, engine: Engine) -> "KeywordChecker":
        """A checker of every paper stored in `engine`'s database."""
        texts, _ = papers_for_matching(engine)
        return cls(Matcher(texts))

    def warn(self, keywords: Iterable[str], *, whose: str = "") -> int:
        """Print one warning line per keyword matching no stored paper; how many were printed.

        `whose` ("ana@lab.org, topic 'graphs'") starts each line when given.
        """
        hints = self.hints(keywords)
        for hint in hints:
            print_hint(hint, whose)
        return len(hints)

    def hints(self, keywords: Iterable[str]) -> list[KeywordHint]:
        """The hints of those `keywords` that match no stored paper, in order, each once."""
        return [hint for k in dict.fromkeys(keywords) if (hint := self._hint(k)) is not None]

    def _hint(self, keyword: str) -> KeywordHint | None:
        if keyword not in self._hints:
            self._hints[keyword] = keyword_hint(keyword, self._matcher, self._vocabulary)
        return self._hints[keyword]


def print_hint(hint: KeywordHint, whose: str = "") -> None:
    """Print `hint` as one warning line on stderr, starting with `whose` when given."""
    where = f"{whose}: " if whose else ""
    err.print(
        f"paperbot: warning: {where}{hint.sentence()}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
