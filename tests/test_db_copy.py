"""Copying a populated SQLite database into a new one, on each database (SQLite and PostgreSQL).

The source is filled by the real code: a sample dump and a feed ingested, readers
subscribed, one delivery with the file transport (so the ledger has rows), and the
service's state. The copy must then hold the same rows, serve as the database from
then on (nothing sent twice, new rows numbered after the copied ones), and refuse
what it cannot copy safely, changing nothing.
"""

import re
import sqlite3
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Table, func, inspect, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col

from bot.config import Settings, load_settings
from bot.db import open_engine, schema_state, upgrade_schema, write_session
from bot.db_copy import copy_database
from bot.delivery.run import deliver
from bot.errors import StoreError
from bot.ingest.pipeline import FeedSource, FetchOptions, ingest_feed, ingest_file
from bot.locks import acquire
from bot.migrations import HEAD, alembic_config
from bot.models import Paper, Subscriber
from bot.paper_vectors import paper_vectors
from bot.service.state import STALE_AFTER, beat, job_finished, job_started, set_next_runs
from bot.subscriptions.channels import add_channel
from bot.subscriptions.examples import mark_example, topic_id
from bot.subscriptions.lab_channels import route_topic
from bot.subscriptions.spec import DEFAULT_TOPIC, make_spec
from bot.subscriptions.store import find_subscriber, subscribe, unsubscribe
from bot.tokens import read_token, signing_secret
from bot.web.confirmation import record_request
from tests.conftest import DATA, SAMPLES, StaticFeeds
from tests.delivery.conftest import ManualClock

BASE_URL = "https://papers.example.org"
TABLES = SQLModel.metadata.sorted_tables


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _settings(tmp_path: Path, database_url: str | None = None) -> Settings:
    """Settings with the file transport and signed links; the database in the data folder by default."""
    environ = {"PAPERBOT_DATA_DIR": str(tmp_path / "data"), "PAPERBOT_WEB_BASE_URL": BASE_URL}
    if database_url is not None:
        environ["PAPERBOT_DATABASE_URL"] = database_url
    return load_settings(environ=environ, cwd=tmp_path)


def _subscribe(
    engine: Engine, clock: ManualClock, email: str, *keywords: str, **options: Any
) -> None:
    with write_session(engine) as session:
        subscribe(session, make_spec(email, keywords, **options), now=clock())


def _populated(
    tmp_path: Path, clock: ManualClock, feed_server: StaticFeeds
) -> tuple[Engine, Settings]:
    """A SQLite database with rows in every table, written by paperbot's own code."""
    settings = _settings(tmp_path)
    engine = open_engine(settings.database_url)
    upgrade_schema(engine)
    assert ingest_file(engine, SAMPLES / "spaced-1.txt", clock=clock, year=2025).status == "ok"
    feed_server.documents["/rss/cs.LG"] = (DATA / "feeds" / "arxiv_cs_LG.rss.xml").read_bytes()
    feed = FeedSource(feed_server.url("/rss/cs.LG"), name="cs.LG")
    options = FetchOptions(timeout=10, deadline=40, user_agent="paperbot-tests")
    assert ingest_feed(engine, feed, clock=clock, options=options).status == "ok"
    _subscribe(engine, clock, "ana@lab.org", "graph neural network")
    _subscribe(engine, clock, "Bo@Lab.org", "backpropagation", channels=["markdown"])
    _subscribe(engine, clock, "cy@lab.org", "diffusion", cadence="weekly", timezone="Asia/Tokyo")
    _subscribe(engine, clock, "dee@lab.org", "transformer")
    with write_session(engine) as session:
        add_channel(
            session, "cy-hook", "webhook", {"url": "http://127.0.0.1:9/hook", "secret": "a-long-enough-s3cret"},
            owner="cy@lab.org", now=clock(), use=False,
        )  # fmt: skip
        unsubscribe(session, "dee@lab.org", now=clock())
        ids = session.scalars(select(col(Paper.id)).order_by(col(Paper.id)).limit(2))
        first, second = (int(pid or 0) for pid in ids)
        subscriber = find_subscriber(session, "ana@lab.org")
        assert subscriber is not None
        ana = topic_id(session, subscriber.id, None)
        mark_example(session, ana, first, liked=True, source="feedback", now=clock())
        mark_example(session, ana, second, liked=False, source="web", now=clock())
        paper_vectors(session, [first, second])
    report = deliver(engine, settings, clock=clock)
    assert {o.status for o in report.outcomes} == {"sent"}
    with write_session(engine) as session:  # a lab channel, after the digests: it would fail
        add_channel(
            session, "lab-hook", "webhook", {"url": "http://127.0.0.1:9/lab", "secret": "a-long-enough-s3cret"},
            owner=None, now=clock(),
        )  # fmt: skip
        route_topic(session, "lab-hook", DEFAULT_TOPIC, owner="ana@lab.org", now=clock())
    # The service's state, as `paperbot serve` leaves it after a clean stop an hour ago.
    earlier = clock() - timedelta(hours=1, microseconds=-123_456)  # sub-second times too
    beat(engine, holder="old-host:41", started_at=earlier - timedelta(days=3), now=earlier)
    acquire(engine, "schedule", holder="old-host:41", now=earlier, lease=timedelta(minutes=1))
    job_started(engine, "digest", now=earlier)
    job_finished(engine, "digest", now=earlier, outcome="ok")
    set_next_runs(engine, {"digest": clock() + timedelta(hours=23), "inbox": None})
    eve = make_spec("eve@lab.org", ["graphs"])
    assert record_request(engine, eve, now=earlier, secret="s", per_day=3) is not None
    return engine, settings


