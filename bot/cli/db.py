"""`paperbot db`: the database's schema, shown and upgraded; the database copied to another.

These commands open the database as it is, whatever `database.auto_upgrade`
says: `current` must show the schema before anything changes it, and `copy`
reads a database without changing it. Only `upgrade` creates a database that
does not exist yet; the others say where they looked.
"""

from typing import Annotated

import typer
from sqlalchemy.engine import Engine

from bot.cli.app import app, load_config, open_database, open_existing_database, out
from bot.clock import utc_now
from bot.db import open_engine, schema_state, upgrade_schema
from bot.db_copy import copy_database
from bot.migrations import HEAD, SchemaState

db_app = typer.Typer(
    help="The database's schema: show its revision, upgrade it; copy the database to another."
)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade() -> None:
    """Upgrade the schema to the revision this paperbot needs; say from which to which."""
    engine = open_database(load_config())
    done = upgrade_schema(engine)
    before = done.before
    if before.current is None:
        out.print(f"created the database schema at {done.after}")
    elif not before.recorded:
        then = "" if before.current == done.after else f", then upgraded it to {done.after}"
        out.print(
            f"recorded the database schema as {before.current} (it had no revision yet){then}"
        )
    elif before.current == done.after:
        out.print(f"the database schema is already at {done.after}: nothing to do")
    else:
        out.print(f"upgraded the database schema from {before.current} to {done.after}")


@db_app.command("current")
def current() -> None:
    """Show the schema's revision and whether paperbot needs a newer one; change nothing."""
    out.print(describe(schema_state(open_existing_database(load_config()))))


def describe(schema: SchemaState) -> str:
    """One line saying where the schema stands."""
    if schema.current is None:
        return f"no schema yet (an empty database); paperbot needs {schema.head}"
    unrecorded = "" if schema.recorded else " (from its tables: no revision recorded yet)"
    if schema.current == schema.head:
        return f"{schema.current}{unrecorded}: up to date"
    return f"{schema.current}{unrecorded}; paperbot needs {schema.head}: run `paperbot db upgrade`"


@db_app.command("copy")
def copy(
    target_url: Annotated[
        str,
        typer.Argument(
            help="The empty database to copy into, e.g. postgresql://user:password@host/paperbot.",
        ),
    ],
) -> None:
    """Copy every row of the configured database into TARGET_URL, an empty database.

    Stop `paperbot serve` first, copy, then point `database.url` at the target.
    The configured database is only read; the target gets the newest schema and
    every row, in one transaction: if anything fails, it is left as it was.
    """
    settings = load_config()
    source = open_existing_database(settings)
    target = open_engine(
        target_url,
        busy_timeout=settings.database.busy_timeout,
        idle_transaction_timeout=settings.database.idle_transaction_timeout,
        name="TARGET_URL",
    )
    counts = copy_database(source, target, clock=utc_now)
    width = max(len(name) for name in counts)
    for name, rows in counts.items():
        out.print(f"{name:<{width}} {rows:>9}", highlight=False)
    out.print(
        f"copied {sum(counts.values())} rows in {len(counts)} tables"
        f" from {_shown(source)} to {_shown(target)}, schema {HEAD}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _shown(engine: Engine) -> str:
    """The engine's URL with its password masked."""
    return engine.url.render_as_string(hide_password=True)
