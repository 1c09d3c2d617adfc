"""`paperbot web` and `paperbot serve` listen where --host and --port say, over the settings."""

import socket
import urllib.request
from pathlib import Path

from tests.delivery.conftest import free_port
from tests.web.conftest import running_web


def test_web_listens_on_the_host_and_port_given_not_the_configured_ones(
    tmp_path: Path,
) -> None:
    configured, given = free_port(), free_port()
    # Another loopback address: what the settings say is still on this machine alone.
    env = {"PAPERBOT_WEB_HOST": "127.0.0.2", "PAPERBOT_WEB_PORT": str(configured)}
    url = f"http://127.0.0.1:{given}/subscribe"
    with running_web(tmp_path, env, url, "--host", "127.0.0.1", "--port", str(given)):
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.2", configured)) != 0  # nothing listens there
