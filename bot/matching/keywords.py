"""Keywords as users type them, checked and split into comparable words (pure: no I/O)."""

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from bot.errors import InputError
from bot.matching.text import forms, separator, tokenise

MAX_KEYWORD_LENGTH = 200
MAX_KEYWORDS = 100
# Words shorter than this are never corrected: among short words one typo away
# from each other, too many are real, different words ("modal" and "model").
FUZZY_MIN_LENGTH = 6
_QUOTES = '"“”„'


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a keyword: as typed, its forms (see `bot.matching.text`) and whether it is exact.

    An exact word is never corrected for typos: it is quoted, short (under 6
    letters as typed), holds a digit, or has a capital after its first letter
    (an acronym or a name: "GAN", "LoRA", "BERT").
    """

    text: str
    literal: str
    fold: str
    key: str
    exact: bool


@dataclass(frozen=True, slots=True)
class Keyword:
    """A checked keyword: the text as typed (trimmed), whether it was quoted, its words.

    `separators` holds what separates consecutive words, by kind (see
    `bot.matching.text.separator`); only quoted keywords compare them.
    """

    text: str
    quoted: bool
    words: tuple[Word, ...]
    separators: tuple[str, ...]

    @property
    def exact(self) -> bool:
        """True when no word of the keyword may be corrected for typos."""
        return self.quoted or all(word.exact for word in self.words)


def parse_keyword(text: str, *, what: str = "keyword") -> Keyword:
    """Check and split one keyword; raise `InputError` naming it when it is not usable.

    A keyword is refused when it is empty, longer than 200 characters, or has no
    letter or digit. One in double quotes is matched exactly as typed. `what`
    names it in messages ("exclusion 'xxx…' is too long...").
    """
    trimmed = text.strip()
    if not trimmed:
        raise InputError(f"{what} {text!r} is empty")
    if len(trimmed) > MAX_KEYWORD_LENGTH:
        raise InputError(
            f"{what} {trimmed[:40] + '…'!r} is too long: {len(trimmed)} characters"
            f" (at most {MAX_KEYWORD_LENGTH})"
        )
    keyword = _split(trimmed)
    if keyword is None:
        raise InputError(f"{what} {trimmed!r} has no letters or digits")
    return keyword


# Files of many subscribers repeat their keywords (a 10,000-row import has about
# 12,000 different ones among 32,000), and a keyword is immutable: split each once.
@lru_cache(maxsize=1 << 14)
def _split(trimmed: str) -> Keyword | None:
    quoted = len(trimmed) >= 2 and trimmed[0] in _QUOTES and trimmed[-1] in _QUOTES
    inside = trimmed[1:-1] if quoted else trimmed
    tokens = tokenise(inside)
    if not tokens:
        return None
    return Keyword(
        trimmed,
        quoted,
        tuple(_word(token.text, quoted) for token in tokens),
        tuple(separator(inside[a.end : b.start]) for a, b in pairwise(tokens)),
    )


def validate_keywords(texts: Iterable[str], *, what: str = "keyword") -> list[Keyword]:
    """Check a list of keywords; raise `InputError` naming the first bad one, or if over 100."""
    texts = list(texts)
    if len(texts) > MAX_KEYWORDS:
        raise InputError(f"too many {what}s: {len(texts)} (at most {MAX_KEYWORDS})")
    return [parse_keyword(text, what=what) for text in texts]


def typo_bound(word: Word) -> int:
    """How many edits (insertions, deletions, substitutions, swaps of neighbours) `word` may have.

    0 for exact words (short ones included), 1 for words of 6 to 8 letters, 2 beyond,
    counted as typed: a plural ending is part of what the user typed, so "modles"
    (6 letters, whose key "modle" has 5) may have its one slip.
    """
    if word.exact:
        return 0
    return 1 if len(word.fold) <= 8 else 2


# A new keyword is mostly words seen in others ("learning", "model"): each made once.
@lru_cache(maxsize=1 << 14)
def _word(text: str, quoted: bool) -> Word:
    found = forms(text)
    exact = (
        quoted
        or len(found.fold) < FUZZY_MIN_LENGTH
        or any(char.isdigit() for char in text)
        or any(char.isupper() for char in text[1:])
    )
    return Word(text, found.literal, found.fold, found.key, exact)
