"""Commands for subscribers: `subscribe`, `unsubscribe`, `subscriptions` (list, import, export)."""

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, replace
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from bot.cli.app import app, as_usage_error, err, fail, jsonable, open_store, out, print_rows, state
from bot.cli.follows import (
    Authors,
    Categories,
    ExcludedAuthors,
    ExcludedCategories,
    ExcludedOrganisations,
    MinUpvotes,
    Organisations,
    Top,
    describe,
    follows,
    summary,
)
from bot.cli.hints import KeywordChecker, print_warning
from bot.clock import utc_now
from bot.db import write_session
from bot.errors import InputError
from bot.subscriptions import files
from bot.subscriptions.spec import (
    CADENCES,
    CHANNELS_OF_FORMAT,
    MAX_LEVEL,
    SubscriptionSpec,
    channels_of_format,
    make_spec,
    normalise_email,
    normalise_topic_name,
    shifted_level,
)
from bot.subscriptions.store import (
    Topic,
    as_specs,
    find_subscriber,
    list_subscribers,
    subscribe,
    subscribe_many,
    unsubscribe,
)

subscriptions_app = typer.Typer(
    help="List subscriptions, or import and export them in bulk.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(subscriptions_app, name="subscriptions")


@app.command("subscribe")
def subscribe_command(
    email: Annotated[str, typer.Argument(help="The subscriber's email address.")],
    keywords: Annotated[
        list[str] | None,
        typer.Argument(
            help="Keywords; quote a phrase to keep it whole. None are needed with --like,"
            " --author, --org, --category, --min-upvotes, or --top."
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", "-x", help="A keyword that vetoes a paper.")
    ] = None,
    author: Authors = None,
    org: Organisations = None,
    category: Categories = None,
    exclude_author: ExcludedAuthors = None,
    exclude_org: ExcludedOrganisations = None,
    exclude_category: ExcludedCategories = None,
    min_upvotes: MinUpvotes = None,
    top: Top = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="The topic's name (default: 'default').")
    ] = None,
    cadence: Annotated[
        str | None, typer.Option(help=f"How often digests come: {', '.join(CADENCES)}.")
    ] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            help="Where digests go: email, markdown (a file on this server) or the name of"
            " one of the subscriber's channels (`paperbot channel add`); repeat for several."
            " Replaces the subscriber's channels; kept when not given.",
        ),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help=f"The older way to say --channel: {', '.join(CHANNELS_OF_FORMAT)}.",
            hidden=True,
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="The subscriber's time zone, such as Europe/Berlin"
            " (default: the configured schedule.timezone)."
        ),
    ] = None,
    like: Annotated[
        list[str] | None,
        typer.Option(
            "--like",
            help="A stored paper to find more like: its arXiv id, an arXiv or Hugging Face"
            " link, or its exact title.",
        ),
    ] = None,
    unlike: Annotated[
        list[str] | None,
        typer.Option("--unlike", help="A stored paper to find fewer like (as --like)."),
    ] = None,
    level: Annotated[
        int | None,
        typer.Option(
            help=f"How many papers like the liked ones: -{MAX_LEVEL} (fewer) to {MAX_LEVEL}"
            " (more), 0 by default; kept when not given."
        ),
    ] = None,
    more: Annotated[
        bool, typer.Option("--more", help="Raise the topic's level by one: more papers.")
    ] = False,
    fewer: Annotated[
        bool, typer.Option("--fewer", help="Lower the topic's level by one: fewer papers.")
    ] = False,
) -> None:
    """Create or update a subscriber and one topic; what the topic follows is replaced.

    Any keyword, author, organisation or category selects a paper; any exclusion
    vetoes it; a minimum of upvotes or a top of the day keeps only trending
    papers. Liked papers (--like) select papers like them, unliked ones keep
    those like them out; the topic's example papers are replaced when any are
    given and kept otherwise, as is its level. Cadence, channels and time zone
    belong to the subscriber and are kept when not given.
    """
    with as_usage_error():
        step = _level_step(level, more=more, fewer=fewer)
        if channel and format:
            raise InputError("give --channel or --format, not both")
        spec = make_spec(
            email, keywords or (), exclude or (), name=name, cadence=cadence,
            channels=channel or channels_of_format(format),
            timezone=timezone, liked=like or (), unliked=unlike or (), level=level,
            **follows(author, org, category, exclude_author, exclude_org, exclude_category,
                      min_upvotes, top),
        )  # fmt: skip
    _, engine = open_store(create=True)
    with write_session(engine) as session:
        if step:
            spec = replace(spec, level=shifted_level(_stored_level(session, spec), step))
        outcome = subscribe(session, spec, now=utc_now())
    verb = "subscribed" if outcome.new_subscriber or outcome.resubscribed else "updated"
    topic = "new topic" if outcome.new_topic else "topic"
    out.print(
        f"{verb} {spec.email}: {topic} {spec.name!r} with {len(spec.keywords)} keyword(s)"
        f" and {len(spec.exclusions)} exclusion(s){describe(spec.follows)}"
        f"{_describe_examples(spec)}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    KeywordChecker.of_store(engine).warn(spec.keywords)


def _level_step(level: int | None, *, more: bool, fewer: bool) -> int:
    """How far --more or --fewer moves the stored level: 1, -1, or 0 when neither is given."""
    if sum((level is not None, more, fewer)) > 1:
        raise InputError("give only one of --level, --more and --fewer")
    return 1 if more else -1 if fewer else 0


def _stored_level(session: Session, spec: SubscriptionSpec) -> int:
    """The level of the topic `spec` names, 0 when there is no such topic yet."""
    subscriber = find_subscriber(session, spec.email)
    topics = subscriber.topics if subscriber is not None else ()
    return next((topic.level for topic in topics if topic.name == spec.name), 0)


def _describe_examples(spec: SubscriptionSpec) -> str:
    """The example papers and level given, counted: ", 2 liked paper(s), level 1"."""
    parts = [
        f"{len(papers)} {what} paper(s)"
        for papers, what in ((spec.liked, "liked"), (spec.unliked, "unliked"))
        if papers
    ]
    if spec.level is not None:
        parts.append(f"level {spec.level}")
    return "".join(f", {part}" for part in parts)


@app.command("unsubscribe")
def unsubscribe_command(
    email: Annotated[str, typer.Argument(help="The subscriber's email address.")],
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Remove only this topic.")
    ] = None,
) -> None:
    """Remove a subscriber's topics (or one of them); what was already sent stays recorded."""
    with as_usage_error():  # checked before the database is opened: bad input is said first
        normalise_email(email)
        if name is not None:
            name = normalise_topic_name(name)
    _, engine = open_store()
    with write_session(engine) as session:
        removed = unsubscribe(session, email, now=utc_now(), topic=name)
    what = f"topic {name!r}" if name else f"{removed} topic(s); no more digests"
    out.print(f"unsubscribed {email.strip()}: removed {what}", markup=False, highlight=False)


