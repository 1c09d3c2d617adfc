"""The database tables.

Tables stay in the storage layer: parsers and matching work on the plain
dataclasses of `bot.ingest.parsed`. All SQL stays portable (SQLite and
PostgreSQL): JSON columns, no dialect-specific upserts.
"""

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back as an aware UTC datetime.

    SQLite has no time zones; storing naive UTC and re-attaching UTC on read
    keeps comparisons right on every database.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to naive UTC before it is stored."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC one is required")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to a stored timestamp."""
        return None if value is None else value.replace(tzinfo=UTC)


def _empty_list() -> list[Any]:
    return []


def _empty_dict() -> dict[str, Any]:
    return {}


# The default factories are plain functions, not `list` and `dict`: pydantic reads a
# factory's signature at every construction, and a builtin's costs 60 us (its text
# signature is parsed each time) against 4 us: a topic row took half a millisecond.


def _json_list() -> Any:
    return Field(default_factory=_empty_list, sa_column=Column(JSON, nullable=False))


def _big_int() -> Any:
    # PostgreSQL's INTEGER is 32 bits: too small for nanosecond times and file sizes.
    return Field(sa_column=Column(BigInteger, nullable=False))


def _timestamp(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Paper(SQLModel, table=True):
    """One paper, stored once whatever the number of dumps and feeds that list it.

    Its identity is the first it has of `arxiv_id`, `doi` and `entry_key` (a feed
    entry's guid or link within its feed), else `title_key` (the normalised
    title), which joins only papers whose identifiers do not conflict.
    """

    id: int | None = Field(default=None, primary_key=True)
    title: str
    title_key: str = Field(index=True)
    abstract: str = ""
    authors: list[str] = _json_list()
    author_count: int | None = None
    organization: str | None = None
    paper_date: date | None = None
    upvotes: int | None = None
    code_urls: list[str] = _json_list()
    project_urls: list[str] = _json_list()
    arxiv_id: str | None = Field(default=None, unique=True)
    url: str | None = None
    pdf_url: str | None = None
    categories: list[str] = _json_list()
    # Indexed: a digest's window, the web's recent papers and the newest few all start from it.
    first_seen_at: datetime = _timestamp(index=True)
    updated_at: datetime = _timestamp()
    doi: str | None = Field(default=None, index=True)
    entry_key: str | None = Field(default=None, index=True)
    # From Hugging Face's daily papers list (`bot.ingest.hf_daily`).
    hf_url: str | None = None
    list_day: date | None = None
    github_stars: int | None = None
    comments: int | None = None
    ai_summary: str | None = None
    # Added to tables holding rows: a default in the database fills theirs.
    ai_keywords: list[str] = Field(
        default_factory=_empty_list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    organization_name: str | None = None  # the Hub's short name; `organization` is the full one


class ImportedFile(SQLModel, table=True):
    """One attempt to ingest one file's content: what it held and how it went.

    A file whose path, size and modification time, or whose content hash,
    matches a successful import is skipped without being parsed.
    """

    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(index=True)
    content_hash: str = Field(index=True)
    size: int = _big_int()
    mtime_ns: int = _big_int()
    kind: str | None = None
    status: str  # "ok", "partial" (some papers dropped) or "failed"
    error: str | None = None
    warnings: list[str] = _json_list()
    papers_parsed: int = 0
    papers_new: int = 0
    papers_updated: int = 0
    imported_at: datetime = _timestamp()


class Feed(SQLModel, table=True):
    """A feed URL and what its last fetch said, for conditional GET and for reports."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True)
    name: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    kind: str | None = None
    last_fetched_at: datetime | None = _timestamp(nullable=True)
    last_status: str | None = None  # "ok", "not-modified", "unchanged" or "failed"
    last_error: str | None = None
    last_new: int = 0


class Sighting(SQLModel, table=True):
    """One paper listed by one source (an imported file or a feed fetch)."""

    __table_args__ = (Index("ix_sighting_paper_feed", "paper_id", "feed_id"),)

    id: int | None = Field(default=None, primary_key=True)
    paper_id: int = Field(foreign_key="paper.id", ondelete="CASCADE")
    imported_file_id: int | None = Field(default=None, foreign_key="importedfile.id")
    feed_id: int | None = Field(default=None, foreign_key="feed.id")
    page_date: date | None = None
    upvotes: int | None = None
    seen_at: datetime = _timestamp()


