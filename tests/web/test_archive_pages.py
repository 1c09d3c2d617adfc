"""The public archive of site-wide digests, over HTTP, against a real SQLite file."""

import html
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from bot.config import load_settings
from bot.db import write_session
from bot.digest.render import DigestRenderer
from bot.digest.site import papers_of
from bot.ingest.pipeline import ingest_file
from bot.matching.engine import Matcher, PaperText
from bot.subscriptions.spec import make_spec
from bot.subscriptions.store import subscribe
from bot.web.app import create_app
from tests.conftest import DATA, SAMPLES
from tests.web.conftest import Archive

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)
HF_DAILY = DATA / "hf_daily"


def _client(engine: Engine, tmp_path: Path) -> TestClient:
    settings = load_settings(environ={"PAPERBOT_DATA_DIR": str(tmp_path / "data")}, cwd=tmp_path)
    return TestClient(create_app(engine, settings, clock=lambda: NOW))


def test_the_archive_lists_days_and_shows_each_days_papers(engine: Engine, tmp_path: Path) -> None:
    client = _client(engine, tmp_path)
    assert "No papers yet" in client.get("/archive").text
    with write_session(engine) as session:
        subscribe(session, make_spec("reader@lab.org", ["graph"]), now=NOW)
    ingest_file(engine, SAMPLES / "spaced-1.txt", clock=lambda: NOW, year=2025)
    index = client.get("/archive")
    assert index.status_code == 200
    days = [line for line in index.text.splitlines() if 'href="/archive/' in line]
    assert len(days) == 1
    day = days[0].split('href="/archive/')[1][:10]
    page = client.get(f"/archive/{day}")
    assert page.status_code == 200
    assert page.text.count('class="paper"') > 10
    # Papers only: nothing about who subscribes.
    assert "reader@lab.org" not in page.text + index.text


def test_each_paper_links_its_page_pdf_code_and_a_title_search_when_known_by_title_only(
    engine: Engine, tmp_path: Path
) -> None:
    ingest_file(engine, SAMPLES / "spaced-1.txt", clock=lambda: NOW, year=2025)
    # Hugging Face's list of the same paper: it fills in the links the dump lacked.
    ingest_file(engine, HF_DAILY / "2023-11-27.json", clock=lambda: NOW)
    text = "".join(every_page(_client(engine, tmp_path), "/archive/2025-11-21"))
    [svd] = [p for p in text.split('<div class="paper">') if ">Stable Video Diffusion" in p]
    assert (
        '<a href="https://huggingface.co/papers/2311.15127" rel="noopener noreferrer">Stable' in svd
    )
    assert 'href="https://arxiv.org/pdf/2311.15127"' in svd
    assert "<em>AI summary:</em> Stable Video Diffusion trains" in svd
    assert ">GitHub, 24,100 stars</a>" in svd and "<details><summary>Abstract</summary>" in svd
    # A paper of the dump alone links to arXiv's search for its exact title.
    search = "https://arxiv.org/search/?query=%22A+Deep+Look+into+Neural+Ranking+Models"
    assert f'<a href="{search}' in text
    hrefs = re.findall(r'href="([^"]*)"', text)
    assert [h for h in hrefs if not h.startswith(("https://", "http://", "/"))] == []


def test_unknown_days_are_404_pages(engine: Engine, tmp_path: Path) -> None:
    client = _client(engine, tmp_path)
    assert client.get("/archive/not-a-date").status_code == 404
    assert client.get("/archive/1999-01-01").status_code == 404


def test_titles_are_escaped(engine: Engine, tmp_path: Path) -> None:
    dump = tmp_path / "dump.txt"
    dump.write_text(
        (SAMPLES / "spaced-1.txt").read_text().replace("Graph", "<script>x</script>", 1)
    )
    ingest_file(engine, dump, clock=lambda: NOW, year=2025)
    client = _client(engine, tmp_path)
    day = client.get("/archive").text.split('href="/archive/')[1][:10]
    text = "".join(every_page(client, f"/archive/{day}"))
    assert "<script>x</script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text
    # Found by a search, the title is shown escaped in the matched words too.
    found = client.get(f"/archive/{day}", params={"q": "script"}).text
    assert "<script>" not in found and "<mark>script</mark>" in found


# --- Paging and search, on the app with the sample dump's 63 papers ----------------------

PAPER_TITLE = re.compile(
    r'<div class="paper">\s*<h3>(?:<a href="[^"]*"[^>]*>)?(.*?)(?:</a>)?(?: <a class="pdf"[^>]*>PDF</a>)?</h3>'
)
WHERE = re.compile(r'<p class="muted why">“[^”]*” in the (title|abstract):')


def titles(page: str) -> list[str]:
    """The titles of the papers on a page, as shown."""
    return [html.unescape(title) for title in PAPER_TITLE.findall(page)]


def next_link(page: str) -> str | None:
    """The pager's link to the next page, if there is one."""
    found = re.search(r'<a href="([^"]+)" rel="next">', page)
    return html.unescape(found[1]) if found else None


def every_page(client: TestClient, first: str) -> list[str]:
    """The pages from `first` on, following the pager's next links."""
    pages = [client.get(first).text]
    while (link := next_link(pages[-1])) is not None:
        assert len(pages) < 10, "the pager does not end"
        pages.append(client.get(link).text)
    return pages


