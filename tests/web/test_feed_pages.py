"""The Atom feeds and the OPML list over HTTP, against a real SQLite file.

The subscribers and papers are those of the manage pages' tests (`tests.web.manage_site`):
feed addresses are read from the manage page as a visitor would, and every feed is
parsed with feedparser as a reader would.
"""

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from bot.db import write_session
from bot.subscriptions.spec import email_key, make_spec
from bot.subscriptions.store import subscribe, unsubscribe
from bot.tokens import TokenSubject, make_feed_token
from bot.web.security import CSRF_FIELD
from tests.web.manage_site import (
    ANA,
    BO,
    GNN_TITLE,
    SECRET,
    ManageSite,
    make_manage_site,
    read_form,
)

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def site(engine: Engine, tmp_path: Path) -> ManageSite:
    made = make_manage_site(engine, tmp_path, PAPERBOT_WEB_BASE_URL="https://papers.example.org")
    # Over https, as the base URL says: the page's CSRF cookie is a Secure one.
    made.client = TestClient(made.client.app, base_url="https://testserver")
    return made


def _feed_paths(site: ManageSite, email: str = ANA) -> dict[str, str]:
    """The manage page's feed addresses by title, as paths of the app."""
    page = site.client.get(f"/manage/{site.token('manage', email)}").text
    found = re.findall(r'<li>([^<]+): <a href="(https://papers\.example\.org/feed/[^"]+)"', page)
    assert found, page
    return {title.replace("&#34;", '"'): urlsplit(url).path for title, url in found}


def _topic_feed(site: ManageSite, name: str = "graphs") -> str:
    [path] = [p for title, p in _feed_paths(site).items() if f"“{name}”" in title]
    return path


