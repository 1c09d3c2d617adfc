"""The site-wide digest: one Markdown file per page date listing every paper of that day.

For people who want the file, not a subscription: `<digests>/site/<date>.md`,
rewritten whenever an ingest adds papers to that day. A dump's papers belong
to its page date; a feed's, to the day they were fetched (UTC).
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.digest.model import DigestPaper
from bot.digest.render import DigestRenderer
from bot.files import write_atomic
from bot.models import Paper, Sighting
from bot.papers import as_digest_paper


def days_touched(engine: Engine, since: datetime) -> set[date]:
    """Return the page dates (or fetch days) of the sightings recorded since `since`."""
    query = select(col(Sighting.page_date), col(Sighting.seen_at)).where(
        col(Sighting.seen_at) >= since
    )
    with Session(engine) as session:
        return {page_date or seen_at.date() for page_date, seen_at in session.execute(query)}


def write_site_digests(
    engine: Engine, renderer: DigestRenderer, folder: Path, days: Iterable[date]
) -> list[Path]:
    """Write (or rewrite) the site digest of each day; return the files written."""
    written = []
    for day in sorted(days):
        papers = papers_of(engine, day)
        views = [renderer.paper_view(paper) for paper in papers]
        text = renderer.env.get_template("site.md").render(day=day.isoformat(), papers=views)
        path = folder / "site" / f"{day.isoformat()}.md"
        write_atomic(path, text.encode("utf-8"))
        written.append(path)
    return written


def papers_of(engine: Engine, day: date) -> list[DigestPaper]:
    """Return the papers listed for `day` (page date, else fetch day), most upvoted first."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    on_page = col(Sighting.page_date) == day
    fetched = and_(
        col(Sighting.page_date).is_(None),
        col(Sighting.seen_at) >= start,
        col(Sighting.seen_at) < start + timedelta(days=1),
    )
    ids = select(col(Sighting.paper_id)).where(or_(on_page, fetched))
    with Session(engine) as session:
        papers = list(session.scalars(select(Paper).where(col(Paper.id).in_(ids))))
    papers.sort(key=lambda p: (-(p.upvotes or 0), p.title.casefold()))
    return [as_digest_paper(p) for p in papers]


def site_days(engine: Engine) -> list[tuple[date, int]]:
    """Return every day with papers and how many, newest first (the archive's index)."""
    query = select(col(Sighting.page_date), col(Sighting.seen_at), col(Sighting.paper_id))
    papers: dict[date, set[int]] = {}
    with Session(engine) as session:
        for page_date, seen_at, paper_id in session.execute(query):
            papers.setdefault(page_date or seen_at.date(), set()).add(paper_id)
    return sorted(((day, len(ids)) for day, ids in papers.items()), reverse=True)


def latest_days(engine: Engine, count: int) -> list[tuple[date, int, datetime]]:
    """The newest `count` days with papers: each day, its number of papers, its last sighting.

    The last sighting is when the day last changed (an ingest added or saw a paper
    of it again): the archive feed's entries are updated then.
    """
    query = select(col(Sighting.page_date), col(Sighting.seen_at), col(Sighting.paper_id))
    papers: dict[date, set[int]] = {}
    last: dict[date, datetime] = {}
    with Session(engine) as session:
        for page_date, seen_at, paper_id in session.execute(query):
            day = page_date or seen_at.date()
            papers.setdefault(day, set()).add(paper_id)
            last[day] = max(last.get(day, seen_at), seen_at)
    newest = sorted(papers, reverse=True)[:count]
    return [(day, len(papers[day]), last[day]) for day in newest]
