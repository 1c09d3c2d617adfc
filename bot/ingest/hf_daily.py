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
_STR = frozenset({str})
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
    # The hot loop of a large response: fields are read straight, each checked for
    # its type, with the slower general helpers only where a value needs them.
    paper = item.get("paper") if isinstance(item, dict) else None
    if not isinstance(paper, dict):
        raise FeedError(
            source, f'item {number} has no "paper" object: not a Hugging Face daily papers list'
        )
    get = paper.get
    paper_id = _text(paper, "id")
    if not paper_id:
        raise FeedError(source, f"item {number} has a paper without an id")
    title = _one_line(_text(paper, "title"))
    if not title:
        raise FeedError(source, f"item {number} (paper {paper_id}) has no title")
    arxiv_id = paper_id if _NEW_STYLE_ID.fullmatch(paper_id) else arxiv_id_from_text(paper_id)
    organization = get("organization")
    org_name = org_full = None
    if isinstance(organization, dict):
        org_name = _text(organization, "name") or None
        org_full = _text(organization, "fullname") or None
    github = get("githubRepo")
    project = get("projectPage")
    keywords = get("ai_keywords")
    page = PAPER_PAGE + paper_id
    return ParsedPaper(
        title=title,
        abstract=_one_line(_text(paper, "summary")),
        authors=_authors(get("authors")),
        organization=org_full or org_name,
        paper_date=_day(get("publishedAt")),
        upvotes=_count(get("upvotes")),
        code_urls=(github.strip(),) if isinstance(github, str) and _is_web(github) else (),
        project_urls=(project.strip(),) if isinstance(project, str) and _is_web(project) else (),
        arxiv_id=arxiv_id,
        url=page,
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}" if arxiv_id else None,
        hub=HubFacts(
            paper_url=page,
            list_day=_day(get("submittedOnDailyAt")),
            github_stars=_count(get("githubStars")),
            comments=_count(item.get("numComments")),
            ai_summary=_one_line(_text(paper, "ai_summary")) or None,
            ai_keywords=_keywords(keywords) if isinstance(keywords, list) else (),
            organization_name=org_name,
        ),
    )


def _is_web(url: str) -> bool:
    return url.lstrip().startswith(("https://", "http://"))


def _keywords(words: list[Any]) -> tuple[str, ...]:
    return _clean_strings(words)


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    return value.strip() if isinstance(value, str) else ""


def _one_line(text: str) -> str:
    # Summaries wrap their lines with single newlines: replacing them is much cheaper
    # than splitting the whole text, which is left for what still needs it.
    if "\n" in text:
        text = text.replace("\n", " ")
    if "  " in text or "\t" in text or "\r" in text:
        return " ".join(text.split())
    return text


def _authors(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    try:
        names = [author["name"] for author in value]
    except (TypeError, KeyError):  # an author that is not an object, or has no name
        names = [author.get("name") for author in value if isinstance(author, dict)]
    return _clean_strings(names)


def _clean_strings(values: list[Any]) -> tuple[str, ...]:
    """The strings among `values`, each on one line without outer spaces, once each."""
    if not set(map(type, values)) <= _STR:
        values = [value for value in values if isinstance(value, str)]
    # One look at all of them together: names and keywords rarely need cleaning.
    joined = "|".join(values)
    if _UNCLEAN.search(joined) or joined.strip(" ") != joined:
        values = [" ".join(value.split()) for value in values]
    unique = dict.fromkeys(values)
    unique.pop("", None)
    return tuple(unique)


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
