"""Fetching feeds from a real HTTP server on 127.0.0.1."""

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest

from bot.errors import FeedError
from bot.ingest.fetch import MAX_FEED_BYTES, FetchedFeed, fetch_feed
from bot.ingest.redirects import Resolver
from bot.redaction import redact_url
from tests.ingest.conftest import resolve

FEED = (
    b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>A paper</title><link>https://example.org/a</link></item></channel></rss>"
)
ETAG = '"v1-abc"'
LAST_MODIFIED = "Wed, 04 Sep 2024 04:31:12 GMT"
USER_AGENT = "paperbot-tests/1.0 (+https://example.org/paperbot)"


@dataclass
class Server:
    """A feed server on a free local port and the requests it has received."""

    base: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    trickled: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def headers_of(self, path: str) -> list[dict[str, str]]:
        return [headers for seen, headers in self.requests if seen == path]


class FeedHandler(BaseHTTPRequestHandler):
    """Answers by path; see each branch."""

    server_state: Server

    def do_GET(self) -> None:
        state = self.server_state
        state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        # Asked as a proxy, the path is a whole URL: http://feeds.public.example/feed.
        route = urlsplit(self.path).path
        if route == "/feed":
            self._feed()
        elif route == "/redirect":
            self._redirect("/feed")
        elif route == "/loop":
            self._redirect("/loop")
        elif route == "/to-loopback":
            self._redirect(f"{state.base}/feed")
        elif route == "/to-intranet":
            self._redirect("http://intranet.example/feed")
        elif route == "/to-mirror":
            self._redirect("http://mirror.public.example/feed")
        elif route == "/to-ftp":
            self._redirect("ftp://127.0.0.1/feed")
        elif route == "/missing":
            self._status(404)
        elif route == "/broken":
            self._status(500)
        elif route == "/slow":
            # Held until the test is over, well past any client timeout.
            state.release.wait(timeout=10)
            self._status(200)
        elif route == "/trickle":
            self._trickle(count=300, every=0.2)
        elif route == "/big":
            self._send(200, b"x" * 4096, {"Content-Type": "application/rss+xml"})
        elif route == "/big-chunked":
            self._chunked(b"y" * 1024, count=8)
        elif route == "/gzip-bomb":
            body = gzip.compress(b" " * 100_000)
            self._send(200, body, {"Content-Encoding": "gzip"})
        else:
            self._status(404)

    def _feed(self) -> None:
        if self.headers.get("If-None-Match") == ETAG:
            self.send_response(304)
            self.send_header("ETag", ETAG)
            self.end_headers()
            return
        headers = {
            "Content-Type": "application/rss+xml; charset=utf-8",
            "ETag": ETAG,
            "Last-Modified": LAST_MODIFIED,
        }
        self._send(200, FEED, headers)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _status(self, code: int) -> None:
        self._send(code, b"", {})

    def _send(self, code: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first, as some tests intend

    def _chunked(self, chunk: bytes, *, count: int) -> None:
        try:
            self.protocol_version = "HTTP/1.1"
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(count):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _trickle(self, *, count: int, every: float) -> None:
        """One byte at a time, `every` seconds apart: no wait is long, the whole is."""
        state = self.server_state
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(count))
            self.end_headers()
            for _ in range(count):
                if state.release.wait(every):
                    return
                self.wfile.write(b" ")
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up
        state.trickled.set()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every request on 127.0.0.1, whatever proxy the environment names."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[Server]:
    """A threaded HTTP server on a free port of 127.0.0.1, shut down after the test."""
    state = Server(base="")
    handler = type("BoundFeedHandler", (FeedHandler,), {"server_state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    host, port = httpd.server_address[:2]
    state.base = f"http://{host!s}:{port}"
    # A short poll, so shutting down takes no half-second per test.
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 5.0,
    client: httpx.Client | None = None,
    max_bytes: int = MAX_FEED_BYTES,
    deadline: float = 60.0,
    resolve: Resolver | None = None,
) -> FetchedFeed:
    return fetch_feed(
        url,
        etag=etag,
        last_modified=last_modified,
        timeout=timeout,
        user_agent=USER_AGENT,
        client=client,
        max_bytes=max_bytes,
        deadline=deadline,
        resolve=resolve,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- success and conditional requests ------------------------------------------------


def test_first_fetch_returns_body_and_validators(server: Server) -> None:
    fetched = fetch(server.url("/feed"))

    assert fetched == FetchedFeed(
        status_code=200,
        not_modified=False,
        content=FEED,
        etag=ETAG,
        last_modified=LAST_MODIFIED,
        url=server.url("/feed"),
    )
    (sent,) = server.headers_of("/feed")
    assert sent["user-agent"] == USER_AGENT
    assert "application/rss+xml" in sent["accept"]
    assert "if-none-match" not in sent
    assert "if-modified-since" not in sent


def test_conditional_fetch_gets_304_and_keeps_validators(server: Server) -> None:
    first = fetch(server.url("/feed"))
    second = fetch(server.url("/feed"), etag=first.etag, last_modified=first.last_modified)

    assert second.status_code == 304
    assert second.not_modified
    assert second.content == b""
    assert second.etag == ETAG
    # The 304 did not repeat Last-Modified; the value sent still holds.
    assert second.last_modified == LAST_MODIFIED
    _, conditional = server.headers_of("/feed")
    assert conditional["if-none-match"] == ETAG
    assert conditional["if-modified-since"] == LAST_MODIFIED


def test_redirect_is_followed_and_final_url_reported(server: Server) -> None:
    fetched = fetch(server.url("/redirect"))

    assert fetched.content == FEED
    assert fetched.url == server.url("/feed")
    assert [path for path, _ in server.requests] == ["/redirect", "/feed"]


def test_caller_supplied_client_is_used(server: Server) -> None:
    with httpx.Client(headers={"X-Probe": "yes"}) as client:
        fetched = fetch(server.url("/feed"), client=client)
        # The caller's client stays open for further requests.
        assert not client.is_closed

    assert fetched.content == FEED
    assert server.headers_of("/feed")[0]["x-probe"] == "yes"


# --- failures ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/missing", "HTTP 404 Not Found"), ("/broken", "HTTP 500 Internal Server Error")],
)
def test_http_errors_raise_with_status(server: Server, path: str, reason: str) -> None:
    with pytest.raises(FeedError) as caught:
        fetch(server.url(path))

    assert caught.value.reason == reason
    assert str(caught.value) == f"{server.url(path)}: {reason}"


def test_too_many_redirects(server: Server) -> None:
    with pytest.raises(FeedError) as caught:
        fetch(server.url("/loop"))

    assert caught.value.reason == "too many redirects"
    # The first request and five redirects, then it stops.
    assert len(server.headers_of("/loop")) == 6


def test_redirect_to_another_scheme_is_refused(server: Server) -> None:
    with pytest.raises(FeedError) as caught:
        fetch(server.url("/to-ftp"))

    assert caught.value.reason == "redirected to a URL that is not http(s)"


def test_a_public_feed_cannot_redirect_into_the_local_network(server: Server) -> None:
    # The internet, played by a stand-in resolver and the test server acting as the proxy
    # every request goes through: all the traffic stays on 127.0.0.1.
    refusals = []
    with httpx.Client(proxy=server.base) as internet:
        for path in ("/to-loopback", "/to-intranet"):
            with pytest.raises(FeedError) as caught:
                fetch(f"http://feeds.public.example{path}", client=internet, resolve=resolve)
            refusals.append(caught.value.reason)
        fetched = fetch("http://feeds.public.example/to-mirror", client=internet, resolve=resolve)

    assert refusals == [
        "refused a redirect from a public address to 127.0.0.1: loopback address",
        "refused a redirect from a public address to intranet.example (10.1.2.3): private address",
    ]
    assert fetched.content == FEED  # from one public address to another is fine
    assert [path for path, _ in server.requests] == [
        "http://feeds.public.example/to-loopback",
        "http://feeds.public.example/to-intranet",
        "http://feeds.public.example/to-mirror",
        "http://mirror.public.example/feed",
    ]


def test_slow_server_times_out(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(FeedError) as caught:
        fetch(server.url("/slow"), timeout=0.5)

    assert caught.value.reason == "no answer within 0.5 s"
    assert time.monotonic() - started < 3


def test_refused_connection() -> None:
    url = f"http://127.0.0.1:{free_port()}/feed"

    with pytest.raises(FeedError) as caught:
        fetch(url)

    assert caught.value.reason == "connection refused"
    assert caught.value.source == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://127.0.0.1/feed.xml", "not an http(s) URL"),
        ("file:///etc/passwd", "not an http(s) URL"),
        ("feed.xml", "not an http(s) URL"),
        ("http:///feed.xml", "URL has no host name"),
        ("http://[::1/feed", "not a valid URL"),
    ],
)
def test_urls_that_are_not_http_are_refused_before_any_request(url: str, reason: str) -> None:
    with pytest.raises(FeedError) as caught:
        fetch(url)

    assert caught.value.reason == reason


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_body_over_the_size_cap_is_refused(server: Server, path: str) -> None:
    with pytest.raises(FeedError) as caught:
        fetch(server.url(path), max_bytes=2048)

    assert caught.value.reason == "feed is larger than 2 KB"


