"""Organisations: when a followed organisation is a paper's (pure: no I/O).

A paper from Hugging Face's daily list names its organisation twice: the Hub's
short name ("stabilityai") and the full one ("Stability AI"). A followed
organisation matches a paper when its key equals the key of either. The key
keeps letters and digits only, case and accents folded, so "Stability AI",
"stability-ai" and "stabilityai" are one organisation, and "Université de
Montréal" is "universite de montreal". Names are compared whole: "Google" is
not "Google DeepMind".
"""

import re
from collections.abc import Sequence

from bot.errors import InputError
from bot.matching.text import forms

MAX_ORGANISATION_LENGTH = 200
_ALNUM = re.compile(r"[^\W_]+")


def organisation_key(text: str) -> str:
    """The key under which two spellings of one organisation's name are equal ("" for none)."""
    return "".join(forms(piece).fold for piece in _ALNUM.findall(text))


def check_organisation(text: str, what: str = "organisation") -> str:
    """Return a followed organisation trimmed; raise `InputError` naming it when not usable."""
    trimmed = text.strip()
    if len(trimmed) > MAX_ORGANISATION_LENGTH:
        raise InputError(
            f"{what} {trimmed[:40] + '…'!r} is too long: {len(trimmed)} characters"
            f" (at most {MAX_ORGANISATION_LENGTH})"
        )
    if not organisation_key(trimmed):
        raise InputError(f"{what} {trimmed!r} has no letters or digits")
    return trimmed


class OrganisationIndex:
    """The organisations of many papers by key."""

    def __init__(self, papers: Sequence[Sequence[str]]) -> None:
        self._by_key: dict[str, dict[int, str]] = {}
        for number, names in enumerate(papers):
            for name in names:
                self._by_key.setdefault(organisation_key(name), {}).setdefault(number, name)

    def find(self, term: str) -> dict[int, str]:
        """The papers of the organisation `term`: paper number -> its name as the paper gives it."""
        return dict(self._by_key.get(organisation_key(check_organisation(term)), {}))


class OrganisationScan:
    """The same answers as `OrganisationIndex`, by comparing every name: the reference."""

    def __init__(self, papers: Sequence[Sequence[str]]) -> None:
        self._papers = papers

    def find(self, term: str) -> dict[int, str]:
        """The papers of the organisation `term`: paper number -> its name as the paper gives it."""
        key = organisation_key(check_organisation(term))
        found: dict[int, str] = {}
        for number, names in enumerate(self._papers):
            for name in names:
                if organisation_key(name) == key:
                    found[number] = name
                    break
        return found