def expected_titles(archive: Archive, keyword: str | None = None) -> set[str]:
    """What the day lists, as the digests' matcher sees it: every paper, or the matching ones."""
    papers = papers_of(archive.site.engine, date.fromisoformat(archive.day))
    if keyword is not None:
        matched = {m.paper_id for m in Matcher(
            PaperText(p.paper_id, p.title, p.abstract) for p in papers
        ).match_keyword(keyword)}  # fmt: skip
        papers = [p for p in papers if p.paper_id in matched]
    renderer = DigestRenderer()
    return {renderer.paper_view(p).title for p in papers}


def test_a_day_is_shown_25_papers_a_page_and_the_pager_reaches_every_one(
    archive: Archive,
) -> None:
    pages = every_page(archive.site.client, archive.path)
    assert [len(titles(page)) for page in pages] == [25, 25, 13]
    shown = [title for page in pages for title in titles(page)]
    assert len(set(shown)) == 63 and set(shown) == expected_titles(archive)
    assert "Page 1 of 3" in pages[0] and "Page 3 of 3" in pages[2]
    assert "26\N{EN DASH}50 shown" in pages[1]
    assert 'rel="prev"' not in pages[0] and 'rel="prev"' in pages[2]


def test_a_page_past_the_last_shows_the_last(archive: Archive) -> None:
    last = archive.site.client.get(archive.path, params={"page": "3"})
    past = archive.site.client.get(archive.path, params={"page": "999999"})
    assert past.status_code == 200 and titles(past.text) == titles(last.text)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"page": "0"}, "The page must be a whole number from 1 to 999999"),
        ({"page": "-1"}, "The page must be a whole number from 1 to 999999"),
        ({"page": "two"}, "The page must be a whole number from 1 to 999999"),
        ({"page": "1.5"}, "The page must be a whole number from 1 to 999999"),
        ({"page": "1000000"}, "The page must be a whole number from 1 to 999999"),
        ({"page": "9" * 5000}, "The page must be a whole number from 1 to 999999"),
        ({"q": "!!!"}, "Search &#39;!!!&#39; has no letters or digits"),
        ({"q": "graph " * 100}, "The search is too long: 599 characters (at most 500)"),
        ({"q": ",".join(["graph"] * 11)}, "The search has too many keywords: 11 (at most 10"),
    ],
)
def test_a_bad_page_or_search_is_a_400_page_saying_what_is_wrong(
    archive: Archive, params: dict[str, str], problem: str
) -> None:
    response = archive.site.client.get(archive.path, params=params)
    assert response.status_code == 400
    assert f'<p class="errors">{problem}' in response.text
    assert 'name="q"' in response.text  # the search form, to try again
    assert titles(response.text) == []


def test_a_search_matches_as_subscription_keywords_do(archive: Archive) -> None:
    client = archive.site.client
    exact = titles(client.get(archive.path, params={"q": "neural network"}).text)
    assert set(exact) == expected_titles(archive, "neural network") and 0 < len(exact) < 25
    # A typo and a plural are forgiven, as in keywords.
    for variant in ("neural netwrok", "neural networks"):
        assert titles(client.get(archive.path, params={"q": variant}).text) == exact
    # Keywords separated by commas: papers matching any of them.
    either = titles(client.get(archive.path, params={"q": "graph, diffusion"}).text)
    assert set(either) == expected_titles(archive, "graph") | expected_titles(archive, "diffusion")
    # Quoted: matched exactly, so the typo no longer is.
    page = client.get(archive.path, params={"q": '"neural netwrok"'})
    assert page.status_code == 200 and titles(page.text) == []
    assert "No paper of" in page.text


def test_search_results_come_best_first_with_the_matched_words_marked(archive: Archive) -> None:
    page = archive.site.client.get(archive.path, params={"q": "graph"}).text
    where = WHERE.findall(page)
    assert len(where) == len(titles(page)) > 0
    assert "title" in where and "abstract" in where
    assert where == sorted(where, key=lambda field: field != "title")  # title matches first
    assert page.count("<mark>") == len(where)
    assert all(word.lower().startswith("graph") for word in re.findall(r"<mark>(.*?)</mark>", page))


def test_the_pages_of_a_search_keep_it(archive: Archive) -> None:
    pages = every_page(archive.site.client, f"{archive.path}?q=model")
    assert len(pages) == 3
    assert next_link(pages[0]) == f"{archive.path}?q=model&page=2"
    shown = [title for page in pages for title in titles(page)]
    assert len(shown) == len(set(shown)) and set(shown) == expected_titles(archive, "model")
    assert "53 of 63 papers match “model”" in pages[0]


def test_the_search_is_escaped_wherever_the_page_shows_it(archive: Archive) -> None:
    typed = '"><script>alert(1)</script> graph'
    for params in ({"q": typed}, {"q": typed, "page": "x"}):
        text = archive.site.client.get(archive.path, params=params).text
        assert "<script>" not in text
        assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt; graph"' in text
    # The pager's links carry the search URL-encoded, then escaped for HTML.
    text = archive.site.client.get(archive.path, params={"q": "model, <b>"}).text
    assert "<b>" not in text
    assert 'href="/archive/' + archive.day + '?q=model%2C+%3Cb%3E&amp;page=2"' in text
