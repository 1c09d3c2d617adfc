"""The manage and unsubscribe pages over HTTP, against a real SQLite file.

Papers come from a sample dump ingested a day before the app's clock, so they
are "recent"; forms are read back from the served HTML and submitted as a
browser would, so the tests see what a visitor sees.
"""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bot.db import write_session
from bot.delivery.ledger import record_delivery
from bot.ingest.identity import title_key
from bot.ingest.pipeline import ingest_file
from bot.models import Delivery, Paper, SentPaper, Subscriber
from bot.subscriptions.channels import add_channel, list_channels
from bot.subscriptions.examples import mark_example
from bot.subscriptions.spec import email_key, make_spec
from bot.subscriptions.store import subscribe, unsubscribe
from bot.tokens import TokenSubject, make_token
from bot.web.context import WebContext
from bot.web.security import CSRF_COOKIE, CSRF_FIELD
from tests.conftest import DATA, DATABASES
from tests.web.manage_site import (
    ANA,
    BO,
    DIFFUSION_TITLE,
    GNN_TITLE,
    INGESTED_AT,
    SECRET,
    ManageSite,
    make_manage_site,
    paper_id_of,
    read_form,
    topic_id_of,
)


@pytest.fixture
def site(engine: Engine, tmp_path: Path) -> ManageSite:
    return make_manage_site(engine, tmp_path)


def _topic_fields(form: dict[str, str], name: str) -> str:
    """The prefix of the form's fields for the topic called `name` ("topic-1")."""
    [prefix] = [k[: -len("-name")] for k, v in form.items() if k.endswith("-name") and v == name]
    return prefix


def _count(engine: Engine, table: type) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def _manage_form(site: ManageSite) -> tuple[str, dict[str, str]]:
    url = f"/manage/{site.token('manage')}"
    response = site.client.get(url)
    assert response.status_code == 200
    return url, read_form(response.text)


# --- Links that are not valid ----------------------------------------------------------