def test_size_cap_counts_decompressed_bytes(server: Server) -> None:
    with pytest.raises(FeedError) as caught:
        fetch(server.url("/gzip-bomb"), max_bytes=50 * 1024)

    assert caught.value.reason == "feed is larger than 50 KB"


def test_body_under_the_cap_is_returned_whole(server: Server) -> None:
    assert fetch(server.url("/big-chunked"), max_bytes=8192).content == b"y" * 8192


def test_a_trickling_server_is_cut_off_at_the_deadline(server: Server) -> None:
    # 300 bytes, 0.2 s apart: each wait is far below the timeout, the whole a minute. The
    # deadline caps each wait too: 3 s leaves a stalled server thread room on a busy machine.
    outcome: list[BaseException | FetchedFeed] = []

    def run() -> None:
        try:
            outcome.append(fetch(server.url("/trickle"), timeout=5.0, deadline=3.0))
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)  # a guard: without a deadline the fetch takes the whole minute
    cut_short = not server.trickled.is_set()
    server.release.set()

    assert not worker.is_alive(), "the fetch was still running"
    [error] = outcome
    assert isinstance(error, FeedError), error
    assert str(error) == (
        f"{server.url('/trickle')}: not fetched within the 3 s deadline (ingest.feed_deadline)"
    )
    assert cut_short  # the server still had bytes to send


