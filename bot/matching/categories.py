"""arXiv categories: when a followed category is among a paper's (pure: no I/O).

A category is an archive and, for most archives, a subject class: "cs.CL",
"stat.ML", "math.OC", "q-bio.NC", "cond-mat.stat-mech"; a few archives have
none ("hep-th", "quant-ph"). Following "cs.*" follows every subject class of
the archive "cs" ("cs.CV", "cs.CL"...), never another archive ("stat.ML").
Case does not count ("cs.cl" is "cs.CL").
"""

import re
from collections.abc import Sequence

from bot.errors import InputError

_CATEGORY = re.compile(r"[a-z]+(?:-[a-z]+)*(?:\.(?:[a-z]+(?:-[a-z]+)*|\*))?", re.IGNORECASE)
MAX_CATEGORY_LENGTH = 40


def check_category(text: str, what: str = "category") -> str:
    """Return a followed category trimmed; raise `InputError` naming it when it is not one."""
    trimmed = text.strip()
    if len(trimmed) > MAX_CATEGORY_LENGTH or not _CATEGORY.fullmatch(trimmed):
        shown = trimmed if len(trimmed) <= MAX_CATEGORY_LENGTH else trimmed[:40] + "…"
        raise InputError(
            f"{what} {shown!r} is not an arXiv category: expected one like 'cs.CL',"
            " 'hep-th' or 'cs.*'"
        )
    return trimmed


def category_key(text: str) -> str:
    """The key of a category as a paper lists it, or of a followed one ("cs.*" stays "cs.*")."""
    return text.strip().casefold()


def archive_of(key: str) -> str:
    """The archive of a category key: "cs" for "cs.cl", "hep-th" for "hep-th"."""
    return key.partition(".")[0]


def is_wildcard(key: str) -> bool:
    """Tell whether a followed category's key stands for a whole archive ("cs.*")."""
    return key.endswith(".*")


def covers(wanted: str, listed: str) -> bool:
    """Tell whether the followed category key `wanted` covers the paper's category key `listed`."""
    if is_wildcard(wanted):
        return "." in listed and archive_of(listed) == archive_of(wanted)
    return wanted == listed


class CategoryIndex:
    """The categories of many papers, by category and by archive (for "cs.*")."""

    def __init__(self, papers: Sequence[Sequence[str]]) -> None:
        self._by_key: dict[str, dict[int, str]] = {}
        for number, listed in enumerate(papers):
            for category in listed:
                key = category_key(category)
                self._by_key.setdefault(key, {}).setdefault(number, category)
                if "." in key:
                    wildcard = archive_of(key) + ".*"
                    self._by_key.setdefault(wildcard, {}).setdefault(number, category)

    def find(self, term: str) -> dict[int, str]:
        """The papers in the category `term`: paper number -> the category as the paper lists it."""
        return dict(self._by_key.get(category_key(check_category(term)), {}))


class CategoryScan:
    """The same answers as `CategoryIndex`, by reading every category: the reference."""

    def __init__(self, papers: Sequence[Sequence[str]]) -> None:
        self._papers = papers

    def find(self, term: str) -> dict[int, str]:
        """The papers in the category `term`: paper number -> the category as the paper lists it."""
        wanted = category_key(check_category(term))
        found: dict[int, str] = {}
        for number, listed in enumerate(self._papers):
            for category in listed:
                if covers(wanted, category_key(category)):
                    found[number] = category
                    break
        return found
