"""Alembic's environment for paperbot, run from `bot.migrations` and never from a URL in a file.

The connection is paperbot's (`config.attributes["connection"]`), already inside
the transaction that holds the write lock: the migrations, the version stamp and
the lock are one unit, committed or rolled back together by the caller. There is
no offline (SQL script) mode.
"""

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from bot import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from bot.migrations import compare_type, include_object

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("paperbot's migrations run from paperbot, on a connection it passes in")
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite cannot alter most of a table in place: batch mode recreates it when needed.
    render_as_batch=True,
    include_object=include_object,
    compare_type=compare_type,
)
with context.begin_transaction():
    context.run_migrations()
