"""The `feedback` command: a paper marked "more like this" or "fewer like this" in a topic."""

from typing import Annotated

import typer

from bot.cli.app import app, as_usage_error, open_store, out
from bot.clock import utc_now
from bot.db import write_session
from bot.errors import InputError
from bot.subscriptions.examples import ExamplePaper, find_paper, mark_example, topic_id
from bot.subscriptions.spec import check_paper, normalise_email, normalise_topic_name
from bot.subscriptions.store import Topic, find_subscriber


@app.command("feedback")
def feedback_command(
    email: Annotated[str, typer.Argument(help="The subscriber's email address.")],
    paper: Annotated[
        str,
        typer.Argument(
            help="A stored paper: its arXiv id, an arXiv or Hugging Face link, or its exact title.",
        ),
    ],
    more: Annotated[
        bool, typer.Option("--more", help="The topic should find more papers like this one.")
    ] = False,
    fewer: Annotated[
        bool, typer.Option("--fewer", help="The topic should find fewer papers like this one.")
    ] = False,
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="The topic (needed when the subscriber has several)."),
    ] = None,
) -> None:
    """Mark a stored paper as a liked (--more) or unliked (--fewer) example of a topic.

    A paper marked the other way before changes sides; the topic's other
    examples, keywords and level stay as they are.
    """
    with as_usage_error():  # checked before the database is opened: bad input is said first
        if more == fewer:
            raise InputError("give one of --more and --fewer")
        address = normalise_email(email)
        reference = check_paper(paper)
        topic_name = None if name is None else normalise_topic_name(name)
    _, engine = open_store()
    with write_session(engine) as session:
        subscriber = find_subscriber(session, address)
        if subscriber is None:
            raise InputError(f"no subscriber with the address {address!r}")
        found = find_paper(session, reference)
        try:
            chosen = topic_id(session, subscriber.id, topic_name)
        except InputError as exc:
            raise InputError(f"{subscriber.email}: {exc}") from None
        topic = next(t for t in subscriber.topics if t.id == chosen)
        changed = mark_example(
            session, chosen, found.id, liked=more, source="feedback", now=utc_now()
        )
    out.print(
        _said(found, topic, subscriber.email, more=more, changed=changed),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _said(paper: ExamplePaper, topic: Topic, email: str, *, more: bool, changed: bool) -> str:
    """What `feedback` did, in one line."""
    way = "more like this" if more else "fewer like this"
    where = f"in topic {topic.name!r} of {email}"
    if not changed:
        return f"{paper.title!r} was already marked as {way} {where}"
    before = topic.unliked if more else topic.liked
    was = " (it was marked the other way)" if any(p.id == paper.id for p in before) else ""
    return f"marked {paper.title!r} as {way} {where}{was}"
