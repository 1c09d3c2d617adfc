"""Authors' names: when a name a user follows and a name on a paper are one person (pure).

A name is split into a surname and given names:

- "LeCun, Yann" (with a comma): the surname comes first, the given names after it;
- "Yann LeCun" (without one): the last word is the surname, as arXiv and Hugging
  Face print names. "Li Yang" is therefore given name Li, surname Yang, and is not
  "Yang Li": the order is never guessed. Lower-case particles before the last word
  belong to the surname ("Laurens van der Maaten", "Yann Le Cun" is "Le Cun").

Case and accents do not count ("Jürgen" is "Jurgen"), and neither do hyphens,
spaces and apostrophes inside a surname ("García-Pérez" is "Garcia Perez, M.");
a hyphenated surname is one surname, matched whole ("García" is not
"García-Pérez"), and a name without a comma takes only its last word, with its
particles, as the surname ("María García Pérez" has the surname "Pérez"). Surnames must be equal. Given names must agree as far as both
names have them, an initial agreeing with any name it begins: "Y. LeCun",
"Yann LeCun", "LeCun, Yann" and "Yann André LeCun" are one person, "Y. B. LeCun"
and "Yann André LeCun" are not. A name typed as a surname alone ("LeCun")
follows everyone of that surname.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.errors import InputError
from bot.matching.text import forms

MAX_NAME_LENGTH = 200
# Words that begin a surname when they come before its last word, in lower case or
# capitalised ("van der Maaten", "Le Cun", "De Sa"), when a given name comes before them.
_PARTICLES = frozenset(
    ("al", "bin", "da", "das", "de", "del", "della", "der", "di", "dos", "du", "el", "la",
     "le", "st", "ten", "ter", "van", "von", "zu")
)  # fmt: skip
# The pieces of a name: a run of letters (with apostrophes inside: "O'Brien"),
# each followed by an optional full stop (an initial: "Y.").
_PIECE = re.compile("[^\\W\\d_](?:[^\\W\\d_]|['\u2019])*\\.?")
_HYPHEN = re.compile("[-\u2010\u2011\u2013]")


@dataclass(frozen=True, slots=True)
class PersonName:
    """A name split for comparison: its surname's key and its given names, folded.

    `given` holds each given name folded ("yann"), or its initial alone ("y") when
    the name gave only an initial; `initials` tells which are initials.
    """

    surname: str
    given: tuple[str, ...]
    initials: tuple[bool, ...]


def parse_name(text: str, *, what: str = "author") -> PersonName:
    """Split a name typed by a user; raise `InputError` naming it when it is not usable."""
    trimmed = text.strip()
    if len(trimmed) > MAX_NAME_LENGTH:
        raise InputError(
            f"{what} {trimmed[:40] + '…'!r} is too long: {len(trimmed)} characters"
            f" (at most {MAX_NAME_LENGTH})"
        )
    name = name_of(trimmed)
    if name is None:
        raise InputError(f"{what} {trimmed!r} has no name in it: expected a name like 'Y. LeCun'")
    return name


def check_author(text: str, what: str = "author") -> str:
    """Return a followed name trimmed; raise `InputError` naming it when it is not usable."""
    parse_name(text, what=what)
    return text.strip()


@lru_cache(maxsize=1 << 16)
def name_of(text: str) -> PersonName | None:
    """Split a name as it appears on a paper, or None when it holds no letters."""
    surname_part, comma, given_part = text.partition(",")
    if comma and given_part.strip():
        surname_words = _words(surname_part)
        given_words = _words(given_part)
        # "Maaten, Laurens van der": particles after the given names begin the surname.
        while given_words and given_words[-1].casefold() in _PARTICLES:
            surname_words.insert(0, given_words.pop())
        if not surname_words:
            return None
    else:
        words = _words(surname_part if comma else text)
        if not words:
            return None
        cut = len(words) - 1
        while cut > 1 and words[cut - 1].rstrip(".").casefold() in _PARTICLES:
            cut -= 1
        surname_words, given_words = words[cut:], words[:cut]
    surname = "".join(_fold(word) for word in surname_words)
    given: list[str] = []
    initials: list[bool] = []
    for word in given_words:
        # "J.-B." or "Jean-Baptiste": each part of a hyphenated given name counts alone.
        for part in _HYPHEN.split(word):
            folded = _fold(part)
            if not folded:
                continue
            initial = part.endswith(".") or len(folded) == 1
            given.append(folded[0] if initial else folded)
            initials.append(initial)
    return PersonName(surname, tuple(given), tuple(initials))


def same_person(wanted: PersonName, found: PersonName) -> bool:
    """Tell whether a followed name and a paper's author name are one person (see the module)."""
    if wanted.surname != found.surname:
        return False
    for mine, mine_initial, theirs, their_initial in zip(
        wanted.given, wanted.initials, found.given, found.initials, strict=False
    ):
        if mine_initial or their_initial:
            if mine[0] != theirs[0]:
                return False
        elif mine != theirs:
            return False
    return True


