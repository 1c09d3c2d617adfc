"""The database edge: engine, schema upgrades, sessions, write transactions.

SQLite is the embedded default: WAL so readers never wait on a writer,
foreign keys on, and a busy timeout so a second process waits instead of
failing. Writes that read before they write take SQLite's write lock at BEGIN
(`write_session`), so two concurrent ingests cannot both decide a paper is new.

PostgreSQL (psycopg 3) runs the same code. There `write_session` takes one
transaction-scoped advisory lock first: writers take turns exactly as on SQLite,
while readers, as in WAL, never wait.
"""

import functools
import json
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import JSON, Table, event, func, insert, select
from sqlalchemy.engine import URL, Connection, Dialect, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    StatementError,
)
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import TypeEngine
from sqlmodel import Session, create_engine

from bot import migrations, models  # noqa: F401  (models registers the tables on SQLModel.metadata)
from bot.errors import StoreError

_WRITE = "paperbot_write"

_WRITE_LOCK_KEY = 0x7061706572626F74  # "paperbot": the advisory lock of PostgreSQL writers
"""Any fixed bigint works; this one is unlikely to collide with another application's."""


def open_engine(
    url: str,
    *,
    busy_timeout: float = 30.0,
    idle_transaction_timeout: float = 60.0,
    name: str = "database.url",
) -> Engine:
    """Create an engine for `url`, creating a SQLite file's folder when needed.

    `busy_timeout`: seconds a write waits for a lock before failing.
    `idle_transaction_timeout` (PostgreSQL): seconds a transaction may send nothing
    before the server ends it and releases its locks.

    A plain `postgresql://` URL would make SQLAlchemy load psycopg2, which paperbot
    does not install: it is read as `postgresql+psycopg://` (psycopg 3, the
    `postgres` extra). An explicit driver (`postgresql+psycopg2://`) is kept.
    `name` is what error messages call the URL, which they never show: it may
    hold a password.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        # The URL may hold a password: keep it out of the message and the traceback.
        raise StoreError(f"{name} is not a valid database URL") from None
    except ValueError:  # from int() of the port
        raise StoreError(f"{name} is not a valid database URL: its port is not a number") from None
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = _create_engine(parsed, name, pool_pre_ping=True)
        _configure_postgresql(engine, busy_timeout, idle_transaction_timeout)
        return engine
    if parsed.get_backend_name() != "sqlite":
        return _create_engine(parsed, name, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot open the database: cannot create folder {folder}: {exc.strerror}"
            ) from exc
    engine = _create_engine(parsed, name, connect_args={"timeout": busy_timeout})
    _configure_sqlite(engine, busy_timeout)
    return engine


def sqlite_file(url: str) -> Path | None:
    """The file a `sqlite:///` URL names; None for other databases and in-memory ones."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None  # not a URL at all: `open_engine` says so
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None  # a URI filename (`?uri=true`): SQLite decides what it names
    return Path(parsed.database)


def _create_engine(url: URL, name: str, **options: Any) -> Engine:
    try:
        return create_engine(url, json_serializer=_to_json, json_deserializer=_from_json, **options)
    except NoSuchModuleError:
        raise StoreError(
            f"{name} names a database paperbot cannot use ({url.drivername}):"
            " use a sqlite:/// or postgresql:// URL"
        ) from None
    except ImportError as exc:
        postgresql = url.get_backend_name() == "postgresql"
        hint = "; install paperbot's `postgres` extra" if postgresql else ""
        raise StoreError(
            f"the driver for {name} ({url.drivername}) is not installed: {exc}{hint}"
        ) from None


def _to_json(value: Any) -> str:
    # Most list columns are empty; answering those directly halves the cost of bulk inserts.
    if isinstance(value, list) and not value:
        return "[]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _from_json(text: str | bytes) -> Any:
    # The same for reading: a delivery run reads nine list columns of every topic.
    if text == "[]" or text == b"[]":
        return []
    return json.loads(text)


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        _enable_wal(cursor, busy_timeout)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        # Straight to the driver: a delivery run begins a transaction per message.
        _on_driver(connection, "BEGIN IMMEDIATE" if write else "BEGIN", ())