def _rows(engine: Engine, table: Table) -> list[tuple[Any, ...]]:
    """Every row of `table`, in primary key order, as the column types read them."""
    with engine.connect() as connection:
        statement = select(table).order_by(*table.primary_key.columns)
        return [tuple(row) for row in connection.execute(statement)]


def _everything(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    return {table.name: _rows(engine, table) for table in TABLES}


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def test_every_row_is_copied_and_the_copy_carries_on(
    tmp_path: Path, database_url: str, clock: ManualClock, feed_server: StaticFeeds
) -> None:
    source, source_settings = _populated(tmp_path, clock, feed_server)
    before = _everything(source)
    assert all(before.values()), [name for name, rows in before.items() if not rows]
    target = open_engine(database_url)

    counts = copy_database(source, target, clock=clock, chunk=7)  # many chunks per table

    assert list(counts) == [table.name for table in TABLES]
    assert counts == {name: len(rows) for name, rows in before.items()}
    assert _everything(target) == before
    assert _everything(source) == before  # the source was only read
    assert schema_state(target).current == HEAD
    back = open_engine(f"sqlite:///{tmp_path / 'back.db'}")  # and back, read from the target
    assert copy_database(target, back, clock=clock) == counts
    assert _everything(back) == before
    # Values keep their types, not only their equality: aware times, lists, dicts, booleans.
    with Session(target) as session:
        ana = session.scalars(
            select(Subscriber).where(col(Subscriber.email) == "ana@lab.org")
        ).one()
    assert ana.created_at == clock() and ana.created_at.tzinfo is not None
    assert {row[-1] for row in _rows(target, _table("deliveryclaim"))} == {True}  # settled
    [pending] = _rows(target, _table("pendingsubscription"))
    assert pending[3]["keywords"] == ["graphs"]
    [mtime_ns] = [row[4] for row in _rows(target, _table("importedfile"))]
    assert mtime_ns > 2**31  # a big integer, kept whole

    # The target takes over: nothing already sent is sent again...
    settings = _settings(tmp_path, database_url)
    assert (
        settings.database_url == database_url and settings.outbox_dir == source_settings.outbox_dir
    )
    emails = sorted(settings.outbox_dir.glob("*.eml"))
    ledger = _rows(target, _table("sentpaper"))
    clock.now += timedelta(days=1)
    again = deliver(target, settings, clock=clock)
    reasons = {o.email: (o.status, o.reason) for o in again.outcomes}
    assert reasons["ana@lab.org"] == reasons["Bo@lab.org"] == ("skipped", "no new matching papers")
    assert reasons["cy@lab.org"][1].startswith("weekly digest already sent at 2025-11-22 17:00 JST")
    assert _rows(target, _table("sentpaper")) == ledger
    assert sorted(settings.outbox_dir.glob("*.eml")) == emails

    # ...the links in digests already sent still work (the signing secret came along)...
    [eml] = [path for path in emails if "ana" in path.name]
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    link = re.search(rf"{BASE_URL}/unsubscribe/(\S+)>", message["List-Unsubscribe"])
    assert link is not None
    secret = signing_secret(target, "")
    assert secret == signing_secret(source, "")
    assert read_token(secret, "unsubscribe", link.group(1)).subscriber_id == ana.id

    # ...and new rows are numbered after the copied ones (on PostgreSQL: the sequences moved).
    _subscribe(target, clock, "fay@lab.org", "graph neural network")
    assert ingest_file(target, SAMPLES / "compact-1.txt", clock=clock, year=2025).new > 0
    report = deliver(target, settings, clock=clock)
    assert ("fay@lab.org", "sent") in [(o.email, o.status) for o in report.outcomes]
    for name in ("subscriber", "subscription", "paper", "sighting", "importedfile", "run"):
        ids = [row[0] for row in _rows(target, _table(name))]
        assert len(ids) > len(before[name]) and ids[: len(before[name])] == [
            row[0] for row in before[name]
        ], name
    assert set(ledger) < set(_rows(target, _table("sentpaper")))


def test_a_target_with_rows_is_refused_and_left_as_it_was(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    source = open_engine(f"sqlite:///{tmp_path / 'source.db'}")
    upgrade_schema(source)
    _subscribe(source, clock, "ana@lab.org", "graphs")
    target = open_engine(database_url)
    upgrade_schema(target)
    _subscribe(target, clock, "bo@lab.org", "diffusion")
    before = _everything(target)

    with pytest.raises(StoreError) as refused:
        copy_database(source, target, clock=clock)

    assert str(refused.value) == (
        "the target database is not empty: table subscriber has rows;"
        " copy into an empty database (the target was left as it was)"
    )
    assert _everything(target) == before


def test_a_target_with_rows_at_an_old_revision_keeps_its_schema(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    # The target's upgrade is part of the copy's transaction: refused, it is undone too.
    source = open_engine(f"sqlite:///{tmp_path / 'source.db'}")
    upgrade_schema(source)
    target = open_engine(database_url)
    with target.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
    with target.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO appsecret (name, value) VALUES ('link-signing', 'x')"
        )
    tables = set(inspect(target).get_table_names())

    with pytest.raises(StoreError, match="table appsecret has rows"):
        copy_database(source, target, clock=clock)

    assert schema_state(target).current == "0002"
    assert set(inspect(target).get_table_names()) == tables


def test_a_source_behind_the_newest_schema_is_refused(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    source = open_engine(f"sqlite:///{tmp_path / 'source.db'}")
    with source.begin() as connection:
        command.upgrade(alembic_config(connection), "0004")
    target = open_engine(database_url)

    with pytest.raises(StoreError) as refused:
        copy_database(source, target, clock=clock)

    assert str(refused.value) == (
        f"the database schema is at 0004, paperbot needs {HEAD}:"
        " run `paperbot db upgrade` first, then copy"
    )
    assert inspect(target).get_table_names() == []
    assert schema_state(source).current == "0004"


def test_a_source_where_the_service_runs_is_refused(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    source = open_engine(f"sqlite:///{tmp_path / 'source.db'}")
    upgrade_schema(source)
    beat(source, holder="host:7", started_at=clock(), now=clock() - STALE_AFTER)
    target = open_engine(database_url)

    with pytest.raises(
        StoreError, match=r"`paperbot serve` is running on this database \(worker host:7\)"
    ):
        copy_database(source, target, clock=clock)
    assert inspect(target).get_table_names() == []

    clock.now += timedelta(seconds=1)  # the heartbeat is stale: the worker is gone
    assert copy_database(source, target, clock=clock)["heartbeat"] == 1


def test_a_copy_that_fails_midway_leaves_the_target_empty(
    tmp_path: Path, database_url: str, clock: ManualClock, feed_server: StaticFeeds
) -> None:
    source, _ = _populated(tmp_path, clock, feed_server)
    # A ledger row naming a delivery that does not exist, written with foreign keys off:
    # the target checks them, so the copy fails at the last table, after all the others.
    path = _file(source)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO sentpaper (subscriber_id, channel, paper_id, delivery_id, sent_at)"
            " VALUES (4, 'email', (SELECT max(id) FROM paper), 999, '2025-11-22 08:00:00.000000')"
        )
    target = open_engine(database_url)

    with pytest.raises(StoreError) as failed:
        copy_database(source, target, clock=clock)

    assert str(failed.value).startswith(
        "copying table sentpaper failed, the target database is left as it was: "
    )
    assert "\n" not in str(failed.value)
    assert inspect(target).get_table_names() == []  # not even the schema is left
    upgrade_schema(target)
    assert all(_count(target, table) == 0 for table in TABLES)


def _file(engine: Engine) -> Path:
    """The file of a SQLite engine."""
    assert engine.url.database is not None
    return Path(engine.url.database)