# A listed author: paper number, place in the paper's list, name, name as listed.
_Entry = tuple[int, int, PersonName, str]


class AuthorIndex:
    """The authors of many papers by surname: a followed name is compared with its namesakes only."""

    def __init__(self, papers: Sequence[Sequence[str]]) -> None:
        # By surname, and by surname and first initial ("" without given names):
        # a common surname has many namesakes, and most differ by their initial.
        self._by_surname: dict[str, list[_Entry]] = {}
        self._by_initial: dict[tuple[str, str], list[_Entry]] = {}
        for number, authors in enumerate(papers):
            for position, author in enumerate(authors):
                name = name_of(author)
                if name is not None:
                    entry = (number, position, name, author)
                    self._by_surname.setdefault(name.surname, []).append(entry)
                    initial = name.given[0][0] if name.given else ""
                    self._by_initial.setdefault((name.surname, initial), []).append(entry)

    def find(self, term: str) -> dict[int, str]:
        """The papers with an author who is `term`: paper number -> that author as listed."""
        wanted = parse_name(term)
        if wanted.given:
            initial = wanted.given[0][0]
            # Namesakes with that initial, and those listed without given names, in
            # the order of the papers (the first author of a paper who is `term` counts).
            candidates = sorted(
                self._by_initial.get((wanted.surname, initial), [])
                + self._by_initial.get((wanted.surname, ""), []),
                key=lambda entry: (entry[0], entry[1]),
            )
        else:
            candidates = self._by_surname.get(wanted.surname, [])
        found: dict[int, str] = {}
        for number, _, name, author in candidates:
            if number not in found and same_person(wanted, name):
                found[number] = author
        return found


class AuthorScan:
    """The same answers as `AuthorIndex`, by comparing every author of every paper: the reference."""

    def __init__(self, papers: Sequence[Sequence[str]]) -> None:
        self._papers = papers

    def find(self, term: str) -> dict[int, str]:
        """The papers with an author who is `term`: paper number -> that author as listed."""
        wanted = parse_name(term)
        found: dict[int, str] = {}
        for number, authors in enumerate(self._papers):
            for author in authors:
                name = name_of(author)
                if name is not None and same_person(wanted, name):
                    found[number] = author
                    break
        return found


def _words(text: str) -> list[str]:
    words: list[str] = []
    for chunk in text.split():
        pieces = [piece.group() for piece in _PIECE.finditer(chunk)]
        # "J.-B." is one given name of two initials; "Y.A." two initials.
        if len(pieces) > 1 and all(piece.endswith(".") for piece in pieces):
            words += pieces
        elif pieces:
            words.append(chunk.strip(",;()"))
    return words


def _fold(word: str) -> str:
    return "".join(piece for piece in _LETTERS.findall(forms(word).fold))


_LETTERS = re.compile(r"[^\W\d_]+")
