import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, col

from bot.db import (
    append_connection,
    append_transaction,
    bulk_insert,
    changed_rows,
    insert_row,
    open_engine,
    upgrade_schema,
    write_session,
)
from bot.errors import StoreError
from bot.models import Paper
from tests.postgres import PostgresCluster

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


def test_rows_inserted_through_the_driver_read_back_as_the_orm_writes_them(engine: Engine) -> None:
    # insert_row and bulk_insert go straight to the driver on SQLite: what they store
    # must be what the ORM would (timestamps in UTC, JSON lists), with the new ids.
    table = Paper.__table__  # type: ignore[attr-defined]
    # Every column, as the ORM would send it (the driver path fills in no defaults).
    row = {**_paper("one").model_dump(exclude={"id"}), "authors": ["Ada", "Grace"]}
    with append_transaction(engine) as connection:
        first = insert_row(connection, table, row)
        more = [{**row, "title": f"t{n}", "title_key": f"t{n}"} for n in range(3)]
        bulk_insert(connection, table, more)
    with pytest.raises(RuntimeError), append_transaction(engine) as connection:
        insert_row(connection, table, {**row, "title": "lost", "title_key": "lost"})
        raise RuntimeError("rolled back")
    with Session(engine) as session:
        papers = session.scalars(select(Paper).order_by(col(Paper.id))).all()
    assert [(p.id, p.title) for p in papers] == [(first, "one")] + [
        (r["id"], r["title"]) for r in more
    ]
    assert all(p.first_seen_at == NOW and p.authors == ["Ada", "Grace"] for p in papers)


def test_changed_rows_binds_the_given_values_and_those_fixed_in_the_statement(
    engine: Engine,
) -> None:
    # On SQLite straight to the driver: each value converted as SQLAlchemy would (the
    # fixed timestamp stored in UTC), the rows it matched counted.
    table = Paper.__table__  # type: ignore[attr-defined]
    later = datetime(2025, 6, 1, 12, tzinfo=UTC)
    with write_session(engine) as session:
        session.add_all([_paper("a"), _paper("b"), _paper("c")])
    statement = (
        update(table)
        .where(table.c.title == bindparam("b_title"))
        .values(updated_at=later, abstract=bindparam("b_abstract"))
    )
    with append_transaction(engine) as connection:
        assert changed_rows(connection, statement, {"b_title": "b", "b_abstract": "seen"}) == 1
        assert changed_rows(connection, statement, {"b_title": "z", "b_abstract": "x"}) == 0
    with Session(engine) as session:
        query = select(col(Paper.title), col(Paper.abstract), col(Paper.updated_at))
        rows = [tuple(row) for row in session.execute(query)]
    assert sorted(rows) == [("a", "", NOW), ("b", "seen", later), ("c", "", NOW)]


def test_a_kept_append_connection_writes_one_transaction_after_another(engine: Engine) -> None:
    table = Paper.__table__  # type: ignore[attr-defined]
    row = {**_paper("one").model_dump(exclude={"id"}), "arxiv_id": "2401.00001"}
    with append_connection(engine) as connection:
        with append_transaction(connection):
            insert_row(connection, table, row)
        with pytest.raises(RuntimeError), append_transaction(connection):
            insert_row(connection, table, {**row, "title": "lost", "arxiv_id": "2401.00002"})
            raise RuntimeError("rolled back")
        # A statement the database refuses (an arXiv id twice) is SQLAlchemy's
        # error, whichever path it took, and leaves the connection usable.
        with pytest.raises(DBAPIError), append_transaction(connection):
            insert_row(connection, table, row)
        with append_transaction(connection):
            insert_row(connection, table, {**row, "title": "two", "arxiv_id": "2401.00003"})
    with Session(engine) as session:
        assert sorted(session.scalars(select(col(Paper.title)))) == ["one", "two"]


def test_writers_take_turns_instead_of_failing(database_url: str) -> None:
    first, second = open_engine(database_url), open_engine(database_url)
    upgrade_schema(first)
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


def test_a_writer_gives_up_after_the_busy_timeout(database_url: str) -> None:
    holder = open_engine(database_url)
    upgrade_schema(holder)
    waiter = open_engine(database_url, busy_timeout=0.3)
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            with write_session(waiter) as session:
                session.add(_paper("second"))
            outcome.append(None)
        except Exception as exc:
            outcome.append(exc)

    with write_session(holder) as session:
        session.add(_paper("first"))
        session.flush()
        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=20)  # still waiting then: the timeout was not applied
        assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], OperationalError)
    with Session(holder) as session:  # the holder's write stands, the waiter's never was
        assert session.scalars(select(col(Paper.title))).all() == ["first"]


def test_postgresql_ends_a_writer_frozen_in_its_transaction(postgres: PostgresCluster) -> None:
    # PostgreSQL only: SQLite has no server to end a stuck writer's transaction.
    url = postgres.url(postgres.create_database())
    frozen = open_engine(url, idle_transaction_timeout=0.5)
    other = open_engine(url, busy_timeout=20)
    upgrade_schema(other)
    ended = pytest.raises(DBAPIError, match="idle-in-transaction timeout")
    with ended, write_session(frozen) as session:
        session.add(_paper("first"))
        session.flush()
        # The frozen writer sends nothing while it holds the writers' lock; the other
        # takes the lock once the server has ended that transaction, instead of
        # failing after its busy timeout.
        with write_session(other) as session_of_other:
            session_of_other.add(_paper("second"))
        session.add(_paper("third"))  # woken up: its connection is gone
    with Session(other) as session:  # the frozen writer's rows were rolled back
        assert session.scalars(select(col(Paper.title))).all() == ["second"]


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
        upgrade_schema(open_engine(f"sqlite:///{blocker / 'x.db'}"))
