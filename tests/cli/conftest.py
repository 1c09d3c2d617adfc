"""Fixtures of the command-line tests: the real SMTP server of the delivery tests, stored papers.

Ingesting the same files before each of many tests would cost seconds each: the
files are ingested once per session by the real command, and each test gets its
own copy of the resulting data folder.
"""

from pathlib import Path

import pytest

from tests.conftest import DATA, SAMPLES, RunCli, prepared_data, use_data
from tests.delivery.conftest import echoing_auth_server, start_server  # noqa: F401


@pytest.fixture(scope="session")
def sample_papers_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the sample dumps' papers, made once per session."""
    return prepared_data(tmp_path_factory, ("ingest", str(SAMPLES)))


@pytest.fixture(scope="session")
def listed_papers_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding Hugging Face's daily lists of 2023-11-27 and 2023-11-28 and
    an arXiv cs.LG feed, made once per session."""
    files = [DATA / "hf_daily" / "2023-11-27.json", DATA / "hf_daily" / "2023-11-28.json"]
    files.append(DATA / "feeds" / "arxiv_cs_LG.rss.xml")
    return prepared_data(tmp_path_factory, ("ingest", *map(str, files)))


@pytest.fixture
def stored(run_cli: RunCli, tmp_path: Path, sample_papers_data: Path) -> RunCli:
    """`run_cli` on a database holding the sample dumps' papers."""
    use_data(sample_papers_data, tmp_path)
    return run_cli


@pytest.fixture
def listed(run_cli: RunCli, tmp_path: Path, listed_papers_data: Path) -> RunCli:
    """`run_cli` on a database holding papers with authors, organisations, categories, upvotes."""
    use_data(listed_papers_data, tmp_path)
    return run_cli
