"""The command line's shared parts, as a user meets them: which database a command opens."""

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.db import open_engine
from tests.conftest import RunCli, StaticFeeds
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


# --- Output read off a terminal -----------------------------------------------------------


def _rows(stdout: str, columns: int) -> list[list[str]]:
    """The tab-separated rows of a command's stdout, each checked to have all its fields."""
    rows = [line.split("\t") for line in stdout.splitlines() if "\t" in line]
    assert rows and all(len(row) == columns for row in rows), stdout
    return rows


def test_off_a_terminal_every_row_is_one_whole_line(
    run_cli: RunCli, samples: Path, tmp_path: Path, feed_server: StaticFeeds
) -> None:
    deep = tmp_path.joinpath(*(f"a-rather-long-folder-name-{n}" for n in range(8)))
    deep.mkdir(parents=True)
    dump = deep / "compact-2.txt"
    shutil.copy(samples / "compact-2.txt", dump)
    missing_feed = feed_server.url("/rss/gone")
    assert len(str(dump)) > 250

    first = run_cli("ingest", str(dump), missing_feed)
    again = run_cli("ingest", str(dump))

    header, *rows = _rows(first.stdout, 8)
    assert header == ["kind", "status", "parsed", "new", "updated", "unchanged", "source", "why"]
    by_source = {row[6]: row for row in rows}
    assert by_source[str(dump)][:3] == ["dump/compact", "ok", "214"]
    assert by_source[missing_feed][:2] == ["feed", "failed"]
    assert "404" in by_source[missing_feed][7]
    [skipped] = _rows(again.stdout, 8)[1:]
    assert skipped[1] == "skipped" and skipped[6] == str(dump)
    assert skipped[7].startswith("unchanged since it was ingested")
    # httpx logs each request at INFO: not without --verbose.
    assert "HTTP Request" not in first.stderr

    match = run_cli("match", "--keyword", "language model", "--limit", "3")
    expected = json.loads(run_cli("match", "--keyword", "language model", "--json").stdout)[:3]
    header, *matches = _rows(match.stdout, 4)
    assert header == ["#", "score", "title", "why"] and len(matches) == 3
    for (_, _, title, why), entry in zip(matches, expected, strict=True):
        assert title == entry["title"]
        assert why.startswith("'language model' in ") and why.endswith(f"; {entry['snippet']}")
    assert match.stdout.splitlines()[-1] == "3 of 214 stored paper(s) match"
    assert "…" not in first.stdout + again.stdout


def test_off_a_terminal_nothing_found_is_said_in_one_line(run_cli: RunCli) -> None:
    assert run_cli("db", "upgrade").returncode == 0
    said = {
        "papers": run_cli("papers", "--search", "diffusion"),
        "match": run_cli("match", "--keyword", "diffusion"),
        "subscriptions": run_cli("subscriptions"),
        "report": run_cli("report", "--kind", "delivery"),
        "digest": run_cli("digest"),
    }
    assert {name: result.returncode for name, result in said.items()} == dict.fromkeys(said, 0)
    assert said["papers"].stdout == "no papers match 'diffusion'\n"
    assert said["match"].stdout == "none of the 0 stored paper(s) match\n"
    assert said["subscriptions"].stdout == "no active subscribers (--all lists every one)\n"
    assert said["report"].stdout == "no delivery runs recorded yet\n"
    assert said["digest"].stdout.splitlines()[0] == "no subscribers: nothing to do"


# --- Exit status -------------------------------------------------------------------------

USAGE_ERRORS = [
    (["subscribe", "a@lab.org", "GAN", "--cadence", "hourly"], "cadence 'hourly'"),
    (["subscribe", "a@lab.org", "GAN", "--timezone", "Mars/Olympus"], "'Mars/Olympus'"),
    (["papers", "--limit", "many"], "Invalid value for '--limit'"),
    (["papers", "--search", "!!!"], "search '!!!' has no letters or digits"),
    (["papers", "--sort", "title"], "--sort must be date, ingested, upvotes, not 'title'"),
    (["report", "--kind", "backup"], "--kind must be ingest or delivery, not 'backup'"),
    (["digest", "--only", "not-an-email"], "invalid email address 'not-an-email'"),
    (["preview", "not-an-email"], "invalid email address 'not-an-email'"),
    (["preview", "a@lab.org", "--format", "pdf"], "--format must be html, text or md"),
    (["preview", "a@lab.org", "--open"], "--open needs --output FILE"),
    (["match", "not-an-email"], "invalid email address 'not-an-email'"),
    (["match", "--keyword", "!!"], "'!!'"),
    (["unsubscribe", "not-an-email"], "invalid email address 'not-an-email'"),
    (["--config", "nowhere.toml", "papers"], "--config nowhere.toml: no such file"),
    (["ingest"], "nothing to ingest"),
]


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS, ids=lambda v: " ".join(v)[:40])
def test_a_bad_value_on_the_command_line_exits_2_before_anything_is_opened(
    run_cli: RunCli, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli(*args)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr.splitlines()[-1], result.stderr
    assert list(tmp_path.iterdir()) == []  # checked before any database was opened


def test_a_failure_exits_1_after_the_same_values_were_good(run_cli: RunCli) -> None:
    assert run_cli("subscribe", "a@lab.org", "GAN", "--cadence", "weekly").returncode == 0
    failures = {
        "no such subscriber": run_cli("preview", "ghost@lab.org"),
        "no subscriptions": run_cli("match", "ghost@lab.org"),
        "nothing to unsubscribe": run_cli("unsubscribe", "ghost@lab.org"),
        "bad file": run_cli("subscriptions", "import", "missing.csv"),
    }
    assert {what: r.returncode for what, r in failures.items()} == dict.fromkeys(failures, 1)