class Subscriber(SQLModel, table=True):
    """A person who receives digests, found by their address whatever its case.

    Unsubscribing keeps the row (with its delivery history), so subscribing
    again later does not send old papers a second time.

    A lab channel (a `Channel` no person owns) is a recipient too: a row of status
    "channel" whose `email` is "#" and the channel's name, whose one channel is
    that one, and whose topics are those routed to it (`ChannelRoute`). It is no
    subscriber: lists, exports and the web pages never show it.
    """

    id: int | None = Field(default=None, primary_key=True)
    email: str
    email_key: str = Field(unique=True)  # the address case-folded: one person, one row
    cadence: str = "daily"  # "daily", "weekly" or "paused" (nothing is sent)
    status: str = "active"  # "active", "unsubscribed" or "channel" (a lab channel's)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    unsubscribed_at: datetime | None = _timestamp(nullable=True)
    # An IANA name such as "Europe/Berlin"; None follows the configured schedule.timezone.
    timezone: str | None = None
    # Every feed token names it: raising it retires the feed addresses made before.
    feed_version: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    # Where digests go, in order: "email", "markdown" (a file on this server) or the
    # name of one of the subscriber's own `Channel`s. Empty: feeds only.
    channels: list[str] = Field(
        default_factory=lambda: ["email"],
        sa_column=Column(JSON, nullable=False, server_default='["email"]'),
    )


def _added_json_list() -> Any:
    # Added to tables holding rows: a default in the database fills theirs.
    return Field(
        default_factory=_empty_list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )


class Subscription(SQLModel, table=True):
    """One topic of a subscriber: what selects papers, what vetoes them (`bot.matching.engine.Rule`).

    Keywords, authors, organisations and categories select; exclusions (keywords)
    and the `exclude_*` lists veto; `min_upvotes` and `top` (the day's top N by
    upvotes) keep only trending papers.
    """

    __table_args__ = (UniqueConstraint("subscriber_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", ondelete="CASCADE", index=True)
    name: str
    keywords: list[str] = _json_list()
    exclusions: list[str] = _json_list()
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    authors: list[str] = _added_json_list()
    organisations: list[str] = _added_json_list()
    categories: list[str] = _added_json_list()
    exclude_authors: list[str] = _added_json_list()
    exclude_organisations: list[str] = _added_json_list()
    exclude_categories: list[str] = _added_json_list()
    min_upvotes: int | None = None
    top: int | None = None
    # How far the example papers' threshold moves: positive "more", negative "fewer".
    similarity_level: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )


class TopicExample(SQLModel, table=True):
    """A paper given as an example of a topic: liked (more like it) or unliked (fewer).

    A paper is one or the other in a topic, never both: marking it again replaces
    the mark. `source` says where the mark came from ("subscribe", "import",
    "web", "feedback"), for the manage page and the export.
    """

    subscription_id: int = Field(
        foreign_key="subscription.id", ondelete="CASCADE", primary_key=True
    )
    paper_id: int = Field(foreign_key="paper.id", ondelete="CASCADE", primary_key=True, index=True)
    liked: bool
    source: str
    added_at: datetime = _timestamp()


class PaperVector(SQLModel, table=True):
    """A paper's terms for similarity (`bot.matching.similarity.PaperTerms` as JSON).

    Computed once per paper text: `text_hash` is a hash of the title and abstract
    it was made from and `method` the recipe, so a changed text or recipe is
    recomputed and nothing else is.
    """

    paper_id: int = Field(foreign_key="paper.id", ondelete="CASCADE", primary_key=True)
    method: str
    text_hash: str
    terms: str