def _bad_token(site: ManageSite, case: str) -> tuple[str, str]:
    """The path prefix and token of one kind of link that must be refused."""
    manage, unsub = site.token("manage"), site.token("unsubscribe")
    ana, bo = site.view(ANA), site.view(BO)
    # The last characters are the signature's: changed, it no longer holds.
    tampered = {"/manage/": manage, "/unsubscribe/": unsub}
    kinds: dict[str, tuple[str, str]] = {
        f"tampered {where}": (where, token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB"))
        for where, token in tampered.items()
    }
    kinds |= {
        "garbage": ("/manage/", "not-a-token"),
        "signed with another secret": (
            "/manage/",
            make_token("another-secret", "manage", TokenSubject(ana.id, ANA)),
        ),
        "unsubscribe token on manage": ("/manage/", unsub),
        "manage token on unsubscribe": ("/unsubscribe/", manage),
        # Ana's id with Bo's address (and the reverse): a link for one address never
        # works for another.
        "other address, manage": (
            "/manage/",
            make_token(SECRET, "manage", TokenSubject(ana.id, email_key(bo.email))),
        ),
        "other address, unsubscribe": (
            "/unsubscribe/",
            make_token(SECRET, "unsubscribe", TokenSubject(bo.id, email_key(ana.email))),
        ),
        "deleted subscriber, manage": (
            "/manage/",
            make_token(SECRET, "manage", TokenSubject(999, ANA)),
        ),
        "deleted subscriber, unsubscribe": (
            "/unsubscribe/",
            make_token(SECRET, "unsubscribe", TokenSubject(999, ANA)),
        ),
    }
    return kinds[case]


BAD_LINKS = [
    "tampered /manage/", "tampered /unsubscribe/", "garbage", "signed with another secret",
    "unsubscribe token on manage", "manage token on unsubscribe", "other address, manage",
    "other address, unsubscribe", "deleted subscriber, manage", "deleted subscriber, unsubscribe",
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_LINKS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_bad_link_is_refused_with_a_400_page_and_changes_nothing(
    site: ManageSite, case: str, method: str
) -> None:
    prefix, token = _bad_token(site, case)
    before = (site.view(ANA), site.view(BO))
    # A valid CSRF pair and one-click field: only the link can be the reason for a refusal.
    _, form = _manage_form(site)
    form.update({"action": "save", "cadence": "paused", "List-Unsubscribe": "One-Click"})
    response = site.client.request(method, prefix + token, data=form if method == "POST" else None)
    assert response.status_code == 400
    assert "This link is not valid" in response.text
    assert ANA not in response.text and BO not in response.text
    assert (site.view(ANA), site.view(BO)) == before


# --- The manage page -----------------------------------------------------------------


def test_the_manage_page_shows_the_current_settings_and_no_one_else(site: ManageSite) -> None:
    response = site.client.get(f"/manage/{site.token('manage')}")
    assert response.status_code == 200
    assert ANA in response.text and BO not in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    form = read_form(response.text)
    graphs, kan = _topic_fields(form, "graphs"), _topic_fields(form, "kan")
    assert form[f"{graphs}-keywords"] == "graph neural network"
    assert form[f"{kan}-keywords"] == "Kolmogorov-Arnold network"
    assert form[f"{kan}-exclusions"] == "survey"
    assert f"{graphs}-remove" not in form
    assert (form["cadence"], form.get("channel-email"), form["timezone"]) == (
        "weekly",
        "on",
        "Europe/Berlin",
    )
    assert "channel-markdown" not in form  # offered, not checked
    # The CSRF field repeats the cookie set with the page.
    assert form["csrf"] == site.client.cookies[CSRF_COOKIE]
    # The preview: the stored keywords' papers, with the matched text marked.
    assert GNN_TITLE in response.text and DIFFUSION_TITLE not in response.text
    assert "<mark>Graph Neural Networks</mark>" in response.text
    assert "last 7 days" in response.text
    # The unsubscribe link is Ana's own.
    assert site.links_to_own_page(response.text, "unsubscribe")


def test_the_preview_follows_the_keywords_in_the_form_and_saves_nothing(site: ManageSite) -> None:
    url, form = _manage_form(site)
    before = site.view()
    form[f"{_topic_fields(form, 'graphs')}-keywords"] = "diffusion"
    form["cadence"] = "paused"
    response = site.client.post(url, data={**form, "action": "preview"})
    assert response.status_code == 200
    assert DIFFUSION_TITLE in response.text and GNN_TITLE not in response.text
    assert "<mark>Diffusion</mark>" in response.text
    assert "topic graphs" in response.text
    # The values as submitted are shown back, not the stored ones.
    shown = read_form(response.text)
    assert shown[f"{_topic_fields(shown, 'graphs')}-keywords"] == "diffusion"
    assert shown["cadence"] == "paused"
    assert site.view() == before


def test_the_preview_leaves_out_removed_topics_and_includes_the_new_one(site: ManageSite) -> None:
    url, form = _manage_form(site)
    form[f"{_topic_fields(form, 'graphs')}-remove"] = "1"
    form["new-name"] = "gen"
    form["new-keywords"] = "video diffusion"
    text = site.client.post(url, data={**form, "action": "preview"}).text
    assert DIFFUSION_TITLE in text and GNN_TITLE not in text
    assert "topic gen" in text


def test_the_preview_holds_only_recent_papers(engine: Engine, tmp_path: Path) -> None:
    site = make_manage_site(engine, tmp_path, PAPERBOT_DELIVERY_BACKLOG_DAYS="14")
    url = f"/manage/{site.token('manage')}"
    assert "last 14 days" in site.client.get(url).text
    assert GNN_TITLE in site.client.get(url).text
    site.now[0] = INGESTED_AT + timedelta(days=15)  # every paper is older than the window
    text = site.client.get(url).text
    assert GNN_TITLE not in text
    assert "No recent paper matches" in text and "among 0 recent papers" in text


def test_the_preview_links_titles_to_the_paper_or_a_title_search(site: ManageSite) -> None:
    ingest_file(site.engine, DATA / "feeds" / "arxiv_cs_LG.rss.xml", clock=lambda: INGESTED_AT)
    title = "Sparse Expert Routing for Long-Context Transformers"
    with Session(site.engine) as session:
        arxiv_id = session.scalar(select(col(Paper.arxiv_id)).where(col(Paper.title) == title))
    assert arxiv_id
    url, form = _manage_form(site)
    form[f"{_topic_fields(form, 'graphs')}-keywords"] = "sparse expert routing"
    text = site.client.post(url, data={**form, "action": "preview"}).text
    assert (
        f'<a href="https://arxiv.org/abs/{arxiv_id}" rel="noopener noreferrer">{title}</a>' in text
    )
    assert f'<a class="pdf" href="https://arxiv.org/pdf/{arxiv_id}"' in text  # beside the title
    # A paper of a dump, known by its title only, links to arXiv's search for it.
    search = "https://arxiv.org/search/?query=%22Activation+Space+Selectable+Kolmogorov-Arnold"
    assert f'<h3><a href="{search}+Networks%22&amp;searchtype=title" rel="noopener' in text
    assert "known by its title only" in text


def test_the_preview_index_is_built_once_until_an_ingest_changes_the_papers(
    site: ManageSite,
) -> None:
    url, form = _manage_form(site)
    assert isinstance(site.client.app, Starlette)
    web = site.client.app.state.web
    assert isinstance(web, WebContext)
    cache = web.preview_index
    form[f"{_topic_fields(form, 'graphs')}-keywords"] = "sparse expert routing"
    for _ in range(3):
        assert site.client.get(url).status_code == 200
        assert site.client.post(url, data={**form, "action": "preview"}).status_code == 200
    assert cache.builds == 1
    ingest_file(site.engine, DATA / "feeds" / "arxiv_cs_LG.rss.xml", clock=lambda: INGESTED_AT)
    text = site.client.post(url, data={**form, "action": "preview"}).text
    assert "Sparse Expert Routing for Long-Context Transformers" in text
    assert site.client.get(url).status_code == 200
    assert cache.builds == 2


def test_previews_are_limited_per_client_and_the_page_still_works(site: ManageSite) -> None:
    url = f"/manage/{site.token('manage')}"
    assert isinstance(site.client.app, Starlette)
    web = site.client.app.state.web
    assert isinstance(web, WebContext)
    limit = web.preview_limit.limit
    for _ in range(limit):
        assert GNN_TITLE in site.client.get(url).text
    response = site.client.get(url)
    assert response.status_code == 200
    assert "The preview is skipped" in response.text and GNN_TITLE not in response.text
    assert read_form(response.text)["cadence"] == "weekly"  # the form is all there
    other = TestClient(site.client.app, client=("192.0.2.7", 50000))
    assert GNN_TITLE in other.get(url).text


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("keywords", "<script>" + "x" * 200, "&lt;script&gt;"),
        ("keywords", "<b>&&&</b>, <>", "&lt;&gt;"),
        ("exclusions", "?!", "exclusion"),
        ("timezone", "Mars/<b>Olympus</b>", "Mars/&lt;b&gt;Olympus&lt;/b&gt;"),
        ("cadence", "hourly<i>", "hourly&lt;i&gt;"),
    ],
)
def test_a_bad_value_is_refused_escaped_and_nothing_is_saved(
    site: ManageSite, field: str, value: str, shown: str
) -> None:
    url, form = _manage_form(site)
    before = site.view()
    graphs = _topic_fields(form, "graphs")
    key = f"{graphs}-{field}" if field in ("keywords", "exclusions") else field
    form[key] = value
    form["channel-markdown"] = "on"  # a valid change, which must not be saved either
    response = site.client.post(url, data={**form, "action": "save"})
    assert response.status_code == 400
    assert "Nothing was saved" in response.text
    assert shown in response.text
    assert "<script>" not in response.text and "<b>" not in response.text
    assert "<i>" not in response.text
    # What was typed is shown back, to be corrected (a select can only show its choices).
    if key != "cadence":
        assert read_form(response.text)[key] == value
    assert site.view() == before


