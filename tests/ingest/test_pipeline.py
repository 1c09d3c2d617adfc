import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.clock import Clock
from bot.ingest.pipeline import expand_paths, ingest_file
from bot.models import ImportedFile, Paper, Sighting

# Counted by reading the samples, not by running the parser: 302 + 214 + 63 titles,
# of which 17 of compact-2 and 7 of spaced-1 are already in an earlier file.
UNIQUE_SAMPLE_PAPERS = 555


def _count(engine: Engine, table: type, *where: ColumnElement[bool]) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def _snapshot(engine: Engine) -> list[dict[str, object]]:
    with Session(engine) as session:
        return [p.model_dump() for p in session.scalars(select(Paper).order_by(col(Paper.id)))]


def _ingest_all(engine: Engine, folder: Path, clock: Clock) -> list[str]:
    return [ingest_file(engine, path, clock=clock).status for path in expand_paths([folder])]


def test_the_samples_are_stored_once_each(engine: Engine, samples: Path, clock: Clock) -> None:
    assert _ingest_all(engine, samples, clock) == ["ok", "ok", "ok"]
    assert _count(engine, Paper) == UNIQUE_SAMPLE_PAPERS
    assert _count(engine, Sighting) == 302 + 214 + 63
    assert _count(engine, Paper, col(Paper.author_count).is_not(None)) == 61
    assert _count(engine, Paper, col(Paper.upvotes).is_not(None)) == 3
    assert _count(engine, ImportedFile, col(ImportedFile.status) == "ok") == 3


def test_the_order_of_ingest_does_not_change_what_is_stored(
    engine: Engine, samples: Path, clock: Clock
) -> None:
    for path in reversed(list(expand_paths([samples]))):
        ingest_file(engine, path, clock=clock)
    assert _count(engine, Paper) == UNIQUE_SAMPLE_PAPERS
    assert _count(engine, Paper, col(Paper.author_count).is_not(None)) == 61


def test_an_unchanged_file_is_skipped_and_a_changed_one_ingested_again(
    engine: Engine, samples: Path, clock: Clock, tmp_path: Path
) -> None:
    dump = tmp_path / "dump.txt"
    shutil.copy(samples / "compact-2.txt", dump)
    assert ingest_file(engine, dump, clock=clock).new == 214
    again = ingest_file(engine, dump, clock=clock)
    assert again.status == "skipped" and "unchanged" in (again.reason or "")
    os.utime(dump, ns=(1, 1))  # touched, same content: found by its hash
    touched = ingest_file(engine, dump, clock=clock)
    assert touched.status == "skipped" and "same content" in (touched.reason or "")
    copy = tmp_path / "copy.txt"
    shutil.copy(dump, copy)
    assert ingest_file(engine, copy, clock=clock).status == "skipped"
    with dump.open("a", encoding="utf-8") as file:
        file.write(
            "\nA New Paper Title\n"
            + "An abstract long enough to be an abstract, " * 3
            + "we show it works.\n"
        )
    changed = ingest_file(engine, dump, clock=clock)
    assert (changed.status, changed.new, changed.unchanged) == ("ok", 1, 214)
    assert _count(engine, ImportedFile) == 2


def test_a_file_that_is_not_a_dump_changes_nothing_stored(
    engine: Engine, samples: Path, clock: Clock, tmp_path: Path
) -> None:
    _ingest_all(engine, samples, clock)
    before = _snapshot(engine)
    for name, data in {
        "page.html": b"<!DOCTYPE html><html><head><title>Daily Papers</title></head><body><p>x</p></body></html>",
        "blob.bin": bytes(range(256)) * 40,
        "empty.txt": b"",
    }.items():
        (tmp_path / name).write_bytes(data)
        result = ingest_file(engine, tmp_path / name, clock=clock)
        assert result.status == "failed" and result.error, name
    assert _snapshot(engine) == before
    failed = _count(engine, ImportedFile, col(ImportedFile.status) == "failed")
    assert failed == 3


def test_a_truncated_dump_keeps_what_it_could_and_says_what_it_dropped(
    engine: Engine, samples: Path, clock: Clock, tmp_path: Path
) -> None:
    lines = (samples / "compact-1.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    truncated = tmp_path / "truncated.txt"
    truncated.write_text("".join(lines[:101]), encoding="utf-8")  # ends on a title line
    result = ingest_file(engine, truncated, clock=clock)
    assert result.status == "partial" and result.failed
    assert (result.parsed, result.dropped) == (49, 1)
    assert _count(engine, Paper) == 49


def test_a_page_date_put_in_the_future_by_the_file_date_is_warned_about(
    engine: Engine, samples: Path, clock: Clock, tmp_path: Path
) -> None:
    # The clock reads 2024-11-22; the dumps' pages read "Nov 21", with no year.
    text = (samples / "spaced-1.txt").read_text(encoding="utf-8")
    for year, future in ((2024, False), (2025, True)):
        dump = tmp_path / f"taken-{year}.txt"
        dump.write_text(text + "\n" * (year - 2023), encoding="utf-8")  # not the same content
        taken = datetime(year, 11, 22, 12, 0).timestamp()  # noon, local time
        os.utime(dump, (taken, taken))
        result = ingest_file(engine, dump, clock=clock)
        assert result.year_from_file == year
        warned = result.warnings[:1] == (
            f"page date {year}-11-21 is in the future: its year {year} came from the file's"
            " date; give the year with --year",
        )
        assert warned == future, result.warnings
    stated = tmp_path / "stated.txt"
    shutil.copy(samples / "spaced-1.txt", stated)
    os.utime(stated, (taken, taken))
    result = ingest_file(engine, stated, clock=clock, year=2025)
    assert result.year_from_file is None and not result.warnings


def test_a_missing_path_is_a_failure_not_a_crash(
    engine: Engine, tmp_path: Path, clock: Clock
) -> None:
    result = ingest_file(engine, tmp_path / "nope.txt", clock=clock)
    assert result.status == "failed" and "no such file" in (result.error or "")


def test_expand_paths_passes_over_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / ".partial.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("x")
    assert [p.name for p in expand_paths([tmp_path])] == ["a.txt", "b.txt"]


def test_two_processes_ingesting_at_once_store_each_paper_once(
    samples: Path, tmp_path: Path, database_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env["PAPERBOT_DATA_DIR"] = str(tmp_path / "data")
    if not database_url.startswith("sqlite"):  # SQLite: the settings' own file
        env["PAPERBOT_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "bot", "ingest", "--json", str(samples)]
    runs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    finished = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [stderr for _, stderr in finished]
    outputs = [json.loads(stdout) for stdout, _ in finished]
    new = sum(item["new"] for output in outputs for item in output)
    assert new == UNIQUE_SAMPLE_PAPERS
    statuses = sorted(item["status"] for output in outputs for item in output)
    assert statuses == ["ok"] * 3 + ["skipped"] * 3
