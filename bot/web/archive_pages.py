"""The public archive: the site-wide digest of every day, as web pages.

It lists papers only, never subscribers. A day's page is searched with `q` and
paged with `page` (`bot.web.archive_search`), on the server: no script needed.
"""

from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from bot.digest.site import papers_of, site_days
from bot.errors import InputError
from bot.matching.engine import Match
from bot.web.archive_search import (
    MAX_QUERY_LENGTH,
    ArchivePage,
    ArchiveRequest,
    Hit,
    page_link,
    page_of,
    read_archive_request,
)
from bot.web.context import web_context
from bot.web.pages import error_page, page


async def archive(request: Request) -> HTMLResponse:
    """Every day with papers, newest first."""
    days = await run_in_threadpool(site_days, web_context(request).engine)
    return page(request, "archive.html", {"days": days})


async def archive_day(request: Request) -> HTMLResponse:
    """One page of the papers of a day, searched with `q`; 404 for a day with none.

    A bad `q` or `page` gets the page with the search form and what is wrong (400).
    """
    try:
        day = date.fromisoformat(request.path_params["day"])
    except ValueError:
        return error_page(request, "No such day", "Days are written as 2025-11-22.", status=404)
    try:
        asked = read_archive_request(
            request.query_params.get("q"), request.query_params.get("page")
        )
    except InputError as exc:
        shown = (request.query_params.get("q") or "")[:MAX_QUERY_LENGTH]
        return _day_page(request, day, ArchiveRequest(shown), problem=str(exc), status=400)
    papers = await run_in_threadpool(papers_of, web_context(request).engine, day)
    if not papers:
        return error_page(request, "No papers that day", "Nothing was listed for it.", status=404)
    if asked.query:
        index = await run_in_threadpool(web_context(request).archive_index.index, day, papers)
        hits = await run_in_threadpool(index.search, asked.query)
    else:
        hits = [Hit(paper) for paper in papers]
    return _day_page(request, day, asked, listed=len(papers), shown=page_of(hits, asked.page))


def _day_page(
    request: Request,
    day: date,
    asked: ArchiveRequest,
    *,
    listed: int = 0,
    shown: ArchivePage | None = None,
    problem: str = "",
    status: int = 200,
) -> HTMLResponse:
    """The day's page: the search form, then `shown` with its pager, or the `problem`."""
    path = f"/archive/{day.isoformat()}"
    renderer = web_context(request).renderer
    context: dict[str, Any] = {
        "day": day.isoformat(),
        "path": path,
        "query": asked.query,
        "max_query": MAX_QUERY_LENGTH,
        "problem": problem,
        "listed": listed,
        "result": shown,
        "entries": [],
        "previous": "",
        "next": "",
    }
    if shown is not None:
        context["entries"] = [
            (renderer.paper_view(hit.paper), _reason(hit.match)) for hit in shown.hits
        ]
        if shown.page > 1:
            context["previous"] = page_link(path, asked.query, shown.page - 1)
        if shown.page < shown.pages:
            context["next"] = page_link(path, asked.query, shown.page + 1)
    return page(request, "archive_day.html", context, status=status)


def _reason(match: Match | None) -> dict[str, str] | None:
    """Why a paper matched the search, split so the template can highlight the words."""
    if match is None:
        return None
    start, end = match.snippet_span
    text = match.snippet
    return {
        "keyword": match.keyword,
        "field": match.field,
        "before": text[:start],
        "matched": text[start:end],
        "after": text[end:],
    }


routes: list[BaseRoute] = [
    Route("/archive", archive, methods=["GET"]),
    Route("/archive/{day}", archive_day, methods=["GET"]),
]
