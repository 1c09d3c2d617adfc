import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateTable
from sqlmodel import Session, SQLModel

from bot.db import create_schema, open_engine, write_session
from bot.errors import StoreError
from bot.models import Paper, Subscriber

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def _paper(title: str) -> Paper:
    return Paper(title=title, title_key=title.lower(), first_seen_at=NOW, updated_at=NOW)


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    # SQLite only: its pragmas, and the folder of its file created on demand.
    engine = open_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}", busy_timeout=7)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 7000
    assert (tmp_path / "sub" / "x.db").exists()


def test_a_failed_write_leaves_the_database_as_it_was(engine: Engine) -> None:
    with write_session(engine) as session:
        session.add(_paper("kept"))
    with pytest.raises(RuntimeError), write_session(engine) as session:
        session.add(_paper("lost"))
        session.flush()
        raise RuntimeError("boom")
    with Session(engine) as session:
        assert [p.title for p in session.scalars(select(Paper))] == ["kept"]


def test_timestamps_come_back_aware_in_utc(engine: Engine) -> None:
    with write_session(engine) as session:
        session.add(_paper("t"))
    with Session(engine) as session:
        paper = session.scalars(select(Paper)).one()
    assert paper.first_seen_at == NOW and paper.first_seen_at.tzinfo is not None


def test_writers_take_turns_instead_of_failing(database_url: str) -> None:
    first, second = open_engine(database_url), open_engine(database_url)
    create_schema(first)
    holding = threading.Event()

    def slow_writer() -> None:
        with write_session(first) as session:
            session.add(_paper("first"))
            session.flush()
            holding.set()
            time.sleep(0.5)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    holding.wait()
    with write_session(second) as session:  # waits for the lock, then writes
        count = session.scalar(select(func.count()).select_from(Paper))
        session.add(_paper("second"))
    thread.join()
    assert count == 1  # it saw the first writer's row: the two did not overlap


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://paperbot@db.example/paperbot", "psycopg"),  # psycopg 3, not psycopg2
        ("postgresql+psycopg://paperbot@db.example/paperbot", "psycopg"),
    ],
)
def test_a_plain_postgresql_url_uses_psycopg_3(url: str, driver: str) -> None:
    engine = open_engine(url)  # connects on first use only: nothing is reached here
    assert engine.dialect.driver == driver


def test_a_bad_database_url_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match=r"database\.url"):
        open_engine("not a url")


def test_an_unwritable_database_is_a_store_error(tmp_path: Path) -> None:
    # SQLite only: a file that cannot be created.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the database"):
        create_schema(open_engine(f"sqlite:///{blocker / 'x.db'}"))


def _old_schema(engine: Engine, table_name: str, *dropped: str) -> None:
    """Create every table as an earlier version did: `table_name` without the `dropped` columns."""
    with engine.begin() as connection:
        for table in SQLModel.metadata.sorted_tables:
            ddl = str(CreateTable(table).compile(dialect=engine.dialect))
            if table.name == table_name:
                for column in dropped:
                    ddl, found = re.subn(rf"\n\t{column} [^\n]*,", "", ddl)
                    assert found == 1, ddl
            connection.exec_driver_sql(ddl)


def test_columns_missing_from_an_older_database_are_added_and_rows_kept(
    database_url: str,
) -> None:
    engine = open_engine(database_url)
    _old_schema(engine, "subscriber", "timezone", "cadence")
    with engine.begin() as connection:
        columns = [c["name"] for c in inspect(connection).get_columns("subscriber")]
        assert "timezone" not in columns and "cadence" not in columns
        connection.exec_driver_sql(
            "INSERT INTO subscriber (email, email_key, format, status, created_at, updated_at)"
            " VALUES ('Ana@lab.org', 'ana@lab.org', 'email', 'active',"
            " '2024-01-01 00:00:00', '2024-01-01 00:00:00')"
        )
    create_schema(engine)
    create_schema(engine)  # again: nothing left to add, nothing changes
    with Session(engine) as session:
        [subscriber] = session.scalars(select(Subscriber)).all()
        assert (subscriber.email, subscriber.timezone, subscriber.cadence) == (
            "Ana@lab.org",
            None,  # nullable: NULL in the rows already there
            "daily",  # required with a default: the default
        )
    with write_session(engine) as session:
        subscriber.timezone = "Asia/Tokyo"
        session.add(subscriber)
    with Session(engine) as session:
        assert session.scalars(select(Subscriber.timezone)).one() == "Asia/Tokyo"


@pytest.mark.parametrize(
    "column",
    [
        Column("size", Integer, nullable=False),  # required, and no default for old rows
        Column("size", Integer, nullable=False, default=lambda: 1),  # only Python knows it
        Column("size", String, nullable=True, unique=True),
        Column("size", String, nullable=True, index=True, unique=True),
    ],
)
def test_a_column_that_cannot_be_added_in_place_is_one_clear_error(
    database_url: str, column: Column[object]
) -> None:
    engine = open_engine(database_url)
    old, new = MetaData(), MetaData()
    Table("thing", old, Column("id", Integer, primary_key=True))
    # A copy: the parameter's column is shared by the runs on each database.
    Table(
        "thing",
        new,
        Column("id", Integer, primary_key=True),
        Column("note", String),
        column._copy(),
    )
    create_schema(engine, old)
    with pytest.raises(StoreError, match="table thing lacks the column size"):
        create_schema(engine, new)
    with engine.connect() as connection:  # all or nothing: "note" was not added either
        assert [c["name"] for c in inspect(connection).get_columns("thing")] == ["id"]


def test_added_columns_get_their_indexes_and_defaults_of_every_kind(database_url: str) -> None:
    engine = open_engine(database_url)
    old, new = MetaData(), MetaData()
    Table("thing", old, Column("id", Integer, primary_key=True))
    Table(
        "thing",
        new,
        Column("id", Integer, primary_key=True),
        Column("at", String, nullable=False, default="08:00", index=True),
        Column("count", Integer, nullable=False, default=3),
        Column("on", Boolean, nullable=False, default=True),
        Column("note", String, nullable=False, server_default="it's"),
    )
    create_schema(engine, old)
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO thing (id) VALUES (1)")
    create_schema(engine, new)
    with engine.connect() as connection:
        row = connection.exec_driver_sql('SELECT at, count, "on", note FROM thing').one()
        indexes = inspect(connection).get_indexes("thing")
    assert tuple(row) == ("08:00", 3, 1, "it's")
    assert [i["column_names"] for i in indexes] == [["at"]]
