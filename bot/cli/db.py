"""`paperbot db`: the database's schema, shown and upgraded.

These commands open the database as it is, whatever `database.auto_upgrade`
says: `current` must show the schema before anything changes it.
"""

import typer

from bot.cli.app import app, load_config, open_database, out
from bot.db import schema_state, upgrade_schema
from bot.migrations import SchemaState

db_app = typer.Typer(help="The database's schema: show its revision, upgrade it.")
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
    out.print(describe(schema_state(open_database(load_config()))))


def describe(schema: SchemaState) -> str:
    """One line saying where the schema stands."""
    if schema.current is None:
        return f"no schema yet (an empty database); paperbot needs {schema.head}"
    unrecorded = "" if schema.recorded else " (from its tables: no revision recorded yet)"
    if schema.current == schema.head:
        return f"{schema.current}{unrecorded}: up to date"
    return f"{schema.current}{unrecorded}; paperbot needs {schema.head}: run `paperbot db upgrade`"
