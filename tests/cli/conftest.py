"""Fixtures of the command-line tests: the real SMTP server of the delivery tests, stored papers.

Ingesting the same files before each of many tests would cost seconds each: the
files are ingested once per session by the real command, and each test gets its
own copy of the resulting data folder.
"""

import shutil
from pathlib import Path

import pytest

from tests.conftest import DATA, SAMPLES, RunCli, run_paperbot
from tests.delivery.conftest import echoing_auth_server, start_server  # noqa: F401

DATA_FOLDER = "paperbot-data"
"""Where paperbot keeps its database with the embedded defaults, under the current folder."""


def _ingested(factory: pytest.TempPathFactory, *paths: Path) -> Path:
    """The data folder after `paperbot ingest PATHS...` on a new database."""
    folder = factory.mktemp("ingested")
    result = run_paperbot(("ingest", *map(str, paths)), folder)
    assert result.returncode == 0, result.stderr
    return folder / DATA_FOLDER


@pytest.fixture(scope="session")
def sample_papers_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the sample dumps' papers, made once per session."""
    return _ingested(tmp_path_factory, SAMPLES)


@pytest.fixture(scope="session")
def listed_papers_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding Hugging Face's daily lists of 2023-11-27 and 2023-11-28 and
    an arXiv cs.LG feed, made once per session."""
    return _ingested(
        tmp_path_factory,
        DATA / "hf_daily" / "2023-11-27.json",
        DATA / "hf_daily" / "2023-11-28.json",
        DATA / "feeds" / "arxiv_cs_LG.rss.xml",
    )


@pytest.fixture
def stored(run_cli: RunCli, tmp_path: Path, sample_papers_data: Path) -> RunCli:
    """`run_cli` on a database holding the sample dumps' papers."""
    shutil.copytree(sample_papers_data, tmp_path / DATA_FOLDER)
    return run_cli


@pytest.fixture
def listed(run_cli: RunCli, tmp_path: Path, listed_papers_data: Path) -> RunCli:
    """`run_cli` on a database holding papers with authors, organisations, categories, upvotes."""
    shutil.copytree(listed_papers_data, tmp_path / DATA_FOLDER)
    return run_cli
