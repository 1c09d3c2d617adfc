"""The app over a real database holding sample papers and two subscribers, for the tests of
the pages reached by signed links (manage, unsubscribe, feedback), and how a browser reads
their forms."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from starlette.testclient import TestClient

from bot.config import load_settings
from bot.db import write_session
from bot.ingest.pipeline import ingest_file
from bot.models import Paper
from bot.subscriptions.spec import email_key, make_spec
from bot.subscriptions.store import SubscriberView, find_subscriber, subscribe
from bot.tokens import Purpose, TokenSubject, make_token, read_token
from bot.web.app import create_app
from tests.conftest import SAMPLES

INGESTED_AT = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)
SECRET = "test-link-secret-of-32-characters"
ANA = "ana@lab.org"
BO = "bo@lab.org"
GNN_TITLE = "Forward Learning of Graph Neural Networks"
DIFFUSION_TITLE = "Stable Video Diffusion: Scaling Latent Video Diffusion Models to Large Datasets"


@dataclass
class ManageSite:
    """The app over a database holding the sample papers and two subscribers."""

    engine: Engine
    client: TestClient
    now: list[datetime]

    def token(self, purpose: Purpose, email: str = ANA) -> str:
        with Session(self.engine) as session:
            view = find_subscriber(session, email)
        assert view is not None
        return make_token(SECRET, purpose, TokenSubject(view.id, email_key(view.email)))

    def links_to_own_page(self, html: str, purpose: Purpose, email: str = ANA) -> bool:
        """True when the page links to `purpose` with a valid token for `email`.

        Tokens carry the second they were made, so the page's token is read, not
        compared with one made here.
        """
        tokens = re.findall(rf'/{purpose}/([A-Za-z0-9_.\-]+)"', html)
        assert tokens, f"no /{purpose}/ link in the page"
        view = self.view(email)
        subjects = [read_token(SECRET, purpose, token) for token in tokens]
        return all(s.subscriber_id == view.id and s.is_for(email_key(view.email)) for s in subjects)

    def view(self, email: str = ANA) -> SubscriberView:
        with Session(self.engine) as session:
            view = find_subscriber(session, email)
        assert view is not None
        return view


def make_manage_site(engine: Engine, tmp_path: Path, **env: str) -> ManageSite:
    settings = load_settings(
        environ={"PAPERBOT_DATA_DIR": str(tmp_path / "data"), "PAPERBOT_WEB_SECRET": SECRET, **env},
        cwd=tmp_path,
    )
    ingest_file(engine, SAMPLES / "spaced-1.txt", clock=lambda: INGESTED_AT, year=2025)
    with write_session(engine) as session:
        for spec in (
            make_spec(ANA, ["graph neural network"], name="graphs", cadence="weekly",
                      channels=["email"], timezone="Europe/Berlin"),
            make_spec(ANA, ["Kolmogorov-Arnold network"], ["survey"], name="kan"),
            make_spec(BO, ["backpropagation"]),
        ):  # fmt: skip
            subscribe(session, spec, now=INGESTED_AT)
    now = [INGESTED_AT + timedelta(days=1)]
    client = TestClient(create_app(engine, settings, clock=lambda: now[0]))
    return ManageSite(engine, client, now)


class _Form(HTMLParser):
    """The fields the first form of a page submits, as a browser would (no buttons)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._forms = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._forms += 1
        if self._forms != 1:
            return
        if tag == "input" and (a.get("type") != "checkbox" or "checked" in a):
            self.fields[a["name"]] = a.get("value", "")
        if tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""
        if tag == "select":
            self._select = a["name"]
        if tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a["value"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        if tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.fields[self._textarea] += data


def read_form(html: str) -> dict[str, str]:
    parser = _Form()
    parser.feed(html)
    return parser.fields


def paper_id_of(site: ManageSite, title: str = GNN_TITLE) -> int:
    with Session(site.engine) as session:
        found = session.scalars(select(Paper).where(col(Paper.title) == title)).one().id
    assert found is not None, title
    return found


def topic_id_of(site: ManageSite, name: str = "graphs", email: str = ANA) -> int:
    [found] = [t.id for t in site.view(email).topics if t.name == name]
    return found
