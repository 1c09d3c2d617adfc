"""Finding stored papers by a piece of their title, for readers picking example papers.

The query is compared as titles are stored (`bot.ingest.identity.title_key`:
case, accents, spacing and punctuation aside), so "graph neural" finds
"Forward Learning of Graph Neural Networks". Callers own the session.
"""

from sqlmodel import Session, col, select

from bot.errors import InputError
from bot.ingest.identity import title_key
from bot.models import Paper
from bot.subscriptions.examples import ExamplePaper

MIN_QUERY = 3
"""The fewest letters and digits a query needs: fewer would list half the store."""

MAX_QUERY = 200
"""The longest query read, in characters (longer than any title piece worth typing)."""

MAX_RESULTS = 10
"""The most papers one search lists."""


def check_query(text: str) -> str:
    """Return the normalised key of a title search; `InputError` if too short or too long."""
    given = text.strip()
    if len(given) > MAX_QUERY:
        raise InputError(f"search too long: {len(given)} characters (at most {MAX_QUERY})")
    key = title_key(given)
    if len(key) < MIN_QUERY:
        raise InputError(
            f"search {given!r} is too short: give at least {MIN_QUERY} letters or digits of a title"
        )
    return key


def search_titles(session: Session, text: str, *, limit: int = MAX_RESULTS) -> list[ExamplePaper]:
    """Return up to `limit` stored papers whose title holds `text`, newest first.

    Raises `InputError` for a query `check_query` refuses.
    """
    key = check_query(text)
    # The key holds letters and digits only, but LIKE's wildcards are escaped all the same.
    pattern = "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = (
        select(Paper.id, Paper.title, Paper.arxiv_id)
        .where(col(Paper.title_key).like(pattern, escape="\\"))
        .order_by(col(Paper.id).desc())
        .limit(max(1, min(limit, MAX_RESULTS)))
    )
    return [ExamplePaper(*row) for row in session.execute(query)]