class Run(SQLModel, table=True):
    """One run of a job (ingest now, delivery later): when, how it ended, and why.

    `counts` holds the job's numbers ("papers_new": 12, ...). Its details, one
    entry per source or recipient, are `RunRow`s; `details` holds those of runs
    recorded before there were any. A run that never finished (the process was
    killed) keeps `finished_at` empty.
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    started_at: datetime = _timestamp()
    finished_at: datetime | None = _timestamp(nullable=True)
    status: str = "running"  # "running", "ok", "partial" or "failed"
    counts: dict[str, int] = Field(
        default_factory=_empty_dict, sa_column=Column(JSON, nullable=False)
    )
    details: list[dict[str, str]] = _json_list()


class RunRow(SQLModel, table=True):
    """One entry of a run's details, `number` ordering them within the run.

    `detail` is {"target", "outcome", "reason"}, with "routine": "yes" for a
    delivery skipped as the schedule intends.

    Apart from the run itself: a delivery run has one per subscriber's channel, and
    written as one value, 100,000 of them took 18 MB more at once.
    """

    run_id: int = Field(foreign_key="run.id", ondelete="CASCADE", primary_key=True)
    number: int = Field(primary_key=True)
    detail: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))


class Delivery(SQLModel, table=True):
    """One digest to one subscriber on one channel, and how it went.

    `status` is "sent", "failed" (`reason` holds the server's reply or the
    error) or "skipped" (`reason` says why: no new matches, paused...).
    """

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="run.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    channel: str  # "email", "markdown" or a `Channel`'s name
    status: str
    reason: str | None = None
    message_id: str | None = None
    attempts: int = 0
    papers: int = 0
    created_at: datetime = _timestamp()


class SentPaper(SQLModel, table=True):
    """The ledger: this paper reached this subscriber on this channel. The single truth of "sent".

    Written in the same transaction as the `Delivery` that says the message
    was accepted, so a paper is either recorded and delivered, or neither. Each
    channel of a subscriber has its own rows: a paper reaches each channel once.
    """

    subscriber_id: int = Field(foreign_key="subscriber.id", primary_key=True)
    channel: str = Field(primary_key=True)
    paper_id: int = Field(foreign_key="paper.id", primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id")
    sent_at: datetime = _timestamp()


class Channel(SQLModel, table=True):
    """A chat room or webhook digests go to (`bot.channels`).

    `kind` names its module ("slack", "discord", "matrix", "webhook"); `options`
    are its settings (`from_options`), secrets among them (webhook addresses,
    tokens), so they are shown only through the channel's `describe`. The owner
    lists the channel's `name` among their `Subscriber.channels`; a lab
    channel's owner is its own recipient row (see `Subscriber`).
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    kind: str
    subscriber_id: int = Field(foreign_key="subscriber.id", ondelete="CASCADE", index=True)
    options: dict[str, Any] = Field(
        default_factory=_empty_dict, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = _timestamp()


class ChannelRoute(SQLModel, table=True):
    """A topic whose matches also go to a lab channel, whoever owns the topic."""

    channel_id: int = Field(foreign_key="channel.id", ondelete="CASCADE", primary_key=True)
    subscription_id: int = Field(
        foreign_key="subscription.id", ondelete="CASCADE", primary_key=True, index=True
    )
    created_at: datetime = _timestamp()


class DeliveryRound(SQLModel, table=True):
    """One delivery at one time, shared by every worker that joins it.

    Started by a scheduled or command-line delivery; other `paperbot serve`
    workers on the same database join open rounds and take subscribers from the
    same list, so the work is shared. `only`, when set, limits the round to one
    address. A round is finished when a worker finds nothing left in it.
    """

    id: int | None = Field(default=None, primary_key=True)
    started_by: str
    started_at: datetime = _timestamp()
    only: str | None = None
    finished_at: datetime | None = _timestamp(nullable=True)


class DeliveryClaim(SQLModel, table=True):
    """Which worker is delivering to a subscriber now: at most one at a time.

    A worker claims a subscriber before planning their digest and marks the
    claim `settled` in the transaction that records the delivery, so no other
    worker of the same round touches that subscriber again. A claim whose
    `expires_at` has passed belongs to a worker that died: another may take it.
    """

    subscriber_id: int = Field(foreign_key="subscriber.id", ondelete="CASCADE", primary_key=True)
    round_id: int = Field(foreign_key="deliveryround.id", ondelete="CASCADE", index=True)
    holder: str
    expires_at: datetime = _timestamp()
    settled: bool = False


class JobLock(SQLModel, table=True):
    """A lock held in the database so two runs of one job never overlap.

    A lock whose `expires_at` has passed belongs to a run that died: the next
    run may take it over.
    """

    name: str = Field(primary_key=True)
    holder: str
    acquired_at: datetime = _timestamp()
    expires_at: datetime = _timestamp()


class AppSecret(SQLModel, table=True):
    """A secret paperbot generated for itself (the link-signing key), kept across restarts."""

    name: str = Field(primary_key=True)
    value: str


class JobState(SQLModel, table=True):
    """How the service's scheduled jobs are doing: one row per job, updated as they run.

    The scheduler keeps its own table of jobs and next run times; this one is
    what `paperbot health` and /healthz read, in plain columns.
    """

    name: str = Field(primary_key=True)
    last_started_at: datetime | None = _timestamp(nullable=True)
    last_finished_at: datetime | None = _timestamp(nullable=True)
    last_success_at: datetime | None = _timestamp(nullable=True)
    last_outcome: str | None = None  # "ok", "failed", or "running"
    last_error: str | None = None
    next_run_at: datetime | None = _timestamp(nullable=True)


class Heartbeat(SQLModel, table=True):
    """The running service's sign of life, renewed every few seconds."""

    name: str = Field(primary_key=True)
    holder: str
    started_at: datetime = _timestamp()
    beat_at: datetime = _timestamp()


class PendingSubscription(SQLModel, table=True):
    """A subscription asked for on the web, waiting for its address to be confirmed.

    `request` holds what was asked (keywords, exclusions, cadence, format, time
    zone), applied only when the link sent to the address is followed: nobody can
    subscribe, or change, someone else's address.
    """

    id: int | None = Field(default=None, primary_key=True)
    email: str
    email_key: str = Field(index=True)
    request: dict[str, Any] = Field(
        default_factory=_empty_dict, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = _timestamp()
    confirmed_at: datetime | None = _timestamp(nullable=True)


class ConfirmationCount(SQLModel, table=True):
    """How many confirmation emails went to one address on one UTC day, so they can be capped.

    `address` is a keyed hash of the address's `email_key`, not the address: most
    rows may be for people who never asked for anything (someone else typed
    their address), and a count needs no more than to tell addresses apart.
    Rows of earlier days are deleted as new ones are written.
    """

    address: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    sent: int = 0
