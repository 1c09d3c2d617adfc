"""Fixtures of the command-line tests: the real SMTP server of the delivery tests, stored papers."""

from pathlib import Path

import pytest

from tests.conftest import DATA, RunCli
from tests.delivery.conftest import echoing_auth_server, start_server  # noqa: F401


@pytest.fixture
def stored(run_cli: RunCli, samples: Path) -> RunCli:
    """`run_cli` on a database holding the sample dumps' papers."""
    assert run_cli("ingest", str(samples)).returncode == 0
    return run_cli


@pytest.fixture
def listed(run_cli: RunCli) -> RunCli:
    """`run_cli` on a database holding papers with authors, organisations, categories, upvotes.

    Hugging Face's daily lists of 2023-11-27 and 2023-11-28 and an arXiv cs.LG feed.
    """
    files = [DATA / "hf_daily" / "2023-11-27.json", DATA / "hf_daily" / "2023-11-28.json"]
    files.append(DATA / "feeds" / "arxiv_cs_LG.rss.xml")
    result = run_cli("ingest", *map(str, files))
    assert result.returncode == 0, result.stderr
    return run_cli
