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

import json
import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from bot.errors import FeedError, InputError
from bot.ingest.identity import arxiv_id_from_text
from bot.ingest.parsed import HubFacts, ParsedPaper, ParsedSource

KIND = "hf/daily"
"""The `ParsedSource.kind` of a daily papers list."""

PAPER_PAGE = "https://huggingface.co/papers/"
"""A paper's page on Hugging Face is this followed by its id."""

_JSON_START = re.compile(rb"\s*(?:\[\s*[\{\]]|\{\s*[\"}])")
_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
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


def parse_hf_daily(data: bytes, *, source: str) -> ParsedSource:
    """Parse one daily papers response into papers; raise `FeedError` when it is not one.

    Raised, with a one-line reason: JSON cut short or invalid, an HTML page,
    JSON of another shape (an object, a list of something else), a paper
    without an id or title.
    """
    items = _load(data, source)
    if not isinstance(items, list):
        raise FeedError(source, f"{_shape(items)}, not a list of Hugging Face daily papers")
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


def _paper(item: Any, number: int, source: str) -> ParsedPaper:
    paper = item.get("paper") if isinstance(item, dict) else None
    if not isinstance(paper, dict):
        raise FeedError(
            source, f'item {number} has no "paper" object: not a Hugging Face daily papers list'
        )
    paper_id = _text(paper, "id")
    if not paper_id:
        raise FeedError(source, f"item {number} has a paper without an id")
    title = _one_line(_text(paper, "title"))
    if not title:
        raise FeedError(source, f"item {number} (paper {paper_id}) has no title")
    arxiv_id = arxiv_id_from_text(paper_id)
    organization = paper.get("organization")
    org_name = org_full = None
    if isinstance(organization, dict):
        org_name = _text(organization, "name") or None
        org_full = _text(organization, "fullname") or None
    github = _text(paper, "githubRepo")
    project = _text(paper, "projectPage")
    ai_summary = _one_line(_text(paper, "ai_summary"))
    keywords = paper.get("ai_keywords")
    return ParsedPaper(
        title=title,
        abstract=_one_line(_text(paper, "summary")),
        authors=_authors(paper.get("authors")),
        organization=org_full or org_name,
        paper_date=_day(paper.get("publishedAt")),
        upvotes=_count(paper.get("upvotes")),
        code_urls=(github,) if github.startswith(("https://", "http://")) else (),
        project_urls=(project,) if project.startswith(("https://", "http://")) else (),
        arxiv_id=arxiv_id,
        url=PAPER_PAGE + paper_id,
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}" if arxiv_id else None,
        hub=HubFacts(
            paper_url=PAPER_PAGE + paper_id,
            list_day=_day(paper.get("submittedOnDailyAt")),
            github_stars=_count(paper.get("githubStars")),
            comments=_count(item.get("numComments")),
            ai_summary=ai_summary or None,
            ai_keywords=tuple(
                word.strip() for word in keywords if isinstance(word, str) and word.strip()
            )
            if isinstance(keywords, list)
            else (),
            organization_name=org_name,
        ),
    )


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    return value.strip() if isinstance(value, str) else ""


def _one_line(text: str) -> str:
    # Most titles are one clean line already; splitting costs more than looking.
    if "\n" in text or "  " in text or "\t" in text or "\r" in text:
        return " ".join(text.split())
    return text


def _authors(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = (_one_line(_text(a, "name")) for a in value if isinstance(a, dict))
    return tuple(dict.fromkeys(name for name in names if name))


def _count(value: Any) -> int | None:
    # bool is an int to Python, never a count to the API.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _day(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    found = _ISO_DAY.match(value)
    if found is None:
        return None
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None
