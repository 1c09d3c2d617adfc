"""The public archive of site-wide digests, over HTTP, against a real SQLite file."""

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from bot.config import load_settings
from bot.db import write_session
from bot.ingest.pipeline import ingest_file
from bot.subscriptions.spec import make_spec
from bot.subscriptions.store import subscribe
from bot.web.app import create_app
from tests.conftest import SAMPLES

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


def _client(engine: Engine, tmp_path: Path) -> TestClient:
    settings = load_settings(environ={"PAPERBOT_DATA_DIR": str(tmp_path / "data")}, cwd=tmp_path)
    return TestClient(create_app(engine, settings, clock=lambda: NOW))


def test_the_archive_lists_days_and_shows_each_days_papers(engine: Engine, tmp_path: Path) -> None:
    client = _client(engine, tmp_path)
    assert "No papers yet" in client.get("/archive").text
    with write_session(engine) as session:
        subscribe(session, make_spec("reader@lab.org", ["graph"]), now=NOW)
    ingest_file(engine, SAMPLES / "spaced-1.txt", clock=lambda: NOW, year=2025)
    index = client.get("/archive")
    assert index.status_code == 200
    days = [line for line in index.text.splitlines() if 'href="/archive/' in line]
    assert len(days) == 1
    day = days[0].split('href="/archive/')[1][:10]
    page = client.get(f"/archive/{day}")
    assert page.status_code == 200
    assert page.text.count('class="paper"') > 10
    # Papers only: nothing about who subscribes.
    assert "reader@lab.org" not in page.text + index.text


def test_unknown_days_are_404_pages(engine: Engine, tmp_path: Path) -> None:
    client = _client(engine, tmp_path)
    assert client.get("/archive/not-a-date").status_code == 404
    assert client.get("/archive/1999-01-01").status_code == 404


def test_titles_are_escaped(engine: Engine, tmp_path: Path) -> None:
    dump = tmp_path / "dump.txt"
    dump.write_text(
        (SAMPLES / "spaced-1.txt").read_text().replace("Graph", "<script>x</script>", 1)
    )
    ingest_file(engine, dump, clock=lambda: NOW, year=2025)
    client = _client(engine, tmp_path)
    day = client.get("/archive").text.split('href="/archive/')[1][:10]
    text = client.get(f"/archive/{day}").text
    assert "<script>x</script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text
