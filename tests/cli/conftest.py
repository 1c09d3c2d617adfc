"""Fixtures of the command-line tests: the real SMTP server of the delivery tests, stored papers."""

from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.delivery.conftest import echoing_auth_server, start_server  # noqa: F401


@pytest.fixture
def stored(run_cli: RunCli, samples: Path) -> RunCli:
    """`run_cli` on a database holding the sample dumps' papers."""
    assert run_cli("ingest", str(samples)).returncode == 0
    return run_cli
