"""Reading Hugging Face's daily papers list (`/api/daily_papers?date=...`) into parsed papers.

Pure: bytes in, records out. The list is a JSON array, empty on days without
one, of objects whose `paper` holds the paper (`id`, the arXiv id; `title`;
`summary`; `authors` as `[{"name", "hidden"}]`; `publishedAt`;
`submittedOnDailyAt`, the list's day; `upvotes`; and when present
`githubRepo`, `githubStars`, `projectPage`, `organization` as `{"name",
"fullname"}`, `ai_summary`, `ai_keywords`), beside `numComments`,
`thumbnail` and `submittedBy`. Fields missing or of another type are
skipped, and fields not named here are ignored; a paper without an id or a
title makes the whole list unusable, since what else it got wrong cannot be told.
"""

import functools
import json
import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec

from bot.errors import FeedError, InputError
from bot.ingest.identity import arxiv_id_from_text
from bot.ingest.parsed import HubFacts, ParsedPaper, ParsedSource

KIND = "hf/daily"
"""The `ParsedSource.kind` of a daily papers list."""

PAPER_PAGE = "https://huggingface.co/papers/"
"""A paper's page on Hugging Face is this followed by its id."""

_JSON_START = re.compile(rb"\s*(?:\[\s*[\{\]]|\{\s*[\"}])")
_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_UNCLEAN = re.compile(r"  | \||\| |[\n\t\r]")
_NEW_STYLE_ID = re.compile(r"\d{4}\.\d{4,5}")
_HTML = re.compile(rb"\s*(?:<!doctype html|<html|<head|<body)", re.IGNORECASE)
_BOM = b"\xef\xbb\xbf"


def daily_url(base: str, day: date) -> str:
    """Return the address of `day`'s list at the API `base` ("https://huggingface.co/api/daily_papers")."""
    parts = urlsplit(base)
    query = "&".join(q for q in (parts.query, urlencode({"date": day.isoformat()})) if q)
    return urlunsplit(parts._replace(query=query))


def days_between(span: str, *, today: date) -> list[date]:
    """Return the days `span` names, "SINCE" (to `today`) or "SINCE..UNTIL", oldest first.

    Raises `InputError` for a day that is not YYYY-MM-DD, a span that ends
    before it starts, or one that starts after `today`.
    """
    since_text, dots, until_text = span.partition("..")
    since = _input_day(since_text)
    until = _input_day(until_text) if dots else today
    if since > today:
        raise InputError(f"--hf-daily {span}: {since} is after today ({today})")
    if until < since:
        raise InputError(f"--hf-daily {span}: the span ends before it starts")
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def _input_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--hf-daily: {text.strip()!r} is not a day: expected YYYY-MM-DD or SINCE..UNTIL"
        ) from None


def looks_like_json(data: bytes) -> bool:
    """Tell cheaply whether `data` starts like a JSON array of objects or a JSON object."""
    return _JSON_START.match(data[:4096].removeprefix(_BOM)) is not None


class _Author(msgspec.Struct):
    name: str | None = None


class _Organization(msgspec.Struct):
    name: str | None = None
    fullname: str | None = None


class _Paper(msgspec.Struct):
    """The fields of a listed paper that paperbot reads; others are ignored."""

    id: str | None = None
    title: str | None = None
    summary: str | None = None
    authors: list[_Author] | None = None
    published_at: str | None = msgspec.field(default=None, name="publishedAt")
    list_day: str | None = msgspec.field(default=None, name="submittedOnDailyAt")
    upvotes: int | None = None
    github_repo: str | None = msgspec.field(default=None, name="githubRepo")
    github_stars: int | None = msgspec.field(default=None, name="githubStars")
    project_page: str | None = msgspec.field(default=None, name="projectPage")
    organization: _Organization | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None


class _Item(msgspec.Struct):
    paper: _Paper | None = None
    comments: int | None = msgspec.field(default=None, name="numComments")


# Decoding straight into these records is about twice as fast as `json.loads`
# alone; a response with a field of an unexpected type takes the slower,
# lenient path instead (`_lenient_items`).
_DECODER = msgspec.json.Decoder(list[_Item])


def parse_hf_daily(data: bytes, *, source: str) -> ParsedSource:
    """Parse one daily papers response into papers; raise `FeedError` when it is not one.

    Raised, with a one-line reason: JSON cut short or invalid, an HTML page,
    JSON of another shape (an object, a list of something else), a paper
    without an id or title.
    """
    try:
        items = _DECODER.decode(data)
    except msgspec.MsgspecError:
        items = _lenient_items(data, source)
    papers: list[ParsedPaper] = []
    days: set[date] = set()
    seen: set[str] = set()
    for number, item in enumerate(items, start=1):
        paper = _paper(item, number, source)
        if paper.hub is not None and paper.hub.list_day is not None:
            days.add(paper.hub.list_day)
        key = paper.hub.paper_url if paper.hub else paper.title
        if key not in seen:  # a paper listed twice is one paper
            seen.add(key)
            papers.append(paper)
    return ParsedSource(
        kind=KIND, papers=tuple(papers), page_date=days.pop() if len(days) == 1 else None
    )


def _lenient_items(data: bytes, source: str) -> list[_Item]:
    """The items of a response that is not JSON of the expected types, minus what does not fit.

    Raises `FeedError` when it is not JSON, or JSON of another shape.
    """
    items = _load(data, source)
    if not isinstance(items, list):
        raise FeedError(source, f"{_shape(items)}, not a list of Hugging Face daily papers")
    return [_lenient_item(item, number, source) for number, item in enumerate(items, start=1)]


