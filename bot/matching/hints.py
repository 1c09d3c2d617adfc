"""Keywords that match nothing, and what the user may have meant (pure: no I/O).

A keyword with a typo the matcher does not forgive (a word under six letters,
or one too far from any stored word) quietly matches nothing, and its topic
runs on its other keywords. This module says so, and suggests whole corrected
keywords built from the words of the stored papers:

    "grpah neural networks" -> matches no paper; did you mean "graph neural networks"?

A word of a keyword is *unknown* when its key (see `bot.matching.text`) is the
key of no stored word. Each unknown word gets up to 3 replacements, the
closest stored words by edit distance (a farther word is never offered beside
a closer one; among equally close words the more frequent come first), each
spelt as it is most often written in the papers and closest to what was typed.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.errors import InputError
from bot.matching.engine import Matcher, Rule
from bot.matching.keywords import parse_keyword
from bot.matching.text import Token, forms, tokenise

MAX_SUGGESTIONS = 3
"""Replacements offered per unknown word, at most."""

# Words this short have too many neighbours one edit away to suggest any of them.
_SHORTEST_SUGGESTED = 3


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The stored words: each key, how often it occurs, and how it is written (most often first)."""

    frequency: dict[str, int]
    spellings: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, keys: Sequence[str], literals: Sequence[str]) -> "Vocabulary":
        """The vocabulary of the tokens whose keys and literal forms are `keys` and `literals`."""
        pairs = Counter(zip(keys, literals, strict=True))
        frequency: Counter[str] = Counter()
        written: dict[str, list[tuple[int, str]]] = {}
        for (key, literal), count in pairs.items():
            frequency[key] += count
            written.setdefault(key, []).append((-count, literal))
        spellings = {key: tuple(literal for _, literal in sorted(w)) for key, w in written.items()}
        return cls(dict(frequency), spellings)

    @classmethod
    def of_matcher(cls, matcher: Matcher) -> "Vocabulary":
        """The vocabulary of the papers `matcher` searches."""
        index = matcher.index
        return cls.of(index.keys, index.literals)

    def __contains__(self, key: object) -> bool:
        return key in self.frequency

    def __len__(self) -> int:
        return len(self.frequency)

    def nearest(self, key: str) -> list[str]:
        """Up to 3 stored keys closest to `key` (none for short keys), best first.

        Within 1 edit for keys of up to 4 letters, 2 beyond; only those at the
        smallest distance found; ties go to the more frequent, then the first
        alphabetically.
        """
        if len(key) < _SHORTEST_SUGGESTED:
            return []
        bound = 1 if len(key) <= 4 else 2
        found = process.extract(
            key, self.frequency.keys(), scorer=OSA.distance, score_cutoff=bound, limit=None
        )
        if not found:
            return []
        closest = min(distance for _, distance, _ in found)
        ranked = sorted(
            (str(other) for other, distance, _ in found if distance == closest),
            key=lambda other: (-self.frequency[other], other),
        )
        return ranked[:MAX_SUGGESTIONS]

    def spelling(self, key: str, typed: str) -> str:
        """How to write stored `key` in place of the word `typed`: the written form closest to it."""
        literal = forms(typed).literal
        written = self.spellings[key]  # most frequent first: `min` keeps the first of ties
        best = min(written, key=lambda form: OSA.distance(literal, form))
        return _cased_like(typed, best)


@dataclass(frozen=True, slots=True)
class KeywordHint:
    """A keyword that matches no paper: its words found in none, and keywords it may have meant."""

    keyword: str
    unknown: tuple[str, ...]
    suggestions: tuple[str, ...]

    def sentence(self, papers: str = "stored paper") -> str:
        """One line saying so: "keyword 'x' matches no stored paper; did you mean 'y'?"."""
        text = f"keyword {self.keyword!r} matches no {papers}"
        if self.suggestions:
            return f"{text}; did you mean {_alternatives(self.suggestions)}?"
        if self.unknown:
            words = _alternatives(self.unknown, "and")
            return f"{text} ({words} {'is' if len(self.unknown) == 1 else 'are'} in none)"
        return text


def suggest(keyword: str, vocabulary: Vocabulary) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The unknown words of `keyword` as typed, and whole keywords with them corrected.

    Each unknown word's replacements come with every other unknown word
    replaced by its best one, so each suggestion is a keyword to try as it is;
    up to 3 suggestions per unknown word, best first. Raises `InputError` for
    a keyword that is not usable.
    """
    checked = parse_keyword(keyword)
    tokens = tokenise(checked.text)  # quotes are no word characters: the same words
    unknown: list[int] = []
    options: dict[int, list[str]] = {}
    for number, word in enumerate(checked.words):
        if word.key in vocabulary:
            continue
        unknown.append(number)
        if nearest := vocabulary.nearest(word.key):
            options[number] = [vocabulary.spelling(key, word.text) for key in nearest]
    best = {number: spellings[0] for number, spellings in options.items()}
    suggestions: dict[str, None] = {}  # ordered, without repeats
    for number, spellings in options.items():
        for spelling in spellings:
            suggestions[_replaced(checked.text, tokens, best | {number: spelling})] = None
    return tuple(checked.words[n].text for n in unknown), tuple(suggestions)


def keyword_hint(keyword: str, matcher: Matcher, vocabulary: Vocabulary) -> KeywordHint | None:
    """A hint for `keyword` when it matches none of `matcher`'s papers, else None.

    None too when there are no papers (nothing to compare with) and for a
    keyword that is not usable (the caller's validation reports it).
    """
    if not len(vocabulary):
        return None
    try:
        if matcher.match_apart([Rule(0, (keyword,))]):
            return None
        unknown, suggestions = suggest(keyword, vocabulary)
    except InputError:
        return None
    return KeywordHint(keyword.strip(), unknown, suggestions)


def keyword_hints(
    keywords: Iterable[str], matcher: Matcher, vocabulary: Vocabulary
) -> list[KeywordHint]:
    """The hints of those `keywords` that match no paper, in order, each keyword once."""
    hints = (keyword_hint(keyword, matcher, vocabulary) for keyword in dict.fromkeys(keywords))
    return [hint for hint in hints if hint is not None]


def _replaced(text: str, tokens: Sequence[Token], words: dict[int, str]) -> str:
    """`text` with the words numbered in `words` replaced, everything between them kept."""
    pieces: list[str] = []
    at = 0
    for number in sorted(words):
        token = tokens[number]
        pieces += [text[at : token.start], words[number]]
        at = token.end
    return "".join(pieces) + text[at:]


def _cased_like(typed: str, word: str) -> str:
    if typed.isupper() and len(typed) > 1:
        return word.upper()
    if typed[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _alternatives(texts: Sequence[str], last: str = "or") -> str:
    quoted = [repr(text) for text in texts]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} {last} {quoted[-1]}"