@subscriptions_app.callback()
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array of subscribers.")] = False,
    everyone: Annotated[
        bool, typer.Option("--all", help="Include subscribers who unsubscribed.")
    ] = False,
) -> None:
    """List subscribers and their topics."""
    if ctx.invoked_subcommand is not None:
        return
    settings, engine = open_store()
    with Session(engine) as session:
        subscribers = list_subscribers(session, include_unsubscribed=everyone)
    if as_json:
        # "timezone" is null for subscribers who follow the configured one.
        out.print_json(json.dumps([jsonable(asdict(s)) for s in subscribers]))
        return
    default_zone = f"{settings.schedule.timezone} (default)"
    print_rows(
        (
            "email",
            "topic",
            "keywords",
            "exclusions",
            "follows",
            "examples",
            "level",
            "cadence",
            "channels",
            "timezone",
            "status",
        ),
        (
            (
                subscriber.email,
                topic.name if topic else "",
                "; ".join(topic.keywords) if topic else "",
                "; ".join(topic.exclusions) if topic else "",
                summary(topic.follows) if topic else "",
                _examples_listed(topic) if topic else "",
                str(topic.level) if topic else "",
                subscriber.cadence,
                ", ".join(subscriber.channels),
                subscriber.timezone or default_zone,
                subscriber.status,
            )
            for subscriber in subscribers
            for topic in subscriber.topics or (None,)
        ),
        empty="no subscribers" if everyone else "no active subscribers (--all lists every one)",
    )
    if subscribers:
        out.print(f"{len(subscribers)} subscriber(s)")


