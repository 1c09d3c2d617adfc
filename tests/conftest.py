"""Shared fixtures: real SQLite files in temporary folders, the sample dumps, the CLI."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
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
