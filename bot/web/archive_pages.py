"""The public archive: the site-wide digest of every day, as web pages.

It lists papers only, never subscribers.
"""

from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from bot.digest.site import papers_of, site_days
from bot.web.context import web_context
from bot.web.pages import error_page, page


async def archive(request: Request) -> HTMLResponse:
    """Every day with papers, newest first."""
    days = await run_in_threadpool(site_days, web_context(request).engine)
    return page(request, "archive.html", {"days": days})


async def archive_day(request: Request) -> HTMLResponse:
    """The papers of one day; 404 for a day that is not a date or has none."""
    try:
        day = date.fromisoformat(request.path_params["day"])
    except ValueError:
        return error_page(request, "No such day", "Days are written as 2025-11-22.", status=404)
    papers = await run_in_threadpool(papers_of, web_context(request).engine, day)
    if not papers:
        return error_page(request, "No papers that day", "Nothing was listed for it.", status=404)
    renderer = web_context(request).renderer
    views = [renderer.paper_view(paper) for paper in papers]
    return page(request, "archive_day.html", {"day": day.isoformat(), "papers": views})


routes: list[BaseRoute] = [
    Route("/archive", archive, methods=["GET"]),
    Route("/archive/{day}", archive_day, methods=["GET"]),
]
