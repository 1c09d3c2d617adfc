"""Example papers of topics in the database: finding the papers readers name, marking them.

A topic's examples are papers of the store, each liked ("more like this") or
unliked ("fewer like this"). They come from `paperbot subscribe --like`, import
files, the web pages and the feedback links of digests. Callers own the
transaction (`bot.db.write_session`).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select as select_columns  # SQLModel's `select` takes up to 4 columns
from sqlmodel import Session, col, func, select

from bot.db import in_chunks
from bot.errors import InputError
from bot.ingest.identity import title_key
from bot.models import Paper, Subscriber, Subscription, TopicExample
from bot.subscriptions.paper_reference import PaperReference
from bot.subscriptions.spec import MAX_EXAMPLES

SOURCES = ("subscribe", "import", "web", "feedback")


@dataclass(frozen=True)
class ExamplePaper:
    """A stored paper a reader named: its id, title and arXiv id (if any)."""

    id: int
    title: str
    arxiv_id: str | None


@dataclass(frozen=True)
class TopicExampleView:
    """One example of a topic, as plain data: the paper, liked or not, where it came from."""

    paper: ExamplePaper
    liked: bool
    source: str
    added_at: datetime

    @property
    def reference(self) -> str:
        """How an export names the paper: its arXiv id, else its exact title."""
        return self.paper.arxiv_id or self.paper.title


def find_paper(session: Session, reference: PaperReference) -> ExamplePaper:
    """Return the stored paper `reference` names; raise `InputError` if none or several do.

    Titles are compared as the store compares them (case, accents, spacing and
    punctuation aside), so an exact title copied from a digest finds its paper.
    """
    if reference.arxiv_id is not None:
        query = select(Paper.id, Paper.title, Paper.arxiv_id).where(
            Paper.arxiv_id == reference.arxiv_id
        )
        found = session.execute(query).first()
        if found is None:
            raise InputError(
                f"paper {reference.text!r}: no stored paper has the arXiv id "
                f"{reference.arxiv_id}; ingest it first (paperbot ingest URL)"
            )
        return ExamplePaper(*found)
    assert reference.title is not None  # a reference is an id or a title
    query = (
        select(Paper.id, Paper.title, Paper.arxiv_id)
        .where(Paper.title_key == title_key(reference.title))
        .order_by(col(Paper.id))
        .limit(2)
    )
    rows = session.execute(query).all()
    if not rows:
        raise InputError(
            f"paper {reference.text!r}: no stored paper has this title "
            "(give its exact title, its arXiv id or a link to it)"
        )
    if len(rows) > 1:
        raise InputError(
            f"paper {reference.text!r}: several stored papers have this title; "
            "give its arXiv id or a link to it instead"
        )
    return ExamplePaper(*rows[0])


def find_papers(session: Session, references: Iterable[PaperReference]) -> list[ExamplePaper]:
    """Return the stored papers `references` name, each once, in order (see `find_paper`)."""
    found: dict[int, ExamplePaper] = {}
    for reference in references:
        paper = find_paper(session, reference)
        found.setdefault(paper.id, paper)
    return list(found.values())


def examples_of(
    session: Session, subscription_ids: Iterable[int]
) -> dict[int, list[TopicExampleView]]:
    """Return the examples of these topics, by topic id, liked first, then oldest first."""
    found: dict[int, list[TopicExampleView]] = {}
    for chunk in in_chunks(list(subscription_ids)):
        # Plain columns, not `TopicExample` rows: delivery reads every topic's examples,
        # and building (and tracking) an ORM object per row nearly doubled the time.
        query = (
            select_columns(
                col(TopicExample.subscription_id),
                col(TopicExample.paper_id),
                col(Paper.title),
                col(Paper.arxiv_id),
                col(TopicExample.liked),
                col(TopicExample.source),
                col(TopicExample.added_at),
            )
            .join(Paper, col(Paper.id) == col(TopicExample.paper_id))
            .where(col(TopicExample.subscription_id).in_(chunk))
            .order_by(
                col(TopicExample.liked).desc(),
                col(TopicExample.added_at),
                col(TopicExample.paper_id),
            )
        )
        for topic, paper_id, title, arxiv_id, liked, source, added_at in session.execute(query):
            found.setdefault(topic, []).append(
                TopicExampleView(ExamplePaper(paper_id, title, arxiv_id), liked, source, added_at)
            )
    return found


def active_example_ids(session: Session) -> set[int]:
    """The papers that are an example of a topic of an active subscriber, liked or not."""
    query = (
        select_columns(col(TopicExample.paper_id))
        .join(Subscription, col(Subscription.id) == col(TopicExample.subscription_id))
        .join(Subscriber, col(Subscriber.id) == col(Subscription.subscriber_id))
        .where(col(Subscriber.status) == "active")
        .distinct()
    )
    return set(session.scalars(query))


def mark_example(
    session: Session,
    subscription_id: int,
    paper_id: int,
    *,
    liked: bool,
    source: str,
    now: datetime,
) -> bool:
    """Make a paper a liked or unliked example of a topic; return whether anything changed.

    Marking a paper the other way replaces its mark (a reader may change their
    mind). Raises `InputError` when the topic already holds `MAX_EXAMPLES`.
    """
    _check_source(source)
    current = session.get(TopicExample, (subscription_id, paper_id))
    if current is not None:
        if current.liked == liked:
            return False
        current.liked, current.source, current.added_at = liked, source, now
        session.flush()
        return True
    held = session.scalar(
        select(func.count())
        .select_from(TopicExample)
        .where(TopicExample.subscription_id == subscription_id)
    )
    if (held or 0) >= MAX_EXAMPLES:
        raise InputError(f"this topic already has {MAX_EXAMPLES} example papers: remove some first")
    session.add(_example(subscription_id, paper_id, liked, source, now))
    session.flush()
    return True


def remove_example(session: Session, subscription_id: int, paper_id: int) -> bool:
    """Remove a paper from a topic's examples; return whether it was one."""
    row = session.get(TopicExample, (subscription_id, paper_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def replace_examples(
    session: Session,
    subscription_id: int,
    liked: Sequence[ExamplePaper],
    unliked: Sequence[ExamplePaper],
    *,
    source: str,
    now: datetime,
) -> None:
    """Make these papers the topic's examples, and only these.

    Papers already examples the same way keep their date and source, so an
    export imported again changes nothing.
    """
    _check_source(source)
    wanted = {paper.id: True for paper in liked} | {paper.id: False for paper in unliked}
    current = {
        row.paper_id: row
        for row in session.exec(
            select(TopicExample).where(TopicExample.subscription_id == subscription_id)
        )
    }
    for paper_id, row in current.items():
        if paper_id not in wanted:
            session.delete(row)
        elif row.liked != wanted[paper_id]:
            row.liked, row.source, row.added_at = wanted[paper_id], source, now
    for paper_id, is_liked in wanted.items():
        if paper_id not in current:
            session.add(_example(subscription_id, paper_id, is_liked, source, now))
    session.flush()


def topic_id(session: Session, subscriber_id: int, name: str | None) -> int:
    """Return the id of a subscriber's topic by name, or of their only topic when `name` is None.

    Raises `InputError` when there is no such topic, or several and no name.
    """
    query = select(Subscription.id, Subscription.name).where(
        Subscription.subscriber_id == subscriber_id
    )
    if name is not None:
        query = query.where(Subscription.name == name)
    rows = session.execute(query.order_by(col(Subscription.name))).all()
    if not rows:
        raise InputError(
            "no topic to add it to" if name is None else f"there is no topic named {name!r}"
        )
    if len(rows) > 1:
        names = ", ".join(repr(row.name) for row in rows)
        raise InputError(f"name the topic (--name): there are several ({names})")
    return int(rows[0].id)


def _example(
    subscription_id: int, paper_id: int, liked: bool, source: str, now: datetime
) -> TopicExample:
    return TopicExample(
        subscription_id=subscription_id, paper_id=paper_id, liked=liked, source=source,
        added_at=now,
    )  # fmt: skip


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"unknown example source {source!r}")  # a programming error
