"""The command line's shared parts, as a user meets them: which database a command opens."""

from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.db import open_engine
from tests.conftest import RunCli
from tests.postgres import PostgresCluster

READ_ONLY = [
    ["preview", "me@lab.org"],
    ["digest", "--dry-run"],
    ["match", "--keyword", "GAN"],
    ["match", "me@lab.org"],
    ["papers"],
    ["report"],
    ["subscriptions"],
    ["subscriptions", "export"],
    ["unsubscribe", "me@lab.org"],
    ["health"],
    ["db", "current"],
    ["db", "copy", "sqlite:///copy.db"],
]
"""Commands that only read the database (or change only what is in it)."""


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_command_that_reads_names_the_missing_database_and_creates_none(
    run_cli: RunCli, tmp_path: Path, args: list[str]
) -> None:
    result = run_cli(*args)

    assert result.returncode == 1, result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    missing = tmp_path / "paperbot-data" / "paperbot.db"
    assert line.startswith(f"paperbot: error: no database at {missing} (no settings file found)")
    assert "--config FILE" in line and "PAPERBOT_DATABASE_URL" in line
    assert list(tmp_path.iterdir()) == []


def test_the_missing_database_is_the_one_the_settings_file_names(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "paperbot.toml").write_text("data_dir = 'elsewhere'\n")

    result = run_cli("papers")

    assert result.returncode == 1
    missing = tmp_path / "elsewhere" / "paperbot.db"
    settings = tmp_path / "paperbot.toml"
    assert f"no database at {missing} (settings from {settings})" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["paperbot.toml"]


def test_a_postgresql_database_without_tables_is_no_database_and_stays_empty(
    run_cli: RunCli, postgres: PostgresCluster
) -> None:
    url = postgres.url(postgres.create_database())

    result = run_cli("report", env={"PAPERBOT_DATABASE_URL": url})

    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "holds no paperbot tables" in line and "PAPERBOT_DATABASE_URL" in line
    assert "paperbot db upgrade" in line
    engine = open_engine(url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_commands_that_store_create_the_database(run_cli: RunCli, tmp_path: Path) -> None:
    subscribed = run_cli("subscribe", "me@lab.org", "GAN")
    assert subscribed.returncode == 0, subscribed.stderr
    assert (tmp_path / "paperbot-data" / "paperbot.db").is_file()
    listed = run_cli("subscriptions", "--json")
    assert listed.returncode == 0 and "me@lab.org" in listed.stdout
