"""`paperbot serve` and `paperbot web` warn once at start while `web.base_url` is unset."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.delivery.conftest import free_port
from tests.service.conftest import StartServe
from tests.web.conftest import running_web

pytestmark = pytest.mark.serial

BASE_URL = "https://papers.example.org"

Start = Callable[[dict[str, str]], list[dict[str, Any]]]
"""Start the command with the given settings, stop it once it serves; its JSON log lines."""


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture(params=["serve", "web"])
def start(request: pytest.FixtureRequest, tmp_path: Path) -> Start:
    """`paperbot serve` or `paperbot web`, run until it answers, then stopped."""

    def run(env: dict[str, str]) -> list[dict[str, Any]]:
        if request.param == "serve":
            serve: StartServe = request.getfixturevalue("serve")
            served = serve(env)
            served.stop()
            return served.log_lines()
        port = free_port()
        settings = {"PAPERBOT_WEB_PORT": str(port), "PAPERBOT_LOG_FORMAT": "json", **env}
        with running_web(tmp_path, settings, f"http://127.0.0.1:{port}/subscribe") as process:
            pass
        assert process.stderr is not None
        return _json_lines(process.stderr.read())

    return run


def test_without_a_base_url_the_start_logs_one_warning_naming_the_setting(start: Start) -> None:
    lines = start({})
    warnings = [line for line in lines if line["level"] == "warning"]
    assert len(warnings) == 1, lines
    [warning] = warnings
    assert warning["message"].startswith("web.base_url is not set: digests go out")
    assert "set web.base_url (or PAPERBOT_WEB_BASE_URL)" in warning["message"]
    assert warning["setting"] == "web.base_url"


def test_with_a_base_url_nothing_is_said_of_it(start: Start) -> None:
    lines = start({"PAPERBOT_WEB_BASE_URL": BASE_URL})
    assert lines and not [line for line in lines if "web.base_url" in json.dumps(line)]