@pytest.mark.parametrize("database_url", DATABASES, indirect=True)
@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("name", "topic name contains a control character (U+0000)"),
        ("keywords", "keyword &#39;graph\\x00network&#39; contains a control character (U+0000)"),
        ("exclusions", "exclusion &#39;graph\\x00network&#39; contains a control character"),
        ("new-name", "topic name contains a control character (U+0000)"),
        ("new-keywords", "keyword &#39;graph\\x00network&#39; contains a control character"),
        ("timezone", "Time zone contains a control character (U+0000)"),
    ],
    ids=["name", "keywords", "exclusions", "new-name", "new-keywords", "timezone"],
)
def test_a_nul_byte_in_any_field_is_refused_with_one_line_on_every_database(
    site: ManageSite, field: str, message: str
) -> None:
    url, form = _manage_form(site)
    before = site.view()
    graphs = _topic_fields(form, "graphs")
    key = f"{graphs}-{field}" if field in ("name", "keywords", "exclusions") else field
    form[key] = "graph\x00network"
    if field == "new-name":
        form["new-keywords"] = "diffusion"
    response = site.client.post(url, data={**form, "action": "save"})
    assert response.status_code == 400
    assert "Nothing was saved" in response.text
    assert message in response.text
    assert site.view() == before


def test_saving_updates_every_setting_removes_and_adds_topics(site: ManageSite) -> None:
    url, form = _manage_form(site)
    graphs, kan = _topic_fields(form, "graphs"), _topic_fields(form, "kan")
    form[f"{graphs}-keywords"] = "diffusion\nvideo generation, GNN"
    form[f"{graphs}-exclusions"] = "survey"
    form[f"{kan}-remove"] = "1"
    form.update({"new-name": "rl", "new-keywords": "reinforcement learning\n\n"})
    form.pop("channel-email")
    form.update({"cadence": "paused", "channel-markdown": "on", "timezone": "asia/tokyo"})
    response = site.client.post(url, data={**form, "action": "save"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{urlsplit(url).path}?saved=1"
    view = site.view()
    topics = {t.name: (t.keywords, t.exclusions) for t in view.topics}
    assert topics == {
        "graphs": (("diffusion", "video generation", "GNN"), ("survey",)),
        "rl": (("reinforcement learning",), ()),
    }
    assert (view.cadence, view.channels, view.timezone, view.status) == (
        "paused", ("markdown",), "Asia/Tokyo", "active",
    )  # fmt: skip
    page = site.client.get(response.headers["location"])
    assert "Saved." in page.text
    assert "Saved." not in site.client.get(url).text
    assert site.view(BO).topics[0].keywords == ("backpropagation",)  # Bo untouched


def test_keywords_matching_no_recent_paper_are_hinted_and_still_saved(site: ManageSite) -> None:
    url, form = _manage_form(site)
    assert "matches no paper" not in site.client.get(url).text
    form[f"{_topic_fields(form, 'graphs')}-keywords"] = "grpah neural networks\nGNN\n<i>xqzvw</i>"
    response = site.client.post(url, data={**form, "action": "save"}, follow_redirects=False)
    assert response.status_code == 303
    [graphs] = [t for t in site.view().topics if t.name == "graphs"]
    assert graphs.keywords == ("grpah neural networks", "GNN", "<i>xqzvw</i>")
    text = site.client.get(response.headers["location"]).text
    assert "Saved." in text
    assert (
        "keyword &#39;grpah neural networks&#39; matches no paper of the last 7 days;"
        " did you mean &#39;graph neural networks&#39;?" in text
    )
    assert "keyword &#39;&lt;i&gt;xqzvw&lt;/i&gt;&#39; matches no paper" in text
    assert "<i>xqzvw" not in text
    # A preview shows the hints of the form as typed, before anything is saved.
    form[f"{_topic_fields(form, 'graphs')}-keywords"] = "graph neural networks\ndifusion modls"
    preview = site.client.post(url, data={**form, "action": "preview"}).text
    assert (
        "difusion modls&#39; matches no paper of the last 7 days; did you mean &#39;diffusion models&#39;"
        in preview
    )
    assert "grpah" not in preview


def test_an_emptied_time_zone_follows_the_site_again(site: ManageSite) -> None:
    url, form = _manage_form(site)
    assert form["timezone"] == "Europe/Berlin"
    form["timezone"] = " "
    assert site.client.post(url, data={**form, "action": "save"}).status_code == 200
    assert site.view().timezone is None
    assert 'placeholder="UTC"' in site.client.get(url).text


def test_removing_every_topic_is_refused(site: ManageSite) -> None:
    url, form = _manage_form(site)
    before = site.view()
    for name in ("graphs", "kan"):
        form[f"{_topic_fields(form, name)}-remove"] = "1"
    response = site.client.post(url, data={**form, "action": "save"})
    assert response.status_code == 400
    assert "at least one topic" in response.text
    assert site.view() == before


@pytest.mark.parametrize(
    ("name", "keywords", "message"),
    [
        ("kan", "diffusion", "already a topic named"),
        ("later", "", "needs at least one keyword"),
        ("x" * 101, "diffusion", "topic name too long"),
    ],
)
def test_a_bad_new_topic_is_refused(
    site: ManageSite, name: str, keywords: str, message: str
) -> None:
    url, form = _manage_form(site)
    before = site.view()
    form.update({"new-name": name, "new-keywords": keywords})
    response = site.client.post(url, data={**form, "action": "save"})
    assert response.status_code == 400
    assert message in response.text
    assert site.view() == before


@pytest.mark.parametrize("csrf", ["missing", "wrong", "no cookie"])
@pytest.mark.parametrize("action", ["save", "preview"])
def test_a_post_without_the_matching_csrf_value_is_refused(
    site: ManageSite, csrf: str, action: str
) -> None:
    url, form = _manage_form(site)
    before = site.view()
    form["cadence"] = "paused"
    if csrf == "missing":
        del form["csrf"]
    elif csrf == "wrong":
        form["csrf"] = "x" * 43
    else:
        site.client.cookies.clear()
    response = site.client.post(url, data={**form, "action": action})
    assert response.status_code == 400
    assert "This form has expired" in response.text
    assert DIFFUSION_TITLE not in response.text and GNN_TITLE not in response.text
    assert site.view() == before


def test_an_unsubscribed_subscriber_sees_a_notice_and_can_subscribe_again(site: ManageSite) -> None:
    with write_session(site.engine) as session:
        unsubscribe(session, ANA, now=INGESTED_AT)
    url, form = _manage_form(site)
    assert "You are unsubscribed" in site.client.get(url).text
    assert not any(key.startswith("topic-") for key in form)
    form.update({"new-name": "", "new-keywords": "diffusion"})
    response = site.client.post(url, data={**form, "action": "save"}, follow_redirects=False)
    assert response.status_code == 303
    view = site.view()
    assert view.status == "active"
    assert [(t.name, t.keywords) for t in view.topics] == [("default", ("diffusion",))]
    assert "You are unsubscribed" not in site.client.get(url).text


def test_an_oversized_form_is_refused(site: ManageSite) -> None:
    url, form = _manage_form(site)
    form["new-keywords"] = "x" * (1024 * 1024)
    before = site.view()
    response = site.client.post(url, data={**form, "action": "save"})
    assert response.status_code == 413
    assert site.view() == before


# --- Unsubscribing ---------------------------------------------------------------------


def test_following_the_unsubscribe_link_changes_nothing(site: ManageSite) -> None:
    before = site.view()
    response = site.client.get(f"/unsubscribe/{site.token('unsubscribe')}")
    assert response.status_code == 200
    assert ANA in response.text and BO not in response.text
    # One button whose form posts exactly the RFC 8058 body.
    assert read_form(response.text) == {"List-Unsubscribe": "One-Click"}
    assert site.links_to_own_page(response.text, "manage")
    assert site.view() == before


def _record_sent_paper(site: ManageSite) -> None:
    with Session(site.engine) as session:
        paper_id = session.scalar(select(col(Paper.id)).limit(1))
    assert paper_id is not None  # the site's papers are stored
    record_delivery(
        site.engine, run_id=None, subscriber_id=site.view().id, channel="email", status="sent",
        reason="250 OK", paper_ids=[paper_id], now=INGESTED_AT,
    )  # fmt: skip


def test_one_click_unsubscribes_keeps_the_history_and_answers_the_same_again(
    site: ManageSite,
) -> None:
    _record_sent_paper(site)
    url = f"/unsubscribe/{site.token('unsubscribe')}"
    response = site.client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert site.links_to_own_page(response.text, "manage")
    view = site.view()
    assert (view.status, view.topics) == ("unsubscribed", ())
    assert (_count(site.engine, Delivery), _count(site.engine, SentPaper)) == (1, 1)
    with Session(site.engine) as session:
        left_at = session.scalar(
            select(col(Subscriber.unsubscribed_at)).where(col(Subscriber.id) == view.id)
        )
    assert left_at == site.now[0]
    site.now[0] += timedelta(hours=1)
    again = site.client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and "You are unsubscribed" in again.text
    with Session(site.engine) as session:
        assert (
            session.scalar(
                select(col(Subscriber.unsubscribed_at)).where(col(Subscriber.id) == view.id)
            )
            == left_at
        )
    assert site.view(BO).status == "active"
    assert "already unsubscribed" in site.client.get(url).text


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_a_mail_provider_posting_without_cookies_unsubscribes(
    site: ManageSite, encoding: str
) -> None:
    url = f"/unsubscribe/{site.token('unsubscribe')}"
    provider = TestClient(site.client.app)  # a fresh client: no cookie, no CSRF field
    if encoding == "urlencoded":
        response = provider.post(url, content=b"List-Unsubscribe=One-Click", headers={
            "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    else:
        body = (
            b'--b0undary\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
            b"One-Click\r\n--b0undary--\r\n"
        )
        response = provider.post(url, content=body, headers={
            "Content-Type": "multipart/form-data; boundary=b0undary"})  # fmt: skip
    assert response.status_code == 200
    assert site.view().status == "unsubscribed"


@pytest.mark.parametrize(
    "data", [{}, {"List-Unsubscribe": "one-click"}, {"List-Unsubscribe": ""}, {"other": "x"}]
)
def test_a_post_without_the_one_click_field_is_refused(
    site: ManageSite, data: dict[str, str]
) -> None:
    before = site.view()
    response = site.client.post(f"/unsubscribe/{site.token('unsubscribe')}", data=data)
    assert response.status_code == 400
    assert site.view() == before


# --- Following authors, organisations, categories, trending ----------------------------


def test_a_topic_follows_authors_and_trending_in_the_preview_and_once_saved(
    site: ManageSite,
) -> None:
    ingest_file(site.engine, DATA / "hf_daily" / "2023-11-27.json", clock=lambda: INGESTED_AT)
    url, form = _manage_form(site)
    graphs = _topic_fields(form, "graphs")
    assert form[f"{graphs}-authors"] == "" and form[f"{graphs}-top"] == ""
    form[f"{graphs}-authors"] = "Blattmann, A.\nR. Wang"
    form[f"{graphs}-exclude_authors"] = "Rong Wang"
    form[f"{graphs}-top"] = "1"
    preview = site.client.post(url, data={**form, "action": "preview"})
    assert preview.status_code == 200
    assert DIFFUSION_TITLE in preview.text and "FRESA" not in preview.text
    assert (
        "Matched <strong>author: Blattmann, A.</strong> (trending: 40 upvotes, #1 of the day):"
        " <mark>Andreas Blattmann</mark>"
    ) in preview.text
    assert site.view().topics[0].authors == ()  # a preview saves nothing
    saved = site.client.post(url, data={**form, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    topic = next(t for t in site.view().topics if t.name == "graphs")
    assert (topic.keywords, topic.authors, topic.exclude_authors, topic.top) == (
        ("graph neural network",), ("Blattmann, A.", "R. Wang"), ("Rong Wang",), 1,
    )  # fmt: skip
    shown = read_form(site.client.get(url).text)
    assert shown[f"{graphs}-authors"] == "Blattmann, A.\nR. Wang" and shown[f"{graphs}-top"] == "1"


def test_a_new_topic_may_follow_an_organisation_without_keywords(site: ManageSite) -> None:
    ingest_file(site.engine, DATA / "hf_daily" / "2023-11-27.json", clock=lambda: INGESTED_AT)
    url, form = _manage_form(site)
    form |= {"new-name": "labs", "new-organisations": "stabilityai", "action": "save"}
    assert site.client.post(url, data=form, follow_redirects=False).status_code == 303
    topic = next(t for t in site.view().topics if t.name == "labs")
    assert (topic.keywords, topic.organisations) == ((), ("stabilityai",))
    text = site.client.get(url).text
    assert "Matched <strong>organisation: stabilityai</strong>: <mark>stabilityai</mark>" in text


def test_bad_follows_are_refused_shown_back_and_nothing_is_saved(site: ManageSite) -> None:
    url, form = _manage_form(site)
    before = site.view()
    graphs = _topic_fields(form, "graphs")
    form[f"{graphs}-categories"] = "cs.CL cs/LG"
    form[f"{graphs}-min_upvotes"] = "<b>many</b>"
    form |= {"new-name": "empty", "new-exclude_categories": "cs.CR"}
    response = site.client.post(url, data={**form, "action": "save"})
    assert response.status_code == 400
    errors = re.findall(r"<li>(.*?)</li>", response.text)
    assert (
        "Topic &#39;graphs&#39;: minimum upvotes &#39;&lt;b&gt;many&lt;/b&gt;&#39; is not a whole number."
        in errors
    )
    assert (
        "Topic &#39;empty&#39;: at least one keyword, liked paper, author, organisation or category, or a"
        " trending switch (minimum upvotes, top of the day), is needed."
    ) in errors
    assert "<b>many" not in response.text
    shown = read_form(response.text)
    assert shown[f"{graphs}-categories"] == "cs.CL cs/LG"
    form[f"{graphs}-min_upvotes"] = ""
    again = site.client.post(url, data={**form, "action": "save"})
    assert "Topic &#39;graphs&#39;: category &#39;cs/LG&#39; is not an arXiv category" in again.text
    assert site.view() == before


def test_the_preview_shows_the_papers_like_a_topics_examples_with_the_example_named(
    site: ManageSite,
) -> None:
    liked = [
        "NoProp: Training Neural Networks without Back-propagation or Forward-propagation",
        "Counter-Current Learning: A Biologically Plausible Dual Network Approach for Deep "
        "Learning",
    ]
    with write_session(site.engine) as session:
        subscribe(session, make_spec(ANA, [], name="noprop", liked=liked, level=3), now=site.now[0])

    page = site.client.get(f"/manage/{site.token('manage')}")

    assert page.status_code == 200
    preview = page.text.split('id="preview"', 1)[1]
    shown = re.findall(r"Similar to <strong>([^<]+)</strong> \((0\.\d\d)\)", preview)
    assert shown and {title for title, _ in shown} <= set(liked)
    assert "Backpropagation-free Training of Deep Physical Neural Networks" in preview
    assert not any(f">{title}</a>" in preview for title in liked), "examples are not previewed"


# --- Example papers --------------------------------------------------------------------


def _examples(site: ManageSite, name: str, email: str = ANA) -> tuple[set[str], set[str]]:
    """The titles of a stored topic's liked and unliked papers."""
    [topic] = [t for t in site.view(email).topics if t.name == name]
    return {p.title for p in topic.liked}, {p.title for p in topic.unliked}


def _post_example(site: ManageSite, **fields: str) -> httpx.Response:
    """Submit one example form of Ana's page as a browser does: with the page's CSRF value."""
    url, form = _manage_form(site)
    return site.client.post(url, data={"csrf": form["csrf"], **fields}, follow_redirects=False)


def _mark(site: ManageSite, name: str, title: str, *, liked: bool, email: str = ANA) -> None:
    """Store a paper as an example of a topic, as the CLI or a digest's feedback does."""
    with write_session(site.engine) as session:
        topic = topic_id_of(site, name, email)
        mark_example(session, topic, paper_id_of(site, title), liked=liked, source="feedback",
                     now=INGESTED_AT)  # fmt: skip


def test_a_paper_found_by_title_is_added_as_liked_listed_and_removed(site: ManageSite) -> None:
    url, _ = _manage_form(site)
    graphs, gnn = topic_id_of(site, "graphs"), paper_id_of(site, GNN_TITLE)
    found = site.client.get(url, params={"find": "graph NEURAL", "topic": str(graphs)})
    assert found.status_code == 200
    assert re.search(rf'name="topic" value="{graphs}">\s*<input type="hidden" name="paper" '
                     rf'value="{gnn}">', found.text)  # fmt: skip
    assert "Add as liked" in found.text
    assert _examples(site, "graphs") == (set(), set())  # a search changes nothing
    added = _post_example(site, action="example-add", topic=str(graphs), paper=str(gnn), liked="1")
    assert added.status_code == 303
    assert re.fullmatch(rf"/manage/[^/?]+\?examples=1#examples-{graphs}", added.headers["location"])
    assert _examples(site, "graphs") == ({GNN_TITLE}, set())
    page = site.client.get(added.headers["location"]).text
    assert "Example papers updated" in page
    card = page[page.index(f'id="examples-{graphs}"') :]
    assert re.search(rf"Liked</span>\s*<span>{re.escape(GNN_TITLE)}</span>\s*<span "
                     r'class="muted">added here', card)  # fmt: skip
    removed = _post_example(site, action="example-remove", topic=str(graphs), paper=str(gnn))
    assert removed.status_code == 303
    assert _examples(site, "graphs") == (set(), set())
    assert GNN_TITLE not in site.client.get(url).text.split('id="examples-')[1]


def test_a_paper_named_by_arxiv_id_or_exact_title_is_added_and_linked(site: ManageSite) -> None:
    with write_session(site.engine) as session:
        paper = session.get(Paper, paper_id_of(site, DIFFUSION_TITLE))
        assert paper is not None
        paper.arxiv_id = "2311.15127"
    kan = str(topic_id_of(site, "kan"))
    by_id = _post_example(site, action="example-add", topic=kan, reference="arXiv:2311.15127v1",
                          liked="0")  # fmt: skip
    by_title = _post_example(site, action="example-add", topic=kan,
                             reference=GNN_TITLE.upper() + " ", liked="1")  # fmt: skip
    assert (by_id.status_code, by_title.status_code) == (303, 303)
    assert _examples(site, "kan") == ({GNN_TITLE}, {DIFFUSION_TITLE})
    page = site.client.get(by_id.headers["location"]).text
    assert '<a href="https://arxiv.org/abs/2311.15127" rel="noopener noreferrer">' in page
    assert "Unliked" in page


AMBIGUOUS = "Forward Learning of Graph Neural Networks."  # the same title key as GNN_TITLE


def _second_gnn(site: ManageSite) -> None:
    """Another stored paper under GNN_TITLE's key, so that title names two papers."""
    with write_session(site.engine) as session:
        session.add(Paper(title=AMBIGUOUS, title_key=title_key(AMBIGUOUS), abstract="Two.",
                          first_seen_at=INGESTED_AT, updated_at=INGESTED_AT))  # fmt: skip


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("x" * 501, "Paper too long: 501 characters"),
        (
            "<b>No Such Paper</b>",
            "Paper &#39;&lt;b&gt;No Such Paper&lt;/b&gt;&#39;: no stored paper",
        ),
        (GNN_TITLE, "several stored papers have this title"),
        ("arXiv:2999.00001", "no stored paper has the arXiv id 2999.00001"),
        ("graph\x00network", "paper"),
        ("", "No paper was chosen"),
    ],
)
def test_an_unknown_ambiguous_or_bad_paper_is_refused_and_nothing_changes(
    site: ManageSite, reference: str, message: str
) -> None:
    _second_gnn(site)
    before = site.view()
    response = _post_example(site, action="example-add", topic=str(topic_id_of(site, "graphs")),
                             reference=reference, liked="1")  # fmt: skip
    assert response.status_code == 400
    assert "Nothing was saved" in response.text
    assert message in response.text
    assert "<b>No Such" not in response.text
    assert site.view() == before


def test_an_example_of_another_subscribers_topic_cannot_be_added_or_removed(
    site: ManageSite,
) -> None:
    _mark(site, "default", GNN_TITLE, liked=True, email=BO)
    bo_topic, gnn = str(topic_id_of(site, "default", BO)), str(paper_id_of(site, GNN_TITLE))
    diffusion = str(paper_id_of(site, DIFFUSION_TITLE))
    for fields in (
        {"action": "example-remove", "topic": bo_topic, "paper": gnn},
        {"action": "example-add", "topic": bo_topic, "paper": diffusion, "liked": "0"},
        {"action": "example-add", "topic": "99999", "paper": diffusion, "liked": "1"},
        {"action": "example-remove", "topic": "-1", "paper": gnn},
    ):
        response = _post_example(site, **fields)
        assert response.status_code == 400, fields
        assert "not one of this subscription" in response.text
    assert _examples(site, "default", BO) == ({GNN_TITLE}, set())
    # Bo's topic gets no card on Ana's page, even when a search names it.
    url, _ = _manage_form(site)
    page = site.client.get(url, params={"find": "graph", "topic": bo_topic}).text
    assert re.findall(r'id="(examples-\d+)"', page) == [
        f"examples-{topic_id_of(site, 'graphs')}",
        f"examples-{topic_id_of(site, 'kan')}",
    ]
    assert "Papers found" not in page


@pytest.mark.parametrize("csrf", ["missing", "wrong", "no cookie"])
@pytest.mark.parametrize("action", ["example-add", "example-remove"])
def test_an_example_form_without_the_matching_csrf_value_is_refused(
    site: ManageSite, csrf: str, action: str
) -> None:
    _mark(site, "graphs", GNN_TITLE, liked=True)
    url, form = _manage_form(site)
    data = {"csrf": form["csrf"], "action": action, "topic": str(topic_id_of(site, "graphs"))}
    data |= {"paper": str(paper_id_of(site, GNN_TITLE if action == "example-remove" else
                                     DIFFUSION_TITLE)), "liked": "1"}  # fmt: skip
    if csrf == "missing":
        del data["csrf"]
    elif csrf == "wrong":
        data["csrf"] = "x" * 43
    else:
        site.client.cookies.clear()
    response = site.client.post(url, data=data)
    assert response.status_code == 400
    assert "This form has expired" in response.text
    assert _examples(site, "graphs") == ({GNN_TITLE}, set())


@pytest.mark.parametrize(
    ("find", "message"),
    [
        ("gn", "Search &#39;gn&#39; is too short"),
        ("<i>", "Search &#39;&lt;i&gt;&#39; is too short"),
        ("graph " * 40, "Search too long: 239 characters"),
    ],
)
def test_a_short_or_long_search_is_refused_escaped(
    site: ManageSite, find: str, message: str
) -> None:
    url, _ = _manage_form(site)
    response = site.client.get(url, params={"find": find, "topic": topic_id_of(site, "graphs")})
    assert response.status_code == 400
    assert message in response.text
    assert "<i>" not in response.text.split("<body", 1)[1]


def test_a_search_finding_nothing_says_so_escaped(site: ManageSite) -> None:
    url, _ = _manage_form(site)
    response = site.client.get(
        url, params={"find": "<b>zzqx</b>", "topic": topic_id_of(site, "kan")}
    )
    assert response.status_code == 200
    assert "No stored paper has a title holding “&lt;b&gt;zzqx&lt;/b&gt;”" in response.text


def test_saving_keeps_stored_examples_even_ambiguous_ones_and_saves_the_level(
    site: ManageSite,
) -> None:
    _mark(site, "graphs", GNN_TITLE, liked=True)
    _mark(site, "graphs", DIFFUSION_TITLE, liked=False)
    _second_gnn(site)  # GNN_TITLE now names two papers: it must not be looked up again
    url, form = _manage_form(site)
    graphs = _topic_fields(form, "graphs")
    assert form[f"{graphs}-level"] == "0"
    form[f"{graphs}-keywords"] = ""  # its liked paper alone selects papers
    form[f"{graphs}-level"] = "-2"
    response = site.client.post(url, data={**form, "action": "save"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    [topic] = [t for t in site.view().topics if t.name == "graphs"]
    assert (topic.keywords, topic.level) == ((), -2)
    assert _examples(site, "graphs") == ({GNN_TITLE}, {DIFFUSION_TITLE})
    assert read_form(site.client.get(url).text)[f"{graphs}-level"] == "-2"


@pytest.mark.parametrize(
    ("level", "message"),
    [("4", "level 4 is out of range"), ("more", "level &#39;more&#39; is not a whole number")],
)
def test_a_bad_level_is_refused_and_nothing_is_saved(
    site: ManageSite, level: str, message: str
) -> None:
    url, form = _manage_form(site)
    before = site.view()
    form[f"{_topic_fields(form, 'kan')}-level"] = level
    response = site.client.post(url, data={**form, "action": "save"})
    assert response.status_code == 400
    assert message in response.text
    assert site.view() == before


def test_a_topic_without_keywords_keeps_its_last_liked_paper(site: ManageSite) -> None:
    _mark(site, "graphs", GNN_TITLE, liked=True)
    url, form = _manage_form(site)
    form[f"{_topic_fields(form, 'graphs')}-keywords"] = ""
    assert site.client.post(url, data={**form, "action": "save"}).status_code == 200
    graphs, gnn = str(topic_id_of(site, "graphs")), str(paper_id_of(site, GNN_TITLE))
    for fields in (
        {"action": "example-remove", "topic": graphs, "paper": gnn},
        {"action": "example-add", "topic": graphs, "paper": gnn, "liked": "0"},
    ):
        response = _post_example(site, **fields)
        assert response.status_code == 400
        assert "would select no paper without this liked paper" in response.text
    assert _examples(site, "graphs") == ({GNN_TITLE}, set())


def test_the_readers_chat_channels_are_offered_masked_and_chosen_on_the_page(
    site: ManageSite,
) -> None:
    hook = "https://hooks.slack.com/services/T0000/B0000/Xs3cretXs3cretXs3cret"
    with write_session(site.engine) as session:
        add_channel(
            session, "ana-slack", "slack", {"webhook_url": hook}, owner=ANA,
            now=datetime(2025, 11, 22, tzinfo=UTC), use=False,
        )  # fmt: skip
    url, form = _manage_form(site)
    page = site.client.get(url).text
    assert "ana-slack: Slack webhook https://hooks.slack.com/***" in page
    assert "s3cret" not in page and "T0000" not in page
    assert "channel-ana-slack" not in form  # offered, not in use yet
    form["channel-ana-slack"] = "on"
    response = site.client.post(url, data={**form, "action": "save"}, follow_redirects=False)
    assert response.status_code == 303
    assert site.view().channels == ("email", "ana-slack")
    # A channel that is not the reader's cannot be chosen by posting its name.
    form["channel-someone-elses"] = "on"
    refused = site.client.post(url, data={**form, "action": "save"})
    assert refused.status_code == 400 and "no channel named" in refused.text
    assert site.view().channels == ("email", "ana-slack")


# --- Chat channels added by the reader -------------------------------------------------

SLACK_HOOK = "https://hooks.slack.com/services/T0000/B0000/Xs3cretXs3cretXs3cret"


def _post_channel(site: ManageSite, **fields: str) -> httpx.Response:
    url, form = _manage_form(site)
    return site.client.post(
        url, data={CSRF_FIELD: form[CSRF_FIELD], **fields}, follow_redirects=False
    )


def test_a_reader_adds_a_slack_webhook_which_gets_digests_and_is_never_shown_again(
    site: ManageSite,
) -> None:
    added = _post_channel(
        site, action="channel-add", kind="slack", name="My-Room", url=SLACK_HOOK, per_topic="on"
    )
    assert added.status_code == 303 and added.headers["location"].endswith("?channels=1#channels")
    assert site.view().channels == ("email", "my-room")
    page = site.client.get(added.headers["location"]).text
    assert "Chat channels updated." in page
    assert "my-room: Slack webhook https://hooks.slack.com/***, a message per topic" in page
    assert "s3cret" not in page and "T0000" not in page
    removed = _post_channel(site, action="channel-remove", name="my-room")
    assert removed.status_code == 303
    assert site.view().channels == ("email",)
    with Session(site.engine) as session:
        assert list_channels(session, ANA) == []


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        (
            {"kind": "slack", "url": "http://hooks.slack.com/services/T0/B0/x"},
            "not a Slack webhook",
        ),
        ({"kind": "slack", "url": "https://127.0.0.1/services/T0/B0/x"}, "not a Slack webhook"),
        (
            {"kind": "slack", "url": "https://hooks.slack.com.evil.example/services/x"},
            "not a Slack",
        ),
        ({"kind": "slack", "url": "https://u:p@hooks.slack.com/services/T0/B0/x"}, "not a Slack"),
        ({"kind": "slack", "url": "https://hooks.slack.com:8443/services/T0/B0/x"}, "not a Slack"),
        ({"kind": "slack", "url": "https://hooks.slack.com/other/T0/B0/x"}, "not a Slack"),
        ({"kind": "discord", "url": SLACK_HOOK}, "not a Discord webhook"),
        ({"kind": "matrix", "url": SLACK_HOOK}, "Choose Slack or Discord"),
        ({"kind": "webhook", "url": "http://10.0.0.1/in"}, "Choose Slack or Discord"),
        ({"kind": "slack", "url": SLACK_HOOK, "name": "<b>x</b>"}, "1 to 40 lowercase letters"),
        ({"kind": "slack", "url": SLACK_HOOK, "name": "email"}, "built-in channel"),
        ({"kind": "slack", "url": "https://hooks.slack.com/services/" + "x" * 600}, "not a Slack"),
    ],
)
def test_an_address_outside_the_services_or_a_bad_name_is_refused_unsaid(
    site: ManageSite, fields: dict[str, str], said: str
) -> None:
    response = _post_channel(site, action="channel-add", **{"name": "room", **fields})
    assert response.status_code == 400
    assert said in response.text
    assert fields["url"] not in response.text  # an address is a secret, even a wrong one
    assert "<b>x</b>" not in response.text
    with Session(site.engine) as session:
        assert list_channels(session, ANA) == []
    assert site.view().channels == ("email",)


def test_a_reader_cannot_remove_another_readers_channel_nor_their_only_one(
    site: ManageSite,
) -> None:
    with write_session(site.engine) as session:
        add_channel(session, "bo-room", "slack", {"webhook_url": SLACK_HOOK}, owner=BO,
                    now=INGESTED_AT)  # fmt: skip
    refused = _post_channel(site, action="channel-remove", name="bo-room")
    assert (
        refused.status_code == 400 and "You have no channel named &#39;bo-room&#39;" in refused.text
    )
    assert _post_channel(site, action="channel-add", kind="slack", name="ana-room",
                         url=SLACK_HOOK).status_code == 303  # fmt: skip
    url, form = _manage_form(site)
    form.pop("channel-email")
    assert site.client.post(url, data={**form, "action": "save"}).status_code == 200
    assert site.view().channels == ("ana-room",)
    only = _post_channel(site, action="channel-remove", name="ana-room")
    assert only.status_code == 400 and "only place your digests go" in only.text
    with Session(site.engine) as session:
        assert [c.name for c in list_channels(session)] == ["ana-room", "bo-room"]


def test_a_channel_form_without_the_matching_csrf_value_is_refused(site: ManageSite) -> None:
    url, _ = _manage_form(site)
    response = site.client.post(
        url, data={CSRF_FIELD: "forged", "action": "channel-add", "kind": "slack",
                   "name": "room", "url": SLACK_HOOK},
    )  # fmt: skip
    assert "This form has expired" in response.text
    with Session(site.engine) as session:
        assert list_channels(session, ANA) == []
