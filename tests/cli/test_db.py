"""`paperbot db copy` end to end, as real processes: the SQLite file into PostgreSQL, and refusals."""

from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import inspect
from sqlmodel import SQLModel

from bot.db import open_engine, upgrade_schema
from bot.migrations import HEAD
from tests.conftest import SAMPLES, RunCli, prepared_data, run_paperbot, use_data
from tests.postgres import PostgresCluster

PASSWORD = "s3cret-pw"


@pytest.fixture(scope="module")
def ready_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The configured SQLite database with papers, two readers, and one delivery done."""
    data = prepared_data(
        tmp_path_factory,
        ("ingest", "--year", "2025", str(SAMPLES / "spaced-1.txt")),
        ("subscribe", "ana@lab.org", "graph neural network"),
        ("subscribe", "bo@lab.org", "backpropagation"),
    )
    delivered = run_paperbot(("digest",), data.parent)
    assert delivered.returncode == 0 and "2 delivered" in delivered.stdout, delivered.stdout
    return data


@pytest.fixture
def ready(run_cli: RunCli, tmp_path: Path, ready_data: Path) -> RunCli:
    """`run_cli` on a copy of `ready_data`."""
    use_data(ready_data, tmp_path)
    return run_cli


def test_copy_into_postgresql_then_carry_on_there(
    ready: RunCli, tmp_path: Path, postgres: PostgresCluster
) -> None:
    name = postgres.create_database()
    # The test server trusts every local connection, so a password is accepted and unused.
    target = postgres.url(name).replace("postgres@", f"postgres:{PASSWORD}@")

    copied = ready("db", "copy", target)

    assert copied.returncode == 0, copied.stderr
    assert PASSWORD not in copied.stdout + copied.stderr
    *tables, summary = copied.stdout.splitlines()
    counts = {line.split()[0]: int(line.split()[1]) for line in tables}
    assert list(counts) == [table.name for table in SQLModel.metadata.sorted_tables]
    assert counts["subscriber"] == 2 and counts["sentpaper"] > 0 and counts["delivery"] == 2
    source = tmp_path / "paperbot-data" / "paperbot.db"
    shown = f"postgresql+psycopg://postgres:***@/{name}?host={quote(str(postgres.root), safe='')}"
    assert summary == (
        f"copied {sum(counts.values())} rows in {len(counts)} tables"
        f" from sqlite:///{source} to {shown}, schema {HEAD}"
    )

    on_target = {"PAPERBOT_DATABASE_URL": postgres.url(name)}
    outbox = sorted((tmp_path / "paperbot-data" / "outbox").glob("*.eml"))
    again = ready("digest", env=on_target)
    assert again.returncode == 0, again.stderr
    assert "0 delivered" in again.stdout and "already sent" in again.stdout
    assert sorted((tmp_path / "paperbot-data" / "outbox").glob("*.eml")) == outbox
    added = ready("subscribe", "cy@lab.org", "graph neural network", env=on_target)
    assert added.returncode == 0, added.stderr
    new = ready("digest", env=on_target)
    assert new.returncode == 0 and "1 delivered" in new.stdout, new.stdout + new.stderr
    assert "cy@lab.org" in new.stdout

    refused = ready("db", "copy", target)  # the target has rows now
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        "paperbot: error: the target database is not empty: table deliveryround has rows;"
        " copy into an empty database (the target was left as it was)\n"
    )


def test_an_unreachable_target_is_one_line_without_the_password(ready: RunCli) -> None:
    result = ready("db", "copy", f"postgresql://paperbot:{PASSWORD}@127.0.0.1:1/paperbot")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("paperbot: error: cannot open the target database: ")
    assert result.stderr.count("\n") == 1 and PASSWORD not in result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"not a url {PASSWORD}", "TARGET_URL is not a valid database URL"),
        (
            f"postgres://paperbot:{PASSWORD}@db/paperbot",
            "TARGET_URL names a database paperbot cannot use (postgres):"
            " use a sqlite:/// or postgresql:// URL",
        ),
        (
            f"mysql://paperbot:{PASSWORD}@db/paperbot",
            "the driver for TARGET_URL (mysql) is not installed: No module named 'MySQLdb'",
        ),
        (
            f"postgresql://paperbot:{PASSWORD}@127.0.0.1:notaport/paperbot",
            "TARGET_URL is not a valid database URL: its port is not a number",
        ),
    ],
)
def test_a_bad_target_url_is_one_line_without_the_password(
    run_cli: RunCli, url: str, message: str
) -> None:
    assert run_cli("db", "upgrade").returncode == 0  # the source
    result = run_cli("db", "copy", url)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"paperbot: error: {message}\n",
    )


def test_a_source_behind_the_newest_schema_is_refused(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "paperbot-data").mkdir()
    (tmp_path / "paperbot-data" / "paperbot.db").touch()  # a database with no tables
    target = tmp_path / "target.db"
    assert run_cli("db", "copy", f"sqlite:///{target}").stderr == (
        "paperbot: error: the database schema is at nothing (an empty database),"
        f" paperbot needs {HEAD}: run `paperbot db upgrade` first, then copy\n"
    )
    assert not target.exists()


def test_copy_into_a_new_sqlite_file(ready: RunCli, tmp_path: Path) -> None:
    copied = ready("db", "copy", "sqlite:///moved/paperbot.db")
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.splitlines()[-1].endswith(
        f" to sqlite:///moved/paperbot.db, schema {HEAD}"
    )
    moved = open_engine(f"sqlite:///{tmp_path / 'moved' / 'paperbot.db'}")
    upgrade_schema(moved)  # already at head: nothing to do
    assert "subscriber" in inspect(moved).get_table_names()
    again = ready("digest", env={"PAPERBOT_DATABASE_URL": "sqlite:///moved/paperbot.db"})
    assert again.returncode == 0 and "0 delivered" in again.stdout, again.stdout


@pytest.mark.parametrize(
    ("port", "reason"),
    [("notaport", "its port is not a number"), ("99999", "its port is not from 1 to 65535")],
)
def test_a_configured_url_that_cannot_be_parsed_is_one_line_without_the_password(
    run_cli: RunCli, tmp_path: Path, port: str, reason: str
) -> None:
    url = f"postgresql://paperbot:{PASSWORD}@127.0.0.1:{port}/paperbot"
    from_env = run_cli("subscriptions", env={"PAPERBOT_DATABASE_URL": url})
    (tmp_path / "paperbot.toml").write_text(f"[database]\nurl = '{url}'\n", encoding="utf-8")
    from_file = run_cli("subscriptions")
    for result, where in [
        (from_env, "PAPERBOT_DATABASE_URL"),
        (from_file, "paperbot.toml: database.url"),
    ]:
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == f"paperbot: error: {where}: not a valid database URL: {reason}\n"
