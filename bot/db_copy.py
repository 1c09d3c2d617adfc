"""Copying a paperbot database into another, empty one: the SQLite file to PostgreSQL, say.

Every table of the models is copied row for row, ids included, so the ledger
(who got which paper), the signing secret (links in digests already sent keep
working) and everything else mean the same in the target. The copy is one
transaction on the target, schema included: a copy that fails leaves the target
as it was.

Two tables are not copied: Alembic's `alembic_version` (the target records its
own revision when its schema is made, the same as the source's) and APScheduler's
`apscheduler_jobs` (its jobs' pickled state, which `paperbot serve` recreates from
the settings when it starts). Neither is in the models' metadata, which lists
what is copied.

The copy is portable SQL but for one step on a PostgreSQL target: the copied
rows keep their ids, so each table's id sequence is then moved past them
(`_reset_sequences`). A PostgreSQL source is read at REPEATABLE READ, the
snapshot SQLite's WAL gives a read transaction anyway.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Integer, Table, func, insert, literal, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, StatementError
from sqlmodel import SQLModel, col

from bot import migrations
from bot.clock import Clock
from bot.db import error_message, schema_state, write_transaction
from bot.errors import StoreError
from bot.models import Heartbeat
from bot.service.state import STALE_AFTER

COPY_CHUNK = 1_000
"""Rows read from the source and inserted into the target at a time."""


def copy_database(
    source: Engine, target: Engine, *, clock: Clock, chunk: int = COPY_CHUNK
) -> dict[str, int]:
    """Copy every row of `source` into `target`; return the rows copied per table, in copy order.

    `source` must be at the newest schema revision, and no `paperbot serve` may
    be running on it (what it sent after the copy would be sent again from the
    target). `target` is upgraded to the newest revision (its tables created when
    it is empty) and must then hold no rows in any paperbot table. Tables are
    copied parents first, `chunk` rows at a time, from one consistent read of the
    source, all in one transaction on the target that holds its write lock. On
    PostgreSQL each id sequence is then moved past the copied ids.

    Raises `StoreError` when a database cannot be opened, when either is refused,
    and when the copy fails (the target is then left as it was).
    """
    schema = schema_state(source)
    if schema.behind:
        raise StoreError(
            f"the database schema is at {schema.current or 'nothing (an empty database)'},"
            f" paperbot needs {schema.head}: run `paperbot db upgrade` first, then copy"
        )
    _refuse_running_service(source, clock())
    tables = SQLModel.metadata.sorted_tables
    with _connect(target, "target") as writer, _connect(source, "source") as reader:
        try:
            with write_transaction(writer):
                _upgrade_target(writer)
                _refuse_rows(writer, tables)
                with _snapshot(reader):
                    counts = {
                        table.name: _copy_table(reader, writer, table, chunk) for table in tables
                    }
                if writer.dialect.name == "postgresql":
                    _reset_sequences(writer, tables, counts)
        except StatementError as exc:
            raise StoreError(
                f"the copy failed, the target database is left as it was: {error_message(exc)}"
            ) from exc
    return counts


def _refuse_running_service(source: Engine, now: datetime) -> None:
    """Refuse a source where a `paperbot serve` worker's heartbeat is fresh."""
    with _connect(source, "source") as connection:
        alive = connection.scalars(
            select(col(Heartbeat.holder))
            .where(col(Heartbeat.beat_at) >= now - STALE_AFTER)
            .order_by(col(Heartbeat.beat_at).desc())
        ).first()
    if alive is not None:
        raise StoreError(
            f"`paperbot serve` is running on this database (worker {alive}): stop it first,"
            " or what it sends after the copy would be sent again from the target"
        )


def _connect(engine: Engine, side: str) -> Connection:
    try:
        return engine.connect()
    except DBAPIError as exc:
        raise StoreError(f"cannot open the {side} database: {_hidden(exc, engine)}") from exc


def _hidden(exc: DBAPIError, engine: Engine) -> str:
    """The driver's message, with the URL's password replaced, should the driver quote it."""
    message = error_message(exc)
    password = engine.url.password
    return message.replace(password, "***") if password else message


def _upgrade_target(writer: Connection) -> None:
    """Bring the target's schema to the newest revision, in the copy's transaction."""
    try:
        migrations.upgrade(writer)
    except StoreError as exc:
        raise StoreError(f"cannot copy into the target database: {exc}") from exc


def _refuse_rows(writer: Connection, tables: list[Table]) -> None:
    """Refuse a target that holds rows in any paperbot table: a copy never merges."""
    for table in tables:
        if writer.execute(select(literal(1)).select_from(table).limit(1)).first() is not None:
            raise StoreError(
                f"the target database is not empty: table {table.name} has rows;"
                " copy into an empty database (the target was left as it was)"
            )


@contextmanager
def _snapshot(reader: Connection) -> Iterator[None]:
    """One read transaction on the source, every table read as of the same moment.

    SQLite in WAL mode keeps the snapshot of a transaction's first read. PostgreSQL's
    default (READ COMMITTED) would see each statement's latest commits: a ledger row
    could then name a delivery read before it was written.
    """
    if reader.dialect.name == "postgresql":
        reader.execution_options(isolation_level="REPEATABLE READ")
    with reader.begin():
        yield


def _copy_table(reader: Connection, writer: Connection, table: Table, chunk: int) -> int:
    """Copy all of `table`'s rows, in primary key order, `chunk` at a time; return how many."""
    statement = select(table).order_by(*table.primary_key.columns)
    copied = 0
    try:
        result = reader.execute(statement.execution_options(yield_per=chunk))
        for rows in result.partitions():
            writer.execute(insert(table), [dict(row._mapping) for row in rows])
            copied += len(rows)
    except StatementError as exc:
        raise StoreError(
            f"copying table {table.name} failed, the target database is left as it was:"
            f" {error_message(exc)}"
        ) from exc
    return copied


def _reset_sequences(writer: Connection, tables: list[Table], counts: dict[str, int]) -> None:
    """PostgreSQL only: move each table's id sequence to the largest id copied.

    The copied rows keep their ids, given explicitly, so the sequences that number
    new rows have not moved: the next insert would take id 1 and collide. SQLite
    needs no such step, as it numbers a new row after the largest id in its table.
    Only tables with an integer `id` key and a sequence behind it (SERIAL) have one.
    """
    for table in tables:
        key = table.primary_key.columns
        if counts[table.name] == 0 or list(key.keys()) != ["id"]:
            continue
        if not isinstance(key["id"].type, Integer):
            continue
        name = writer.dialect.identifier_preparer.format_table(table)
        sequence = writer.scalar(select(func.pg_get_serial_sequence(name, "id")))
        if sequence is not None:
            largest = select(func.max(key["id"])).scalar_subquery()
            writer.execute(select(func.setval(sequence, largest)))
