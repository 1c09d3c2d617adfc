"""Whose X-Forwarded-For counts: real `paperbot serve` and `paperbot web` processes on 127.0.0.1.

The subscribe form allows each client 10 requests per 10 minutes. A client is
whoever opened the connection, unless it is a proxy named in
`web.trusted_proxies`: a made-up X-Forwarded-For must not buy a fresh allowance.
"""

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import StartServe, free_port

LIMIT = 10  # the subscribe form's requests per client and 10 minutes

Start = Callable[[dict[str, str]], str]


@pytest.fixture(params=["serve", "web"])
def start(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Start]:
    """Start `paperbot serve` or `paperbot web` with the given settings; its base URL."""
    processes: list[subprocess.Popen[str]] = []

    def run(env: dict[str, str]) -> str:
        if request.param == "serve":
            serve: StartServe = request.getfixturevalue("serve")
            return f"http://127.0.0.1:{serve(env).port}"
        port = free_port()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "web"],
            cwd=tmp_path,
            env={**clean, "PAPERBOT_WEB_PORT": str(port), **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, "paperbot web exited"
            try:
                if httpx.get(f"{base}/subscribe", timeout=2).status_code == 200:
                    return base
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail("paperbot web did not answer")

    yield run
    for process in processes:
        process.kill()
        process.wait()


def _post(client: httpx.Client, csrf: str, forwarded_for: str) -> int:
    """POST the subscribe form claiming to be `forwarded_for`; the status code."""
    form = {"csrf": csrf, "email": "ana@lab.org", "keywords": "graphs"}
    response = client.post("/subscribe", data=form, headers={"X-Forwarded-For": forwarded_for})
    assert response.status_code in (200, 429), response.text
    return response.status_code


def _browser(base: str) -> tuple[httpx.Client, str]:
    """A client with the form's CSRF cookie, and the form's CSRF field."""
    client = httpx.Client(base_url=base, timeout=30)
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/subscribe").text)
    assert found is not None
    return client, found[1]


def test_forwarded_headers_count_only_from_trusted_proxies(start: Start) -> None:
    # No proxy trusted (the default): every request comes from 127.0.0.1, whatever it claims.
    client, csrf = _browser(start({}))
    with closing(client):
        claims = [_post(client, csrf, f"203.0.113.{n}") for n in range(LIMIT + 1)]
    assert claims == [200] * LIMIT + [429]

    # 127.0.0.1 named a trusted proxy: the address it forwards is the client.
    client, csrf = _browser(start({"PAPERBOT_WEB_TRUSTED_PROXIES": "127.0.0.1"}))
    with closing(client):
        same = [_post(client, csrf, "203.0.113.1") for _ in range(LIMIT + 1)]
        other = _post(client, csrf, "203.0.113.2")
    assert same == [200] * LIMIT + [429] and other == 200