def _parsed(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def _check_rfc4287(body: bytes) -> None:
    """The elements RFC 4287 requires of a feed and of each entry."""
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert (root.findtext(f"{ATOM}{name}") or "").strip(), name
    feed_author = root.find(f"{ATOM}author/{ATOM}name") is not None
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert (entry.findtext(f"{ATOM}{name}") or "").strip(), name
        assert feed_author or entry.find(f"{ATOM}author/{ATOM}name") is not None
        links = [
            link
            for link in entry.findall(f"{ATOM}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        assert links and links[0].get("href", "").startswith("https://")
    assert any(link.get("rel") == "self" for link in root.findall(f"{ATOM}link"))


# --- What a feed holds -------------------------------------------------------------------


def test_a_topics_feed_holds_its_matches_as_the_digests_show_them(site: ManageSite) -> None:
    response = site.client.get(_topic_feed(site))
    parsed = _parsed(response)
    _check_rfc4287(response.content)
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert response.headers["cache-control"] == "private"
    assert response.headers["referrer-policy"] == "no-referrer"
    titles = [entry.title for entry in parsed.entries]
    assert GNN_TITLE in titles
    [gnn] = [entry for entry in parsed.entries if entry.title == GNN_TITLE]
    assert gnn.summary == "Matched “graph neural network” in the title"
    assert gnn.link.startswith("https://")  # the paper's own page, as the digests link it
    assert gnn.id.startswith("tag:papers.example.org,2025-11-22:paper/")
    assert parsed.feed.author == "paperbot"  # for entries whose paper names no author
    assert "Matched <strong>graph neural network</strong> in the title" in gnn.content[0].value
    assert parsed.feed.title == "Papers matching “graphs”"


def test_the_feed_of_every_topic_says_which_topic_each_entry_is_for(site: ManageSite) -> None:
    paths = _feed_paths(site)
    assert set(paths) == {
        "Papers matching your topics", "Papers matching “graphs”", "Papers matching “kan”",
    }  # fmt: skip
    parsed = _parsed(site.client.get(paths["Papers matching your topics"]))
    summaries = [entry.summary for entry in parsed.entries]
    assert any(s.endswith("(topic: graphs)") for s in summaries)
    assert any(s.endswith("(topic: kan)") for s in summaries)


def test_entries_come_newest_first_with_ids_that_stay(site: ManageSite) -> None:
    path = _topic_feed(site)
    first, second = _parsed(site.client.get(path)), _parsed(site.client.get(path))
    assert [e.id for e in first.entries] == [e.id for e in second.entries]
    assert len({e.id for e in first.entries}) == len(first.entries)
    assert first.feed.id == second.feed.id
    updated = [e.updated_parsed for e in first.entries]
    assert updated == sorted(updated, reverse=True)
    # New addresses give the same feed id and entry ids: readers keep what they read.
    site.client.post(
        f"/manage/{site.token('manage')}",
        data={**_feeds_form(site), "action": "new-feeds"},
    )
    renewed = _parsed(site.client.get(_topic_feed(site)))
    assert renewed.feed.id == first.feed.id
    assert [e.id for e in renewed.entries] == [e.id for e in first.entries]


def test_a_feed_holds_at_most_50_entries(site: ManageSite) -> None:
    with write_session(site.engine) as session:
        subscribe(session, make_spec(BO, ["learning", "network", "model"], name="wide"),
                  now=site.now[0])  # fmt: skip
    paths = _feed_paths(site, BO)
    [wide] = [p for title, p in paths.items() if "wide" in title]
    assert len(_parsed(site.client.get(wide)).entries) == 50


# --- Conditional requests ----------------------------------------------------------------


def test_a_matching_etag_or_date_gets_304(site: ManageSite) -> None:
    path = _topic_feed(site)
    full = site.client.get(path)
    etag, modified = full.headers["etag"], full.headers["last-modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-Modified-Since": modified},
    ):
        again = site.client.get(path, headers=headers)
        assert (again.status_code, again.content) == (304, b""), headers
        assert again.headers["etag"] == etag
    for headers in (
        {"If-None-Match": '"other"'},
        {"If-None-Match": '"other"', "If-Modified-Since": modified},  # the ETag decides
        {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"},
        {"If-Modified-Since": "not a date"},
    ):
        assert site.client.get(path, headers=headers).status_code == 200, headers


# --- Addresses that do not work ----------------------------------------------------------


def _feeds_form(site: ManageSite) -> dict[str, str]:
    """The CSRF field of the manage page (its cookie is set on the client too)."""
    form = read_form(site.client.get(f"/manage/{site.token('manage')}").text)
    return {CSRF_FIELD: form[CSRF_FIELD]}


def test_new_feed_addresses_retire_the_old_ones(site: ManageSite) -> None:
    old = _topic_feed(site)
    manage = f"/manage/{site.token('manage')}"
    pressed = site.client.post(
        manage, data={**_feeds_form(site), "action": "new-feeds"}, follow_redirects=False
    )
    assert pressed.status_code == 303
    assert pressed.headers["location"] == f"{manage}?feeds=1#feeds"
    assert "New feed addresses made" in site.client.get(pressed.headers["location"]).text
    refused = site.client.get(old)
    assert refused.status_code == 404
    assert "This feed address was replaced" in refused.text
    new = _topic_feed(site)
    assert new != old
    _parsed(site.client.get(new))


def test_new_feed_addresses_need_the_pages_csrf(site: ManageSite) -> None:
    old = _topic_feed(site)
    refused = site.client.post(
        f"/manage/{site.token('manage')}", data={CSRF_FIELD: "forged", "action": "new-feeds"}
    )
    assert "This form has expired" in refused.text
    assert _topic_feed(site) == old
    _parsed(site.client.get(old))


def test_forged_and_foreign_addresses_get_404_and_nothing_else(site: ManageSite) -> None:
    path = _topic_feed(site)
    token = path.removeprefix("/feed/").removesuffix(".atom")
    ana = site.view(ANA)
    bo = site.view(BO)
    forged = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        token[: len(token) // 2],
        make_feed_token("another-secret-of-32-characters!!", TokenSubject(ana.id, email_key(ANA)),
                        None, 0),
        site.token("manage"),  # another purpose's token
        # Bo's id with Ana's address: the address check refuses it.
        make_feed_token(SECRET, TokenSubject(bo.id, email_key(ANA)), None, 0),
    ]  # fmt: skip
    for bad in forged:
        response = site.client.get(f"/feed/{bad}.atom")
        assert response.status_code == 404, bad
        assert "graph" not in response.text.lower() and ANA not in response.text
    # Ana's valid token for a topic of Bo's names no topic of hers.
    foreign = make_feed_token(SECRET, TokenSubject(ana.id, email_key(ANA)), bo.topics[0].id, 0)
    response = site.client.get(f"/feed/{foreign}.atom")
    assert response.status_code == 404
    assert "This topic no longer exists" in response.text


def test_a_removed_topic_or_an_unsubscribed_reader_gets_404(site: ManageSite) -> None:
    kan = _topic_feed(site, "kan")
    graphs = _topic_feed(site, "graphs")
    with write_session(site.engine) as session:
        unsubscribe(session, ANA, now=site.now[0], topic="kan")
    assert site.client.get(kan).status_code == 404
    assert "This topic no longer exists" in site.client.get(kan).text
    _parsed(site.client.get(graphs))
    with write_session(site.engine) as session:
        unsubscribe(session, ANA, now=site.now[0])
    ended = site.client.get(graphs)
    assert ended.status_code == 404 and "This feed has ended" in ended.text
    opml = site.client.get(f"/feeds/{site.token('manage')}.opml")
    assert opml.status_code == 404


def test_feed_addresses_are_never_logged(
    site: ManageSite, caplog: pytest.LogCaptureFixture
) -> None:
    path = _topic_feed(site)
    with caplog.at_level("DEBUG"):
        site.client.get(path)
        site.client.get(path.replace(".atom", "x.atom"))
    token = path.removeprefix("/feed/").removesuffix(".atom")
    # The test's own HTTP client logs what it asks for: the app is what must not.
    assert not [r for r in caplog.records if r.name != "httpx" and token in r.getMessage()]


# --- The OPML list and the archive's feed ------------------------------------------------


def test_the_opml_lists_every_feed_of_the_subscriber(site: ManageSite) -> None:
    page = site.client.get(f"/manage/{site.token('manage')}").text
    [opml_url] = re.findall(r'href="(https://papers\.example\.org/feeds/[^"]+\.opml)"', page)
    response = site.client.get(urlsplit(opml_url).path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/x-opml; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert "attachment" in response.headers["content-disposition"]
    root = ET.fromstring(response.content)
    outlines = root.findall("body/outline")
    listed = {o.get("xmlUrl") for o in outlines}
    assert {urlsplit(url or "").path for url in listed} == set(_feed_paths(site).values())
    assert all(o.get("type") == "rss" and o.get("text") for o in outlines)
    assert site.client.get("/feeds/forged.opml").status_code == 404


def test_the_archive_feed_has_one_entry_per_day(site: ManageSite) -> None:
    response = site.client.get("/archive.atom")
    parsed = _parsed(response)
    _check_rfc4287(response.content)
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    [listed] = re.findall(r'href="/archive/([0-9-]{10})"', site.client.get("/archive").text)
    [day] = parsed.entries
    assert day.title == f"Papers of {listed}"
    assert day.link == f"https://papers.example.org/archive/{listed}"
    assert day.summary == "63 papers"
    assert day.content[0].value.count("<li>") == 25
    again = site.client.get("/archive.atom", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
