"""Warnings about keywords that match no stored paper, for the commands that take keywords.

A warning, never a refusal: the keyword is stored or tried as typed (papers
that match it may come later), and the command's exit status is unchanged.
Warnings go to stderr, so `--json` output stays one JSON document.
"""

from collections.abc import Iterable

from sqlalchemy.engine import Engine

from bot.cli.app import err
from bot.matching.engine import Matcher
from bot.matching.hints import Vocabulary, keyword_hints
from bot.papers import papers_for_matching


class KeywordChecker:
    """Says which keywords match none of the stored papers, indexed once for any number of checks."""

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self._vocabulary = Vocabulary.of_matcher(matcher)

    @classmethod
    def of_store(cls, engine: Engine) -> "KeywordChecker":
        """A checker of every paper stored in `engine`'s database."""
        texts, _ = papers_for_matching(engine)
        return cls(Matcher(texts))

    def warn(self, keywords: Iterable[str], *, whose: str = "") -> int:
        """Print one warning line per keyword matching no stored paper; how many were printed.

        `whose` ("ana@lab.org, topic 'graphs'") starts each line when given.
        """
        hints = keyword_hints(keywords, self._matcher, self._vocabulary)
        for hint in hints:
            where = f"{whose}: " if whose else ""
            err.print(
                f"paperbot: warning: {where}{hint.sentence()}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        return len(hints)