def _examples_listed(topic: Topic) -> str:
    """A topic's example papers, one a line: "liked: Title", then "unliked: Title"."""
    return "\n".join(
        [f"liked: {paper.title}" for paper in topic.liked]
        + [f"unliked: {paper.title}" for paper in topic.unliked]
    )


@subscriptions_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="A .csv or .toml file (see the README).")],
) -> None:
    """Create or update every subscription in a CSV or TOML file, all or nothing."""
    entries = _read(path)
    _, engine = open_store(create=True)
    checker = KeywordChecker.of_store(engine)
    warnings = _Warnings(every=state.verbose)
    imported = new = 0
    now = utc_now()
    # One transaction, a batch of rows at a time: a bad row anywhere stores nothing,
    # and memory holds one batch of specs, not the whole file's.
    with write_session(engine) as session:
        while batch := list(islice(entries, IMPORT_BATCH)):
            outcomes = subscribe_many(
                session,
                [spec for _, spec in batch],
                now=now,
                source="import",
                label=partial(_row_label, path, batch),
            )
            imported += len(batch)
            new += sum(o.new_subscriber for o in outcomes)
            for _, spec in batch:
                warnings.add(checker.sentences(spec.keywords), f"{spec.email}, topic {spec.name!r}")
    out.print(f"imported {imported} subscription(s) from {path}: {new} new subscriber(s)")
    warnings.print()


IMPORT_BATCH = 1000
"""Rows an import validates and stores at a time, inside its one transaction."""

MAX_IMPORT_WARNINGS = 20
"""Keyword warnings an import prints before it counts the rest (all of them with --verbose)."""


def _row_label(path: Path, batch: list[files.Entry], index: int) -> str:
    return f"{path}: {batch[index][0]}"


class _Warnings:
    """An import's keyword warnings: the first few kept to print, the rest counted."""

    def __init__(self, *, every: bool) -> None:
        self.every = every
        self.kept: list[tuple[str, str]] = []
        self.more = 0

    def add(self, sentences: Iterable[str], whose: str) -> None:
        """Keep each warning about `whose` keywords, or count it once enough are kept."""
        for sentence in sentences:
            if self.every or len(self.kept) < MAX_IMPORT_WARNINGS:
                self.kept.append((sentence, whose))
            else:
                self.more += 1

    def print(self) -> None:
        """Print the kept warnings, then how many more there were."""
        for sentence, whose in self.kept:
            print_warning(sentence, whose)
        if self.more:
            err.print(
                f"paperbot: warning: {self.more:,} more warnings like these"
                " (paperbot --verbose subscriptions import lists every one)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


@subscriptions_app.command("export")
def export_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of to stdout.")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="csv or toml.")] = "csv",
) -> None:
    """Write every active subscription as CSV or TOML, in the format `import` reads."""
    if format not in ("csv", "toml"):
        fail(f"--format must be csv or toml, not {format!r}", code=2)
    _, engine = open_store()
    with Session(engine) as session:
        specs = as_specs(list_subscribers(session))
    text = files.write_csv(specs) if format == "csv" else files.write_toml(specs)
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"exported {len(specs)} subscription(s) to {output}")


def _read(path: Path) -> Iterator[files.Entry]:
    """The entries of `path`, read as they are taken; an `InputError` names the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: cannot be read: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    readers: dict[str, Callable[[str], Iterable[files.Entry]]] = {
        ".csv": files.csv_entries,
        ".toml": files.read_toml_entries,
    }
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"{path}: expected a .csv or .toml file")
    try:
        entries = reader(text)  # a bad header or TOML file raises here, before any store opens
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return _naming(path, entries)


def _naming(path: Path, entries: Iterable[files.Entry]) -> Iterator[files.Entry]:
    """`entries`, with the file named in the `InputError` of a bad row."""
    try:
        yield from entries
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
