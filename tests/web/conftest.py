"""Fixtures of the web tests: the app on a real database, a controlled clock, real mail."""

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bot.config import Settings, load_settings
from bot.ingest.pipeline import ingest_file
from bot.models import PendingSubscription
from bot.subscriptions.store import SubscriberView, list_subscribers
from bot.web.app import create_app
from tests.conftest import SAMPLES

# The real SMTP server on 127.0.0.1, shared with the delivery tests.
from tests.delivery.conftest import SmtpServer, smtp_server, start_server  # noqa: F401

T0 = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)
SECRET = "test-signing-secret-of-32-characters"
SENT = "If this address can receive mail, a confirmation link is on its way; it expires in 2 days"
LINK = re.compile(r"http://testserver/confirm/[A-Za-z0-9_.-]+")


@dataclass
class Site:
    """The web app on a real database, its clock, and where its emails land."""

    app: Starlette
    engine: Engine
    settings: Settings
    now: list[datetime]
    inbox: Callable[[], list[EmailMessage]]
    client: TestClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.new_client()

    def new_client(self, host: str = "testclient") -> TestClient:
        """A browser of its own (cookies), coming from `host`."""
        return TestClient(self.app, client=(host, 50000))

    def subscribe(self, client: TestClient | None = None, **fields: str) -> str:
        """Fill in the form as a browser does (GET, then POST with its CSRF); the response text."""
        return self.post(client, **fields).text

    def post(self, client: TestClient | None = None, **fields: str) -> httpx.Response:
        """The POST /subscribe response for `fields` over the defaults, with a valid CSRF."""
        client = client or self.client
        data = {"email": "ana@lab.org", "keywords": "diffusion models", "cadence": "daily"}
        data["channels"] = "email"
        return client.post("/subscribe", data={**data, "csrf": csrf_of(client), **fields})

    def confirm(self, link: str, client: TestClient | None = None) -> httpx.Response:
        """Open a confirmation link and press its button, as a person does."""
        client = client or self.client
        shown = client.get(link)
        assert shown.status_code == 200, shown.text
        return self.press(link, client)

    def press(self, link: str, client: TestClient | None = None) -> httpx.Response:
        """Press a confirmation link's button: the POST its page sends."""
        return (client or self.client).post(link, data={"confirm": "yes"})

    def open_and_press(self, link: str) -> tuple[httpx.Response, httpx.Response]:
        """Both ways to use a confirmation link: opening it, and pressing its button."""
        return self.client.get(link), self.press(link)

    def subscribers(self) -> list[SubscriberView]:
        """The active subscribers, as the CLI lists them."""
        with Session(self.engine) as session:
            return list_subscribers(session)

    def pending(self) -> list[PendingSubscription]:
        """Every pending request stored."""
        with Session(self.engine) as session:
            return list(session.exec(select(PendingSubscription)))


def csrf_of(client: httpx.Client) -> str:
    """Open the form and return its CSRF field (the cookie is set on `client` too)."""
    response = client.get("/subscribe")
    found = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert found, response.text
    return found.group(1)


def link_in(message: EmailMessage) -> str:
    """The confirmation link of the email's plain-text part."""
    body = message.get_body(("plain",))
    assert body is not None
    found: list[str] = LINK.findall(body.get_content())
    assert len(found) == 1, body.get_content()
    return found[0]


MakeSite = Callable[..., Site]


@pytest.fixture
def make_site(engine: Engine, tmp_path: Path) -> Iterator[MakeSite]:
    """Build the app with the given PAPERBOT_* settings (file transport unless told)."""

    def make(env: dict[str, str] | None = None, smtp: SmtpServer | None = None) -> Site:
        environ = {
            "PAPERBOT_DATA_DIR": str(tmp_path / "data"),
            "PAPERBOT_WEB_SECRET": SECRET,
            "PAPERBOT_WEB_BASE_URL": "http://testserver",  # links in emails use it
        }
        if smtp is not None:
            environ |= {
                "PAPERBOT_DELIVERY_TRANSPORT": "smtp",
                "PAPERBOT_SMTP_HOST": smtp.host,
                "PAPERBOT_SMTP_PORT": str(smtp.port),
                "PAPERBOT_SMTP_SECURITY": "none",
                "PAPERBOT_SMTP_TIMEOUT": "5",
            }
        settings = load_settings(environ={**environ, **(env or {})}, cwd=tmp_path)
        now = [T0]
        app = create_app(engine, settings, clock=lambda: now[0])
        if smtp is not None:
            handler = smtp.handler

            def inbox() -> list[EmailMessage]:
                return [received.message for received in handler.received]
        else:

            def inbox() -> list[EmailMessage]:
                return [read_eml(path) for path in sorted(settings.outbox_dir.glob("*.eml"))]

        return Site(app, engine, settings, now, inbox)

    yield make


@dataclass(frozen=True)
class Archive:
    """The site with one sample dump's papers ingested, and the day they are listed under."""

    site: Site
    day: str

    @property
    def path(self) -> str:
        """The day's archive page."""
        return f"/archive/{self.day}"


@pytest.fixture
def archive(make_site: MakeSite, engine: Engine) -> Archive:
    """The archive of the 63 papers of `examples/dumps/spaced-1.txt`, all on one day."""
    ingest_file(engine, SAMPLES / "spaced-1.txt", clock=lambda: T0, year=2025)
    site = make_site()
    [day] = re.findall(r'href="/archive/([0-9-]{10})"', site.client.get("/archive").text)
    return Archive(site, day)


def read_eml(path: Path) -> EmailMessage:
    """An .eml file of the outbox, parsed."""
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.fixture
def site(make_site: MakeSite, smtp_server: SmtpServer) -> Site:  # noqa: F811
    """The app sending through a real SMTP server on 127.0.0.1."""
    return make_site(smtp=smtp_server)


@contextmanager
def running_web(
    cwd: Path, env: dict[str, str], url: str, *options: str
) -> Iterator[subprocess.Popen[str]]:
    """`paperbot web [OPTIONS]` as a real process in `cwd` with `env`, once `url` answers; stopped after."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "web", *options],
        cwd=cwd,
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_up(url, process)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30  # only bounds a hang: the loop ends on an answer
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"paperbot web exited: {process.stderr.read() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    pytest.fail("paperbot web did not answer")
