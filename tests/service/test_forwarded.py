"""Whose X-Forwarded-For counts: real `paperbot serve` and `paperbot web` processes on 127.0.0.1.

The subscribe form allows each client 10 requests per 10 minutes. A client is
whoever opened the connection, unless it is a proxy named in
`web.trusted_proxies`: a made-up X-Forwarded-For must not buy a fresh allowance.
"""

from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import httpx
import pytest

from tests.delivery.conftest import free_port
from tests.service.conftest import StartServe
from tests.web.conftest import csrf_of, running_web

LIMIT = 10  # the subscribe form's requests per client and 10 minutes

Start = Callable[[dict[str, str]], str]


@pytest.fixture(params=["serve", "web"])
def start(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Start]:
    """Start `paperbot serve` or `paperbot web` with the given settings; its base URL."""
    with ExitStack() as stack:

        def run(env: dict[str, str]) -> str:
            if request.param == "serve":
                serve: StartServe = request.getfixturevalue("serve")
                return f"http://127.0.0.1:{serve(env).port}"
            base = f"http://127.0.0.1:{free_port()}"
            env = {"PAPERBOT_WEB_PORT": base.rsplit(":", 1)[1], **env}
            stack.enter_context(running_web(tmp_path, env, f"{base}/subscribe"))
            return base

        yield run


def _post(client: httpx.Client, csrf: str, forwarded_for: str) -> int:
    """POST the subscribe form claiming to be `forwarded_for`; the status code."""
    form = {"csrf": csrf, "email": "ana@lab.org", "keywords": "graphs"}
    response = client.post("/subscribe", data=form, headers={"X-Forwarded-For": forwarded_for})
    assert response.status_code in (200, 429), response.text
    return response.status_code


def _browser(base: str) -> tuple[httpx.Client, str]:
    """A client with the form's CSRF cookie, and the form's CSRF field."""
    client = httpx.Client(base_url=base, timeout=30)
    return client, csrf_of(client)


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