def _lenient_item(item: Any, number: int, source: str) -> _Item:
    paper = item.get("paper") if isinstance(item, dict) else None
    if not isinstance(paper, dict):
        raise FeedError(
            source, f'item {number} has no "paper" object: not a Hugging Face daily papers list'
        )
    fields = {key: _fitting(key, value) for key, value in paper.items()}
    outer = {
        key: value for key, value in item.items() if key != "paper" and _fits(_Item, key, value)
    }
    return msgspec.convert(
        {
            **outer,
            "paper": {key: value for key, value in fields.items() if _fits(_Paper, key, value)},
        },
        _Item,
    )


def _fitting(key: str, value: Any) -> Any:
    # In a list, only the members of the wrong type are left out.
    if key == "authors" and isinstance(value, list):
        return [author for author in value if _fits(_Author, "name", _get_name(author))]
    if key == "ai_keywords" and isinstance(value, list):
        return [word for word in value if isinstance(word, str)]
    return value


def _get_name(author: Any) -> Any:
    return author.get("name") if isinstance(author, dict) else 0


def _fits(kind: type[msgspec.Struct], key: str, value: Any) -> bool:
    try:
        msgspec.convert({key: value}, kind)
    except msgspec.ValidationError:
        return False
    return True


def _load(data: bytes, source: str) -> Any:
    try:
        return json.loads(data)
    except UnicodeDecodeError as error:
        raise FeedError(source, f"not UTF-8 text at byte {error.start}: not JSON") from error
    except json.JSONDecodeError as error:
        if _HTML.match(data[:1024].removeprefix(_BOM)):
            raise FeedError(source, "an HTML page, not Hugging Face daily papers JSON") from error
        # A document cut short ends inside a string, or where a value was still due.
        if error.pos >= len(error.doc.rstrip()) or error.msg.startswith("Unterminated string"):
            size = len(error.doc)
            raise FeedError(source, f"JSON cut short after {size} characters") from error
        where = f"line {error.lineno}, column {error.colno}"
        raise FeedError(source, f"invalid JSON at {where}: {error.msg}") from error


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(sorted(str(key) for key in value)[:5])
        return f"a JSON object (keys: {keys})" if keys else "an empty JSON object"
    return f"a JSON {type(value).__name__}"


def _paper(item: _Item, number: int, source: str) -> ParsedPaper:
    paper = item.paper
    if paper is None:
        raise FeedError(
            source, f'item {number} has no "paper" object: not a Hugging Face daily papers list'
        )
    paper_id = (paper.id or "").strip()
    if not paper_id:
        raise FeedError(source, f"item {number} has a paper without an id")
    title = _one_line(paper.title or "")
    if not title:
        raise FeedError(source, f"item {number} (paper {paper_id}) has no title")
    arxiv_id = paper_id if _NEW_STYLE_ID.fullmatch(paper_id) else arxiv_id_from_text(paper_id)
    organization = paper.organization
    org_name = org_full = None
    if organization is not None:
        org_name = (organization.name or "").strip() or None
        org_full = (organization.fullname or "").strip() or None
    github = _web(paper.github_repo)
    project = _web(paper.project_page)
    page = PAPER_PAGE + paper_id
    return ParsedPaper(
        title=title,
        abstract=_one_line(paper.summary or ""),
        authors=_clean_strings([author.name for author in paper.authors or ()]),
        organization=org_full or org_name,
        paper_date=_day(paper.published_at),
        upvotes=_count(paper.upvotes),
        code_urls=(github,) if github else (),
        project_urls=(project,) if project else (),
        arxiv_id=arxiv_id,
        url=page,
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}" if arxiv_id else None,
        hub=HubFacts(
            paper_url=page,
            list_day=_day(paper.list_day),
            github_stars=_count(paper.github_stars),
            comments=_count(item.comments),
            ai_summary=_one_line(paper.ai_summary or "") or None,
            ai_keywords=_clean_strings(paper.ai_keywords) if paper.ai_keywords else (),
            organization_name=org_name,
        ),
    )


def _web(url: str | None) -> str | None:
    url = url.strip() if url else None
    return url if url and url.startswith(("https://", "http://")) else None


def _one_line(text: str) -> str:
    # Summaries wrap their lines with single newlines: replacing them is much cheaper
    # than splitting the whole text, which is left for what still needs it.
    if "\n" in text:
        text = text.replace("\n", " ")
    if "  " in text or "\t" in text or "\r" in text:
        return " ".join(text.split())
    return text.strip()


def _clean_strings(values: Sequence[str | None]) -> tuple[str, ...]:
    """The non-empty strings among `values`, each on one line without outer spaces, once each."""
    texts = [value for value in values if value]
    # One look at all of them together: names and keywords rarely need cleaning.
    joined = "|".join(texts)
    if _UNCLEAN.search(joined) or joined.strip(" ") != joined:
        texts = [text for text in (" ".join(value.split()) for value in texts) if text]
    return tuple(dict.fromkeys(texts))


def _count(value: Any) -> int | None:
    # bool is an int to Python, never a count to the API.
    return value if type(value) is int and value >= 0 else None


def _day(value: Any) -> date | None:
    return _iso_day(value[:10]) if isinstance(value, str) else None


# Every paper of a list shares its list day, and many their publication day.
@functools.lru_cache(maxsize=1024)
def _iso_day(text: str) -> date | None:
    found = _ISO_DAY.fullmatch(text)
    if found is None:
        return None
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None
