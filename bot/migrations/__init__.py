"""Schema migrations: Alembic revisions shipped in the package and run from code.

`versions/` holds one revision per schema change since the baseline (the schema
of the last release without migrations). No alembic.ini is needed: the
configuration is built here, and `env.py` runs on the connection passed in, so
the caller decides the transaction and the lock (see `bot.db.upgrade_schema`).

Databases made before migrations existed (by `create_schema`, which created
missing tables and added missing columns) have no `alembic_version` table:
`detect_revision` recognises which revision their tables match, and `upgrade`
records it before upgrading from there.

Alembic is loaded only when the schema is not at `HEAD`: every command checks
the schema first, and finding it up to date needs one query, not Alembic's
scripts.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Integer, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

from bot.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

FOLDER = Path(__file__).resolve().parent
"""The migration scripts' folder (`env.py` and `versions/`), inside the installed package."""

HEAD = "0015"
"""The newest revision: the schema of `bot.models`.

Also written in `versions/`, the newest script's `revision`: here so that finding
a database up to date needs no Alembic. A new revision updates both; a test
checks that they agree.
"""

VERSION_TABLE = "alembic_version"
"""Where Alembic records a database's revision."""

APSCHEDULER_TABLE = "apscheduler_jobs"
"""The scheduler's job table: APScheduler creates and changes it itself, not the migrations."""

# Alembic says at INFO which context it uses, every time it runs: noise on every command.
# paperbot reports what changed itself. A level set on purpose elsewhere is kept.
if logging.getLogger("alembic").level == logging.NOTSET:
    logging.getLogger("alembic").setLevel(logging.WARNING)


@dataclass(frozen=True)
class _Marks:
    """What a revision added, by which a database made before migrations is recognised."""

    revision: str
    tables: frozenset[str]
    columns: frozenset[tuple[str, str]] = frozenset()


# Oldest first; revisions after the last one here were never made by create_schema.
_MARKS = (
    _Marks(
        "0001",
        frozenset(
            {
                "appsecret",
                "delivery",
                "feed",
                "importedfile",
                "joblock",
                "paper",
                "run",
                "sentpaper",
                "sighting",
                "subscriber",
                "subscription",
            }
        ),
    ),
    _Marks("0002", frozenset({"jobstate", "heartbeat"}), frozenset({("subscriber", "timezone")})),
    _Marks("0003", frozenset({"pendingsubscription"})),
)


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands.

    `current` is the revision recorded in the database, or, when `recorded` is
    False, the one its tables were recognised as (None: no paperbot tables yet).
    """

    current: str | None
    head: str
    recorded: bool

    @property
    def behind(self) -> bool:
        """True when the schema needs an upgrade (or creating) before paperbot can use it."""
        return self.current != self.head


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade` did: the schema it found, and the revision it left."""

    before: SchemaState
    after: str


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's filter: every object but the scheduler's own table belongs to paperbot."""
    return not (type_ == "table" and name == APSCHEDULER_TABLE)


def compare_type(
    context: "MigrationContext",
    inspected_column: object,
    metadata_column: object,
    inspected_type: TypeEngine[object],
    metadata_type: TypeEngine[object],
) -> bool | None:
    """Alembic's type comparison, except that on SQLite every integer type is one.

    SQLite stores INTEGER and BIGINT alike (64 bits); only PostgreSQL tells them apart.
    None: Alembic compares as usual.
    """
    integers = isinstance(inspected_type, Integer) and isinstance(metadata_type, Integer)
    return False if context.dialect.name == "sqlite" and integers else None


def alembic_config(connection: Connection | None = None) -> "Config":
    """Alembic's configuration, built in code: the packaged scripts, and `connection` to run on."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(FOLDER))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def scripts() -> "ScriptDirectory":
    """The packaged revisions, as Alembic reads them."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def recorded_revision(connection: Connection) -> str | None:
    """The revision recorded in the database behind `connection`; None when there is none."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    revision = connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))
    return None if revision is None else str(revision)


def state(connection: Connection) -> SchemaState:
    """Read where the schema of the database behind `connection` stands; change nothing."""
    recorded = recorded_revision(connection)
    if recorded == HEAD:
        return SchemaState(HEAD, HEAD, recorded=True)
    if recorded is not None:
        known = {script.revision for script in scripts().walk_revisions()}
        if recorded not in known:
            raise StoreError(
                f"the database schema is at {recorded}, a revision this paperbot does not know:"
                " it was upgraded by a newer version, so use that one"
            )
        return SchemaState(recorded, HEAD, recorded=True)
    return SchemaState(detect_revision(connection), HEAD, recorded=False)


def detect_revision(connection: Connection) -> str | None:
    """The revision an unversioned database's tables match; None when it has none of them.

    Each revision's marks are all there or all missing, and the ones there come
    first: anything else is a schema no paperbot version made, and is refused.
    """
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    columns = {
        (table, column["name"])
        for table in {table for marks in _MARKS for table, _ in marks.columns} & tables
        for column in inspector.get_columns(table)
    }
    found: list[bool] = []
    for marks in _MARKS:
        present = [t in tables for t in marks.tables] + [c in columns for c in marks.columns]
        if any(present) and not all(present):
            raise _unknown_schema()
        found.append(all(present))
    if found != sorted(found, reverse=True):  # a later revision's tables without an earlier one's
        raise _unknown_schema()
    count = sum(found)
    return _MARKS[count - 1].revision if count else None


def _unknown_schema() -> StoreError:
    return StoreError(
        "the database's tables match no schema paperbot ever made:"
        " use a new database, or repair this one by hand"
    )


def upgrade(connection: Connection) -> Upgrade:
    """Upgrade the schema behind `connection` to the head revision, in its open transaction.

    An unversioned database is first stamped with the revision its tables match;
    a new one is made at head at once (`create_at_head`). The caller holds the
    write lock and commits.
    """
    before = state(connection)
    if before.current is None:
        create_at_head(connection)
        return Upgrade(before, before.head)
    from alembic import command

    config = alembic_config(connection)
    if not before.recorded and before.current is not None:
        command.stamp(config, before.current)
    if before.behind:
        command.upgrade(config, "head")
    return Upgrade(before, before.head)


def create_at_head(connection: Connection) -> None:
    """Make the models' tables in a new database and record it at `HEAD`.

    The tables every revision run one after another would make (a test compares
    the two on each database), without loading Alembic and its scripts: a new
    database is made on a first run, by every test that needs one, and by an
    operator's first import, where Alembic was an eighth of the time.
    """
    from sqlmodel import SQLModel

    from bot import models  # noqa: F401  (registers the tables on SQLModel.metadata)

    SQLModel.metadata.create_all(connection)
    # The table Alembic makes for itself, as it makes it: later upgrades find it.
    connection.execute(
        text(
            f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL,"
            f" CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
        )
    )
    connection.execute(
        text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:head)"), {"head": HEAD}
    )