def test_the_deadline_bounds_each_wait_too(server: Server) -> None:
    with pytest.raises(FeedError) as caught:
        fetch(server.url("/slow"), timeout=30.0, deadline=0.5)

    assert caught.value.reason == "no answer within 0.5 s"


# --- credentials never leak into messages -------------------------------------


def test_credentials_in_url_are_redacted_from_http_errors(server: Server) -> None:
    url = server.url("/missing").replace("http://", "http://reader:s3cret-token@")

    with pytest.raises(FeedError) as caught:
        fetch(url)

    message = str(caught.value)
    assert "s3cret-token" not in message
    assert "reader" not in message
    assert (
        message == f"{server.url('/missing').replace('http://', 'http://***@')}: HTTP 404 Not Found"
    )
    # The credentials still went to the server, as HTTP basic auth.
    assert server.headers_of("/missing")[0]["authorization"].startswith("Basic ")


def test_credentials_in_url_are_redacted_from_connection_errors() -> None:
    url = f"http://reader:s3cret-token@127.0.0.1:{free_port()}/feed"

    with pytest.raises(FeedError) as caught:
        fetch(url)

    assert "s3cret-token" not in str(caught.value)
    assert caught.value.source.startswith("http://***@127.0.0.1:")


def test_credentials_in_url_are_redacted_from_scheme_errors() -> None:
    with pytest.raises(FeedError) as caught:
        fetch("ftp://reader:s3cret-token@127.0.0.1/feed")

    assert str(caught.value) == "ftp://***@127.0.0.1/feed: not an http(s) URL"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pass@example.org/feed?x=1", "https://***@example.org/feed?x=1"),
        ("https://token@example.org:8443/feed", "https://***@example.org:8443/feed"),
        ("https://example.org/feed", "https://example.org/feed"),
        ("https://example.org/a@b", "https://example.org/a@b"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_unknown_host_name_is_reported_plainly() -> None:
    # No resolver is asked: the transport fails the way httpx does when DNS does.
    def unresolvable(request: httpx.Request) -> httpx.Response:
        cause = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request) from cause

    transport = httpx.MockTransport(unresolvable)
    with httpx.Client(transport=transport) as client, pytest.raises(FeedError) as caught:
        fetch("https://feeds.example.invalid/rss", client=client)

    assert caught.value.reason == "could not resolve host name 'feeds.example.invalid'"
