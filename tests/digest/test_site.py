from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.digest.render import DigestRenderer
from bot.digest.site import days_touched, write_site_digests
from bot.ingest.pipeline import ingest_file
from tests.conftest import DATA, SAMPLES
from tests.golden import assert_golden


def test_one_file_per_page_date_with_every_paper_of_that_day(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    before: datetime = clock() - timedelta(seconds=1)
    ingest_file(engine, SAMPLES / "spaced-1.txt", clock=clock, year=2025)
    days = days_touched(engine, before)
    assert days == {date(2025, 11, 21)}
    [path] = write_site_digests(engine, DigestRenderer(), tmp_path, days)
    assert path == tmp_path / "site" / "2025-11-21.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Papers of 2025-11-21") and "63 papers listed" in text
    # Most upvoted first.
    assert text.index("Stable Video Diffusion") < text.index(
        "On the Initialization of Graph Neural Networks"
    )


def test_papers_without_a_page_date_go_to_the_day_they_were_ingested(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    before: datetime = clock() - timedelta(seconds=1)
    ingest_file(engine, SAMPLES / "compact-2.txt", clock=clock)
    assert days_touched(engine, before) == {clock().date()}
    [path] = write_site_digests(engine, DigestRenderer(), tmp_path, {clock().date()})
    assert "214 papers listed" in path.read_text(encoding="utf-8")


def test_golden_site_digest_of_a_hugging_face_list(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    # Links to each paper's page with its PDF, authors, counts, the AI summary marked
    # as such, GitHub stars, and the abstract folded: compared with a reviewed copy.
    ingest_file(engine, DATA / "hf_daily" / "2023-11-27.json", clock=clock)
    [path] = write_site_digests(engine, DigestRenderer(), tmp_path, {date(2023, 11, 27)})
    assert_golden(path.read_text(encoding="utf-8"), DATA / "digest" / "site-2023-11-27.md")
