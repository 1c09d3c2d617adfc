"""The recently seen papers the web pages match against, and their index, shared by every request.

The manage page's preview and the keyword hints of the subscribe, confirm and
manage pages read the same papers (first seen within the preview's window) and
use the same `PreviewIndex`, kept in the app's `PreviewIndexCache`: no page
indexes papers per request.
"""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.models import Paper
from bot.web.context import WebContext
from bot.web.preview import PaperSetVersion, PreviewIndex, RecentPaper, window_start

MAX_PREVIEW_PAPERS = 5_000
"""The newest recent papers the preview indexes at most, so an index stays quick to build.

Indexing is the preview's cost (about 0.3 s per 1,000 papers), paid once per
change of the recent papers, by the first page shown after it; matching the
form's keywords then takes milliseconds. A week of daily-papers listings is a
few hundred.
"""


def recent_index(context: WebContext) -> PreviewIndex:
    """The index of the recent papers, built only when they changed since it last was."""
    since = window_start(context.clock(), context.settings.delivery.backlog_days)
    version = paper_set_version(context.engine, since)
    return context.preview_index.get(version, lambda: recent_papers(context.engine, since))


def paper_set_version(engine: Engine, since: datetime) -> PaperSetVersion:
    """The version of the papers first seen since `since`: one query, no paper read whole."""
    query = select(func.count(), func.max(col(Paper.id)), func.max(col(Paper.updated_at))).where(
        col(Paper.first_seen_at) >= since
    )
    with Session(engine) as session:
        count, last_id, last_update = session.execute(query).one()
    return PaperSetVersion(int(count), last_id, last_update)


def recent_papers(engine: Engine, since: datetime) -> list[RecentPaper]:
    """The papers first seen since `since`, newest first (at most `MAX_PREVIEW_PAPERS`)."""
    columns = (
        col(Paper.id), col(Paper.title), col(Paper.abstract), col(Paper.paper_date),
        col(Paper.upvotes), col(Paper.arxiv_id), col(Paper.url), col(Paper.first_seen_at),
        col(Paper.authors), col(Paper.author_count), col(Paper.organization),
        col(Paper.organization_name), col(Paper.categories), col(Paper.list_day),
        col(Paper.hf_url), col(Paper.pdf_url), col(Paper.comments), col(Paper.github_stars),
        col(Paper.ai_summary), col(Paper.code_urls), col(Paper.project_urls),
    )  # fmt: skip
    query = (
        select(*columns)
        .where(col(Paper.first_seen_at) >= since)
        .order_by(col(Paper.first_seen_at).desc(), col(Paper.id).desc())
        .limit(MAX_PREVIEW_PAPERS)
    )
    with Session(engine) as session:
        return [
            RecentPaper(
                row.id,
                row.title,
                row.abstract,
                row.paper_date,
                row.upvotes,
                row.arxiv_id,
                row.url,
                row.first_seen_at.date(),
                authors=tuple(row.authors or ()),
                author_count=row.author_count,
                organization=row.organization,
                organization_name=row.organization_name,
                categories=tuple(row.categories or ()),
                list_day=row.list_day,
                hf_url=row.hf_url,
                pdf_url=row.pdf_url,
                comments=row.comments,
                github_stars=row.github_stars,
                ai_summary=row.ai_summary,
                code_urls=tuple(row.code_urls or ()),
                project_urls=tuple(row.project_urls or ()),
            )
            for row in session.execute(query)
        ]
