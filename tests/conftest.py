"""Shared fixtures: real SQLite files in temporary folders, the sample dumps, the CLI."""

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.db import create_schema, open_engine

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "examples" / "dumps"
DATA = Path(__file__).resolve().parent / "data"

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def samples() -> Path:
    """The folder of real sample dumps shipped with the project."""
    return SAMPLES


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite database file with the schema created."""
    engine = open_engine(f"sqlite:///{tmp_path / 'paperbot.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    """A clock stopped at a known instant."""
    return lambda: datetime(2024, 11, 22, 9, 30, tzinfo=UTC)


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run `paperbot ARGS...` as a real process in `tmp_path`, with no PAPERBOT_* settings."""

    def run(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
        clean.update(env or {})
        clean["COLUMNS"] = "200"  # wide tables, so assertions see whole titles
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=cwd or tmp_path,
            env=clean,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


class StaticFeeds:
    """Feeds served over real HTTP on 127.0.0.1, with ETags, and the requests received."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, If-None-Match)
        self.base = ""

    def url(self, path: str) -> str:
        """The full URL of `path` on this server."""
        return self.base + path


@pytest.fixture
def feed_server() -> Iterator[StaticFeeds]:
    """A real HTTP server on a free local port serving `documents` by path."""
    feeds = StaticFeeds()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feeds.requests.append((self.path, self.headers.get("If-None-Match")))
            body = feeds.documents.get(self.path)
            if body is None:
                self.send_error(404)
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    feeds.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield feeds
    server.shutdown()
    server.server_close()