def _configure_postgresql(
    engine: Engine, busy_timeout: float, idle_transaction_timeout: float
) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # A statement run many times on one connection (each ledger row's foreign-key
        # check, say) gets a generic plan fixed after a few runs. Made while a table was
        # still nearly empty, that plan scans the whole table and stays, so a new
        # installation's first big delivery slowed down message by message (3x by
        # 10,000). Planning each run anew costs little for paperbot's small statements.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_custom_plan")
            # lock_timeout plays SQLite's busy timeout: wait that long for a lock (the
            # writers' lock below, a row another worker is writing), then fail. Set once
            # per connection, not per transaction: a delivery records each message in a
            # transaction of its own, and a statement more each was a round trip more.
            cursor.execute(f"SET lock_timeout = {_milliseconds(busy_timeout)}")
            # A worker frozen (a paused VM) or cut off (a lost host) inside a write
            # transaction would keep the writers' lock until it wakes or TCP gives up
            # on it, hours later, and every other worker's writes would fail meanwhile.
            # Between its statements a paperbot transaction only waits for its own
            # computing (seconds for the largest dump), so a silent one is a stuck one.
            cursor.execute(
                f"SET idle_in_transaction_session_timeout = {_milliseconds(idle_transaction_timeout)}"
            )
        dbapi_connection.commit()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_WRITE) != "exclusive":
            return  # a read, or an append (see `write_session`): no writers' lock
        # PostgreSQL's equivalent of BEGIN IMMEDIATE. Under READ COMMITTED two writers
        # could both read "no such paper" (or "lock free") and both insert; SERIALIZABLE
        # would instead fail one of them at commit, and these blocks cannot be replayed.
        # So each write transaction first takes one advisory lock, held until it ends:
        # writers run one at a time, and as every statement of READ COMMITTED reads the
        # latest commits, each sees all that the writers before it stored. Readers never
        # wait. (Executed while SQLAlchemy begins: psycopg opens the transaction with it.)
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK_KEY,))


def _milliseconds(seconds: float) -> int:
    # PostgreSQL reads 0 as "no timeout": a positive setting stays at least 1 ms.
    return max(1, round(seconds * 1000))


def _enable_wal(cursor: Any, busy_timeout: float) -> None:
    # WAL is a property of the file, set once. Switching a new file to it needs an
    # exclusive lock, and SQLite refuses at once, busy timeout or not, while another
    # process has the file open: so retry until the timeout runs out.
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def upgrade_schema(engine: Engine) -> migrations.Upgrade:
    """Bring the database's schema to the newest revision (`alembic upgrade head`).

    A new database gets every table; one made before migrations is first
    recorded as the revision its tables match. Rows already stored are kept.
    """
    try:
        with engine.connect() as connection:
            before = migrations.state(connection)
        if not before.behind:  # the usual case: nothing to do, and no write lock taken
            return migrations.Upgrade(before, before.head)
        # Under the write lock (BEGIN IMMEDIATE on SQLite, the writers' advisory lock on
        # PostgreSQL): two processes starting at once must not both migrate. The second
        # waits, then finds the schema at head and does nothing.
        with engine.connect() as connection, write_transaction(connection):
            return migrations.upgrade(connection)
    except OperationalError as exc:
        raise StoreError(f"cannot open the database: {error_message(exc)}") from exc


def schema_state(engine: Engine) -> migrations.SchemaState:
    """Where the database's schema stands against the newest revision; changes nothing."""
    try:
        with engine.connect() as connection:
            return migrations.state(connection)
    except OperationalError as exc:
        raise StoreError(f"cannot open the database: {error_message(exc)}") from exc


