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


def _canonical(arxiv_id: str) -> str:
    # Old-style archive names are lower case; the subject class (math.GT) keeps its case.
    if "/" in arxiv_id:
        archive, number = arxiv_id.split("/", 1)
        name, _, subject = archive.partition(".")
        return f"{name.lower()}{'.' + subject.upper() if subject else ''}/{number}"
    return arxiv_id
