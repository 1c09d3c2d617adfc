"""Hugging Face's daily papers stored: merged with dumps and arXiv either way round, raised later."""

import json
import shutil
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.clock import Clock
from bot.ingest.pipeline import FeedSource, FetchOptions, ingest_feed, ingest_file
from bot.models import Paper
from tests.conftest import DATA, ROOT, StaticFeeds

DAYS = DATA / "hf_daily"
DUMP = ROOT / "examples" / "dumps" / "spaced-1.txt"  # the list of Nov 21, 2023: 63 papers
SVD = "Stable Video Diffusion: Scaling Latent Video Diffusion Models to Large Datasets"
OPTIONS = FetchOptions(timeout=10, deadline=30, user_agent="paperbot-test")


def _paper(engine: Engine, title_start: str) -> Paper:
    with Session(engine) as session:
        return session.scalars(select(Paper).where(col(Paper.title).startswith(title_start))).one()


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Paper)) or 0)


def test_a_dump_paper_gains_what_the_api_knows(engine: Engine, clock: Clock) -> None:
    assert ingest_file(engine, DUMP, clock=clock, year=2023).new == 63
    result = ingest_file(engine, DAYS / "2023-11-27.json", clock=clock)
    assert (result.kind, result.status, result.new, result.updated) == ("hf/daily", "ok", 1, 2)
    assert _count(engine) == 64
    svd = _paper(engine, "Stable Video Diffusion")
    assert (svd.title, svd.arxiv_id, svd.upvotes) == (SVD, "2311.15127", 40)
    assert svd.authors[:2] == ["Andreas Blattmann", "Tim Dockhorn"]
    assert (svd.organization, svd.organization_name) == ("Stability AI", "stabilityai")
    assert svd.code_urls == ["https://github.com/Stability-AI/generative-models"]
    assert (svd.github_stars, svd.comments, svd.ai_keywords[0]) == (
        24100,
        3,
        "latent video diffusion",
    )
    assert svd.ai_summary and svd.ai_summary.startswith("Stable Video Diffusion trains")
    assert (svd.hf_url, svd.pdf_url, str(svd.list_day)) == (
        "https://huggingface.co/papers/2311.15127",
        "https://arxiv.org/pdf/2311.15127",
        "2023-11-27",
    )
    # The dump's spelling stays: only arXiv's own records rename a paper.
    fresa = _paper(engine, "FRESA")
    assert (fresa.title, fresa.arxiv_id) == (
        "FRESA:Feedforward Reconstruction of Personalized Skinned Avatars from Few Images",
        "2311.13628",
    )


def test_an_api_paper_is_found_by_a_later_dump(engine: Engine, clock: Clock) -> None:
    assert ingest_file(engine, DAYS / "2023-11-27.json", clock=clock).new == 3
    result = ingest_file(engine, DUMP, clock=clock, year=2023)
    assert (result.new, result.parsed) == (61, 63)
    assert _count(engine) == 64
    svd = _paper(engine, "Stable Video Diffusion")
    assert (svd.arxiv_id, svd.github_stars, svd.author_count) == ("2311.15127", 24100, 4)


def test_the_api_never_clobbers_an_arxiv_record(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    feed = tmp_path / "arxiv.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        "<channel><title>cs.CV updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs.CV</link>"
        "<item><title>Stable Video Diffusion (arXiv's title)</title>"
        "<link>https://arxiv.org/abs/2311.15127</link>"
        "<description>arXiv:2311.15127v1 Announce Type: new \nAbstract: arXiv's abstract.</description>"
        '<guid isPermaLink="false">oai:arXiv.org:2311.15127v1</guid></item></channel></rss>'
    )
    assert ingest_file(engine, feed, clock=clock).kind == "feed/arxiv-rss"
    result = ingest_file(engine, DAYS / "2023-11-27.json", clock=clock)
    assert (result.new, result.updated) == (2, 1)
    svd = _paper(engine, "Stable Video Diffusion")
    assert (svd.title, svd.abstract) == (
        "Stable Video Diffusion (arXiv's title)",
        "arXiv's abstract.",
    )
    assert (svd.upvotes, svd.github_stars, svd.organization) == (40, 24100, "Stability AI")


def test_a_later_fetch_raises_counts_and_duplicates_nothing(
    engine: Engine, clock: Clock, feed_server: StaticFeeds
) -> None:
    items = json.loads((DAYS / "2023-11-27.json").read_bytes())
    feed_server.documents["/api/daily_papers?date=2023-11-27"] = json.dumps(items).encode()
    day = FeedSource(feed_server.url("/api/daily_papers?date=2023-11-27"))
    first = ingest_feed(engine, day, clock=clock, options=OPTIONS)
    assert (first.kind, first.new) == ("hf/daily", 3)
    # Unchanged: a conditional GET answered "not modified".
    again = ingest_feed(engine, day, clock=clock, options=OPTIONS)
    assert (again.status, again.reason) == ("skipped", "not modified since the last fetch")
    assert feed_server.requests[-1][1] is not None  # If-None-Match was sent
    items[0]["paper"].update(upvotes=95, githubStars=25000)
    items[0]["numComments"] = 7
    feed_server.documents["/api/daily_papers?date=2023-11-27"] = json.dumps(items).encode()
    later = ingest_feed(engine, day, clock=clock, options=OPTIONS)
    assert (later.new, later.updated, later.unchanged) == (0, 1, 2)
    svd = _paper(engine, "Stable Video Diffusion")
    assert (svd.upvotes, svd.github_stars, svd.comments) == (95, 25000, 7)
    assert _count(engine) == 3


def test_bad_input_stores_nothing_and_says_why(
    engine: Engine, clock: Clock, tmp_path: Path, feed_server: StaticFeeds
) -> None:
    ingest_file(engine, DAYS / "2023-11-28.json", clock=clock)
    cut = tmp_path / "cut.json"
    cut.write_bytes((DAYS / "2023-11-27.json").read_bytes()[:4000])
    result = ingest_file(engine, cut, clock=clock)
    assert (result.status, result.error) == ("failed", "JSON cut short after 4000 characters")
    feed_server.documents["/api/daily_papers?date=2023-11-27"] = b"<html><body>Busy</body></html>"
    day = FeedSource(feed_server.url("/api/daily_papers?date=2023-11-27"), kind="hf-daily")
    fetched = ingest_feed(engine, day, clock=clock, options=OPTIONS)
    assert (fetched.status, fetched.error) == (
        "failed",
        "an HTML page, not Hugging Face daily papers JSON",
    )
    assert _count(engine) == 2


def test_a_saved_response_is_a_file_like_any_other(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    saved = tmp_path / "daily_papers"  # no suffix: the content tells
    shutil.copy(DAYS / "2023-11-28.json", saved)
    assert ingest_file(engine, saved, clock=clock).kind == "hf/daily"
    assert ingest_file(engine, DAYS / "2023-11-25.json", clock=clock).status == "ok"