@contextmanager
def write_transaction(connection: Connection) -> Iterator[Connection]:
    """Run the block in one transaction on `connection` that holds the write lock from its start.

    The lock is `write_session`'s (BEGIN IMMEDIATE on SQLite, the writers'
    advisory lock on PostgreSQL). Commits when the block ends normally and rolls
    back on any error.
    """
    connection.execution_options(**{_WRITE: "exclusive"})
    with connection.begin():
        yield connection


T = TypeVar("T")

IN_CHUNK = 400
"""Values per `IN (...)`: SQLite caps the bound values of one statement (32,766 by default)."""


def in_chunks(values: Collection[T]) -> Iterator[list[T]]:
    """`values` in lists of at most `IN_CHUNK`, one `IN (...)` query each."""
    ordered = list(values)
    for start in range(0, len(ordered), IN_CHUNK):
        yield ordered[start : start + IN_CHUNK]


def connection_of(bind: Session | Connection) -> Connection:
    """The connection a session's transaction runs on, or `bind` itself when it is one."""
    return bind.connection() if isinstance(bind, Session) else bind


def bulk_insert(bind: Session | Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows`; for a table with an `id` key, set each new one.

    The rows are dicts with the same keys, naming every column (but `id`): the
    SQLite path fills in no defaults. Must run inside a write transaction
    (`write_session`, `append_transaction`). On SQLite, which then holds the write
    lock, ids are handed out here and the rows go to the driver in one executemany,
    converted by each column type's own bind processor: per-row statement
    handling would otherwise be most of the cost of ingesting a large dump.
    Other databases take the portable `INSERT ... RETURNING` path.
    """
    if not rows:
        return
    connection = connection_of(bind)
    numbered = "id" in table.c
    if connection.dialect.name != "sqlite":
        if not numbered:
            connection.execute(insert(table), rows)
            return
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = connection.execute(statement, rows).scalars().all()
        for row, new_id in zip(rows, ids, strict=True):
            row["id"] = new_id
        return
    if numbered:
        first = (connection.scalar(select(func.max(table.c.id))) or 0) + 1
        for offset, row in enumerate(rows):
            row["id"] = first + offset
    sql, columns, converters = _sqlite_insert(table, tuple(rows[0]), connection.dialect)
    values = [_sqlite_values(row, columns, converters) for row in rows]
    _on_driver(connection, sql, values, many=True)


def insert_row(connection: Connection, table: Table, row: dict[str, Any]) -> int:
    """Insert one row of a table with an `id` key; return its new id.

    `row` names every column but `id`, as `bulk_insert`'s rows do. On SQLite it
    goes straight to the driver, as there: a delivery run inserts a row per
    message, and SQLAlchemy's handling of the statement cost several times the write.
    """
    if connection.dialect.name != "sqlite":
        return int(connection.execute(insert(table).returning(table.c.id), row).scalar_one())
    sql, columns, converters = _sqlite_insert(table, tuple(row), connection.dialect)
    cursor = _on_driver(connection, sql, _sqlite_values(row, columns, converters))
    assert cursor.lastrowid is not None  # an INSERT sets it
    return int(cursor.lastrowid)


def changed_rows(connection: Connection, statement: UpdateBase, parameters: dict[str, Any]) -> int:
    """Run an UPDATE or DELETE with `parameters` (its bound names); return how many rows changed.

    On SQLite it goes straight to the driver, compiled once, as `insert_row` does:
    a delivery run settles a claim per message.
    """
    if connection.dialect.name != "sqlite":
        return int(connection.execute(statement, parameters).rowcount)
    sql, names, fixed, converters = _sqlite_statement(statement, connection.dialect)
    values = [parameters[name] if name in parameters else fixed[name] for name in names]
    for position, convert in converters:
        values[position] = convert(values[position])
    return int(_on_driver(connection, sql, tuple(values)).rowcount)


def _on_driver(connection: Connection, sql: str, parameters: Any, *, many: bool = False) -> Any:
    """Run `sql` on SQLite's own connection, in the transaction under way; return its cursor.

    SQLAlchemy's handling of a statement (events, its result) cost more than the
    small writes made for every message. Errors are SQLAlchemy's, as for any statement.
    """
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection in use has its driver's
    try:
        return driver.executemany(sql, parameters) if many else driver.execute(sql, parameters)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, parameters, exc, sqlite3.Error) from exc


def _sqlite_values(
    row: dict[str, Any], columns: list[str], converters: list[tuple[int, Callable[[Any], Any]]]
) -> tuple[Any, ...]:
    values = [row[name] for name in columns]
    for position, convert in converters:
        values[position] = convert(values[position])
    return tuple(values)


@functools.lru_cache(maxsize=64)
def _sqlite_insert(
    table: Table, keys: tuple[str, ...], dialect: Dialect
) -> tuple[str, list[str], list[tuple[int, Callable[[Any], Any]]]]:
    """The INSERT for `keys` of `table`, its column order and per-column converters."""
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
    columns = list(compiled.positiontup or ())
    converters = [
        (position, convert)
        for position, name in enumerate(columns)
        if (convert := _converter(table.c[name].type, dialect)) is not None
    ]
    return str(compiled), columns, converters


@functools.lru_cache(maxsize=16)
def _sqlite_statement(
    statement: UpdateBase, dialect: Dialect
) -> tuple[str, list[str], dict[str, Any], list[tuple[int, Callable[[Any], Any]]]]:
    """A statement's SQL, its parameters' order, the values fixed in it, and converters."""
    compiled = statement.compile(dialect=dialect)
    names = list(compiled.positiontup or ())
    converters = [
        (position, convert)
        for position, name in enumerate(names)
        if (convert := _converter(compiled.binds[name].type, dialect)) is not None
    ]
    return str(compiled), names, dict(compiled.params), converters


def _converter(column_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    if isinstance(column_type, JSON):
        return _to_json  # what the engine's JSON type calls, without its per-value wrapper
    convert = column_type.bind_processor(dialect)
    if convert is None:
        return None
    # Timestamps and dates repeat across a batch (one "now" for every row): convert each once.
    return functools.lru_cache(maxsize=1024)(convert)


@contextmanager
def write_session(engine: Engine, *, exclusive: bool = True) -> Iterator[Session]:
    """Yield a session whose transaction holds the write lock from its first statement.

    Commits when the block ends normally and rolls back on any error, so a
    failed write leaves the database as it was.

    `exclusive=False` is for writes that decide nothing from what they read, such
    as recording a delivery to a subscriber this worker has claimed: on
    PostgreSQL they skip the writers' lock, so several workers record at once.
    (SQLite has one writer at a time whatever is asked.)
    """
    connection = engine.connect().execution_options(
        **{_WRITE: "exclusive" if exclusive else "append"}
    )
    try:
        with connection.begin(), Session(bind=connection) as session:
            yield session
            session.flush()
    finally:
        connection.close()


@contextmanager
def append_transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """Yield a connection in a write transaction for appends that decide nothing from a read.

    The transaction of `write_session(engine, exclusive=False)`, on a bare
    connection: no ORM session to set up, which was most of the cost of the
    small writes a run makes for every message (recording a delivery).
    `bind` is an engine (a connection of its pool, for the block) or a connection
    from `append_connection`. Commits when the block ends normally and rolls back
    on any error.
    """
    if isinstance(bind, Connection):
        with bind.begin():
            yield bind
        return
    with append_connection(bind) as connection, connection.begin():
        yield connection


def append_connection(engine: Engine) -> Connection:
    """A connection for `append_transaction`s one after another; the caller closes it.

    A delivery run records each message in a transaction of its own: taking a
    connection from the pool for each and giving it back cost a fifth of the writing.
    """
    return engine.connect().execution_options(**{_WRITE: "append"})


def error_message(exc: StatementError) -> str:
    """The driver's own message on one line, without the SQL and parameters SQLAlchemy appends."""
    message = str(exc.orig) if exc.orig is not None else str(exc).splitlines()[0]
    return " ".join(message.split())
