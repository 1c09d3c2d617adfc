"""Shared fixtures: real databases (SQLite files, a throwaway PostgreSQL), the sample dumps, the CLI."""

import base64
import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright
from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.db import open_engine, upgrade_schema, write_session
from bot.ingest.parsed import ParsedPaper
from bot.ingest.store import Origin, store_papers
from tests import forked_commands
from tests.postgres import PostgresCluster, find_postgres_bin

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "examples" / "dumps"
DATA = Path(__file__).resolve().parent / "data"

RunCli = Callable[..., subprocess.CompletedProcess[str]]
T = TypeVar("T")


@pytest.fixture
def samples() -> Path:
    """The folder of real sample dumps shipped with the project."""
    return SAMPLES


# --- Databases ------------------------------------------------------------------------

DATABASES = ("sqlite", "postgresql")


# The storage and delivery tests run on both databases; the layers above them (matching,
# rendering, the web pages) read and write through the same code, so SQLite suffices there.
ON_EVERY_DATABASE = (
    "tests/test_db.py",
    "tests/test_db_copy.py",
    "tests/test_locks.py",
    "tests/test_migrations.py",
    "tests/test_papers.py",
    "tests/test_paper_vectors.py",
    "tests/test_runs.py",
    "tests/test_tokens.py",
    "tests/ingest/",
    "tests/subscriptions/",
    "tests/delivery/",
    "tests/service/test_state.py",
    "tests/web/test_confirmation.py",  # what a confirmation does to stored subscribers
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the storage and delivery tests that use a database on each of them.

    A test about SQLite itself (WAL, busy timeout, its file) opens a `sqlite:///` URL of
    its own instead, and so runs on SQLite alone. A test elsewhere that must run on both
    says so itself: `@pytest.mark.parametrize("database_url", DATABASES, indirect=True)`.
    """
    if "database_url" not in metafunc.fixturenames:
        return
    if any(
        "database_url" in marker.args[0]
        for marker in metafunc.definition.iter_markers("parametrize")
    ):
        return
    path = Path(metafunc.definition.fspath).relative_to(ROOT).as_posix()
    on_both = path.startswith(ON_EVERY_DATABASE)
    metafunc.parametrize("database_url", DATABASES if on_both else ("sqlite",), indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the `serial` tests first, one after another on one worker.

    They spend minutes waiting on real services' clocks and little on the CPU: begun
    first (`--dist loadgroup` keeps their one group on one worker), they overlap the
    rest of the suite instead of adding their time at its end, and they leave the
    other workers, one per core, to the tests that keep a core busy.
    """
    serial = [item for item in items if item.get_closest_marker("serial")]
    for item in serial:
        item.add_marker(pytest.mark.xdist_group("serial"))
    others = [item for item in items if not item.get_closest_marker("serial")]
    items[:] = serial + others


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL server for the whole session, started on first use.

    Without PostgreSQL's programs its tests are skipped, except in CI (`CI` set).
    """
    bindir = required_tool(
        str(found) if (found := find_postgres_bin()) else None,
        "PostgreSQL tests need initdb and pg_ctl (apt-get install postgresql)",
    )
    cluster = PostgresCluster(Path(bindir))
    yield cluster
    cluster.stop()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file, or a PostgreSQL database of its own."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'paperbot.db'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    name = cluster.create_database()
    yield cluster.url(name)
    cluster.drop_database(name)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A fresh database with the schema created, on each database (see `database_url`)."""
    engine = open_engine(database_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    """A clock stopped at a known instant."""
    return lambda: datetime(2024, 11, 22, 9, 30, tzinfo=UTC)


def run_paperbot(
    args: tuple[str, ...], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `paperbot ARGS...` as a real process in `cwd`, with no PAPERBOT_* settings but `env`.

    The process is forked from one that has imported paperbot already (see
    `tests.forked_commands`): a new interpreter would spend most of its time there.
    """
    return forked_commands.run(args, cwd, forked_commands.command_env(env), timeout=120)


DATA_FOLDER = "paperbot-data"
"""Where paperbot keeps its database with the embedded defaults, under the current folder."""


def prepared_data(factory: pytest.TempPathFactory, *commands: tuple[str, ...]) -> Path:
    """The data folder after running each `paperbot` command of `commands` in a new folder.

    For fixtures that many tests start from: made once (session or module scope) by
    the real commands, then copied into each test's folder with `use_data`.
    """
    folder = factory.mktemp("prepared")
    for args in commands:
        result = run_paperbot(args, folder)
        assert result.returncode == 0, result.stderr
    return folder / DATA_FOLDER


def use_data(data: Path, folder: Path) -> None:
    """Copy a data folder made by `prepared_data` to where paperbot run in `folder` reads it."""
    shutil.copytree(data, folder / DATA_FOLDER)


def store_titled(engine: Engine, seen: datetime, papers: list[tuple[str, str]]) -> None:
    """Store papers given as (title, abstract), first seen at `seen`, as an ingest would."""
    with write_session(engine) as session:
        parsed = [ParsedPaper(title=title, abstract=abstract) for title, abstract in papers]
        store_papers(session, parsed, Origin(seen_at=seen))


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run `paperbot ARGS...` as a real process in `tmp_path`, with no PAPERBOT_* settings."""

    def run(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_paperbot(args, cwd or tmp_path, env)

    return run


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering with `handler`, in a thread; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class StaticFeeds:
    """Feeds served over real HTTP on 127.0.0.1, with ETags, and the requests received."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, If-None-Match)
        self.base = ""

    def url(self, path: str) -> str:
        """The full URL of `path` on this server."""
        return self.base + path


@pytest.fixture
def feed_server() -> Iterator[StaticFeeds]:
    """A real HTTP server on a free local port serving `documents` by path."""
    feeds = StaticFeeds()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feeds.requests.append((self.path, self.headers.get("If-None-Match")))
            body = feeds.documents.get(self.path)
            if body is None:
                self.send_error(404)
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as feeds.base:
        yield feeds


class GuardedFeeds:
    """A feed server on 127.0.0.1 that answers only requests carrying its credentials.

    Every request needs HTTP basic auth `FEED_USER:FEED_PASSWORD` (from the URL's
    user information) and the query `api_key=FEED_KEY&sid=FEED_SID`; others get 401.
    `/feed` is an arXiv RSS feed, `/down` answers 503.
    """

    def __init__(self) -> None:
        self.base = ""
        self.authorized: list[str] = []  # paths of the requests that carried the credentials

    def url(self, path: str) -> str:
        """`path` on this server, with the credentials in the URL."""
        host = self.base.removeprefix("http://")
        query = f"api_key={FEED_KEY}&sid={FEED_SID}&lang=en"
        return f"http://{FEED_USER}:{FEED_PASSWORD}@{host}{path}?{query}"

    def write_settings(self, folder: Path) -> None:
        """`folder`/paperbot.toml naming two of its feeds, "good" (`/feed`) and "down".

        `sid` is named a secret parameter: it does not look like one.
        """
        (folder / "paperbot.toml").write_text(
            "[ingest]\nsecret_params = ['sid']\n"
            f"[[feeds]]\nname = 'good'\nurl = '{self.url('/feed')}'\n"
            f"[[feeds]]\nname = 'down'\nurl = '{self.url('/down')}'\n"
        )


FEED_USER, FEED_PASSWORD = "reader", "pw-Zq81xv-hidden"
FEED_KEY, FEED_SID = "key-Hh27rm-hidden", "sid-Pp55ab-hidden"
FEED_SECRETS = (
    FEED_PASSWORD,
    FEED_KEY,
    FEED_SID,
    base64.b64encode(f"{FEED_USER}:{FEED_PASSWORD}".encode()).decode(),
)
"""What must never be shown of `GuardedFeeds.url`s."""


@pytest.fixture
def guarded_feeds() -> Iterator[GuardedFeeds]:
    """A `GuardedFeeds` server on a free local port."""
    feeds = GuardedFeeds()
    document = (DATA / "feeds" / "arxiv_cs_LG.rss.xml").read_bytes()
    login = "Basic " + base64.b64encode(f"{FEED_USER}:{FEED_PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            given = parse_qs(query)
            query_ok = given.get("api_key") == [FEED_KEY] and given.get("sid") == [FEED_SID]
            if self.headers.get("Authorization") != login or not query_ok:
                self.send_error(401)
                return
            feeds.authorized.append(path)
            if path != "/feed":
                self.send_error(503)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as feeds.base:
        yield feeds


class DailyPapersApi:
    """Hugging Face's daily papers API, as served on 127.0.0.1: one JSON list per day.

    `days` maps "YYYY-MM-DD" to a response body; other days answer `[]`, as the real
    API does on days without a list. Answers carry an ETag and honour If-None-Match.
    `requests` records (day, If-None-Match, User-Agent) per request; `most_at_once` is
    the most requests that were being answered at the same time.
    """

    def __init__(self) -> None:
        self.base = ""
        self.days: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None, str | None]] = []
        self.most_at_once = 0
        self._at_once = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The API's address, as `ingest.hf_daily_url` takes it."""
        return self.base + "/api/daily_papers"

    def settings(self) -> str:
        """The `[ingest]` settings that point paperbot here, with no pause between days."""
        return (
            f"[ingest]\nhf_daily_url = '{self.url}'\nhf_daily_pause = 0\n"
            "user_agent = 'paperbot-test/1 (admin@lab.example)'\n"
        )


@pytest.fixture
def daily_papers_api() -> Iterator[DailyPapersApi]:
    """A `DailyPapersApi` on a free local port."""
    api = DailyPapersApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with api._lock:
                api._at_once += 1
                api.most_at_once = max(api.most_at_once, api._at_once)
            try:
                self._answer()
            finally:
                with api._lock:
                    api._at_once -= 1

        def _answer(self) -> None:
            path, _, query = self.path.partition("?")
            [day] = parse_qs(query).get("date", [""])
            api.requests.append(
                (day, self.headers.get("If-None-Match"), self.headers.get("User-Agent"))
            )
            if path != "/api/daily_papers":
                self.send_error(404)
                return
            body = api.days.get(day, b"[]")
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as api.base:
        yield api


# --- A real browser -----------------------------------------------------------------

CHROMIUM_ARGS = (
    "--no-sandbox",  # containers and CI often run as root, where the sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # a container's small /dev/shm would crash the renderer
    # No update checks, metrics or safe-browsing lists: the tests must not reach the network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # And a backstop: no host name resolves, so nothing a page does can reach another host.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)


def find_chromium() -> str | None:
    """Debian's `chromium` on the PATH, else at /usr/bin/chromium; None when absent."""
    found = shutil.which("chromium")
    if found is None and os.access("/usr/bin/chromium", os.X_OK):
        found = "/usr/bin/chromium"
    return found


class BrowserThread:
    """One headless Chromium driven by Playwright's sync API from a thread of its own.

    Why a thread: for as long as it lives, sync Playwright marks its event loop as
    running in the thread that started it. Started in pytest's thread, it would make
    every later `asyncio.run()` there (the SMTP transport's) fail with "cannot be called
    from a running event loop". `run(work)` calls `work(browser)` in the browser's
    thread and returns its result here, or raises its exception (failed asserts too).
    """

    def __init__(self, executable: str) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")
        try:
            self._playwright, self._browser = self._thread.submit(self._launch, executable).result(
                timeout=120
            )
        except BaseException:
            self._thread.shutdown()
            raise

    @staticmethod
    def _launch(executable: str) -> tuple[Playwright, Browser]:
        playwright = sync_playwright().start()
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, args=list(CHROMIUM_ARGS), headless=True
            )
        except BaseException:
            playwright.stop()
            raise
        return playwright, browser

    def run(self, work: Callable[[Browser], T]) -> T:
        """Return `work(browser)`, run in the browser's thread."""
        return self._thread.submit(work, self._browser).result(timeout=120)

    def close(self) -> None:
        """Close the browser and stop Playwright (in their thread), then the thread."""

        def stop() -> None:
            try:
                self._browser.close()
            finally:
                self._playwright.stop()

        try:
            self._thread.submit(stop).result(timeout=60)
        finally:
            self._thread.shutdown()


def required_tool(found: str | None, reason: str) -> str:
    """`found` (a tool's path); when None, skip the test, or fail it in CI (`CI` set).

    In CI a missing tool must fail the run instead of quietly testing less.
    """
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so it is required", pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[BrowserThread]:
    """A headless Chromium for the whole session (Debian's `chromium`, not a downloaded one).

    Without it the browser tests are skipped, except in CI (the `CI` variable set), where
    a missing browser must fail the run instead of quietly testing less.
    """
    executable = required_tool(
        find_chromium(), "browser tests need Debian's chromium (apt-get install chromium)"
    )
    chromium = BrowserThread(executable)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The folder tests write files for people to look at (screenshots), created if needed.

    `$PAPERBOT_TEST_ARTIFACTS` when set, else `test-artifacts/` at the repository root.
    """
    folder = Path(os.environ.get("PAPERBOT_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
