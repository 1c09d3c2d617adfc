"""How a reader names a paper they give as an example (pure: no I/O).

A paper is named by its arXiv id ("2401.01234", "arXiv:2401.01234v2",
"hep-th/9901001"), by a link to it on arXiv or Hugging Face, or by its exact
title. `parse_paper_reference` tells which; `bot.subscriptions.examples` looks
it up in the store.
"""

import re
from dataclasses import dataclass

from bot.errors import InputError
from bot.ingest.identity import arxiv_id_alone, arxiv_id_from_url

MAX_REFERENCE = 500

_HF_PAPER_URL = re.compile(
    r"(?:https?://)?(?:www\.)?huggingface\.co/papers/(?P<id>\d{4}\.\d{4,5})(?:v\d+)?(?:[/?#].*)?",
    re.IGNORECASE,
)
_ARXIV_URL = re.compile(r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/\S+", re.IGNORECASE)


@dataclass(frozen=True)
class PaperReference:
    """A paper as a reader named it: by arXiv id, or else by title (exactly one is set)."""

    text: str
    arxiv_id: str | None = None
    title: str | None = None

    def __str__(self) -> str:
        return self.text


def parse_paper_reference(text: str) -> PaperReference:
    """Tell whether `text` names a paper by arXiv id, arXiv/Hugging Face link, or title.

    Raises `InputError` for an empty or over-long text, or a link to arXiv or
    Hugging Face that names no paper. Characters no field may hold are the
    caller's to refuse first (`bot.subscriptions.spec.check_paper`).
    """
    given = text.strip()
    if not given:
        raise InputError("a paper cannot be empty: give its arXiv id, a link to it or its title")
    if len(given) > MAX_REFERENCE:
        raise InputError(f"paper too long: {len(given)} characters (at most {MAX_REFERENCE})")
    arxiv_id = arxiv_id_alone(given)
    if arxiv_id is not None:
        return PaperReference(given, arxiv_id=arxiv_id)
    hub = _HF_PAPER_URL.fullmatch(given)
    if hub:
        return PaperReference(given, arxiv_id=hub.group("id"))
    if _ARXIV_URL.fullmatch(given):
        arxiv_id = arxiv_id_from_url(given)
        if arxiv_id is None:
            raise InputError(f"paper {given!r}: this arXiv link names no paper (use its abs page)")
        return PaperReference(given, arxiv_id=arxiv_id)
    if re.match(r"(?:https?://)?(?:www\.)?huggingface\.co/", given, re.IGNORECASE):
        raise InputError(
            f"paper {given!r}: this Hugging Face link names no paper (use huggingface.co/papers/ID)"
        )
    return PaperReference(given, title=given)
