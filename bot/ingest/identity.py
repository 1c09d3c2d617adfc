"""What makes one paper one row: normalised titles and canonical arXiv ids."""

import re
import unicodedata

_NOT_ALNUM = re.compile(r"[\W_]+")
# New-style ids (2409.01234, 0704.0001) and old-style ones (hep-th/9901001,
# math.GT/0309136), each with an optional version suffix.
_ARXIV_ID = re.compile(
    r"(?<![\w.])(?:arxiv:\s*)?"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})"
    r"(?:v\d+)?(?![\w])",
    re.IGNORECASE,
)
_ARXIV_URL = re.compile(
    r"arxiv\.org/(?:abs|pdf|html)/(?P<id>\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})",
    re.IGNORECASE,
)


def title_key(title: str) -> str:
    """Return the key under which two spellings of one title are the same.

    Accents, case, spacing and punctuation are dropped, so "FRESA:Feedforward"
    and "FRESA: Feed-forward" share a key; letters and digits of any script stay.
    """
    if not title.isascii():
        title = unicodedata.normalize("NFKD", title)
    # Combining accents are not word characters, so they go with the punctuation.
    return _NOT_ALNUM.sub("", title.casefold())


def arxiv_id_from_url(url: str) -> str | None:
    """Return the version-less arXiv id in an arxiv.org abs/pdf/html URL, if any."""
    found = _ARXIV_URL.search(url)
    return _canonical(found.group("id")) if found else None


def arxiv_id_from_text(text: str) -> str | None:
    """Return the version-less arXiv id in `text` such as "arXiv:2409.01234v1", if any."""
    found = _ARXIV_URL.search(text) or _ARXIV_ID.search(text)
    return _canonical(found.group("id")) if found else None


def arxiv_id_alone(text: str) -> str | None:
    """Return the version-less arXiv id when `text` is one and nothing else ("arXiv:2409.01234v1").

    A text that merely holds an id ("GPT-4 and 2401.01234 others") gives None.
    """
    found = _ARXIV_ID.fullmatch(text.strip())
    return _canonical(found.group("id")) if found else None


def _canonical(arxiv_id: str) -> str:
    # Old-style archive names are lower case; the subject class (math.GT) keeps its case.
    if "/" in arxiv_id:
        archive, number = arxiv_id.split("/", 1)
        name, _, subject = archive.partition(".")
        return f"{name.lower()}{'.' + subject.upper() if subject else ''}/{number}"
    return arxiv_id


# "10.1038/s41586-024-01234-5", bare, as "doi:10..." or inside a doi.org link.
_DOI = re.compile(r"(?<![\w.])(?:doi:\s*)?(?P<doi>10\.\d{4,9}/[^\s\"'<>]+)", re.IGNORECASE)
_DOI_TRAILING = ".,;:)]}"


def doi_from_text(text: str) -> str | None:
    """Return the DOI in `text` ("doi:10.1000/x1", "https://doi.org/10.1000/x1"), lower-cased.

    DOIs are case-insensitive, so lower case makes one spelling of each.
    """
    found = _DOI.search(text)
    if found is None:
        return None
    return found.group("doi").rstrip(_DOI_TRAILING).casefold()


def entry_key(feed: str, entry: str) -> str | None:
    """Return the key of the entry `entry` (its guid, else its link) within the feed `feed`.

    An entry's guid is unique only within its feed, so the key holds both,
    `feed` being the feed's own link or id (as its documents state it, so a
    saved copy of the feed has the same keys): "<feed> <entry>".
    """
    entry = entry.strip()
    if not entry:
        return None
    return f"{'_'.join(feed.split())} {entry}"


def entry_feed(key: str) -> str:
    """Return the feed part of a key made by `entry_key`."""
    return key.partition(" ")[0]
