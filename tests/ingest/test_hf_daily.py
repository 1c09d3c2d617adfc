"""Reading Hugging Face's daily papers list: fields, tolerance, and what it refuses."""

import json
from datetime import date

import pytest

from bot.errors import FeedError
from bot.ingest.hf_daily import daily_url, days_between, looks_like_json, parse_hf_daily
from bot.ingest.parsed import HubFacts
from tests.conftest import DATA

DAYS = DATA / "hf_daily"


def test_every_documented_field_is_read() -> None:
    parsed = parse_hf_daily((DAYS / "2023-11-27.json").read_bytes(), source="day")
    assert (parsed.kind, parsed.page_date, len(parsed.papers)) == (
        "hf/daily",
        date(2023, 11, 27),
        3,
    )
    svd = parsed.papers[0]
    assert svd.arxiv_id == "2311.15127"
    assert svd.authors == (
        "Andreas Blattmann",
        "Tim Dockhorn",
        "Sumith Kulal",
        "Daniel Mendelevitch",
    )
    assert (svd.organization, svd.paper_date, svd.upvotes) == (
        "Stability AI",
        date(2023, 11, 25),
        40,
    )
    assert svd.code_urls == ("https://github.com/Stability-AI/generative-models",)
    assert svd.project_urls == ("https://stability.ai/stable-video",)
    assert (svd.url, svd.pdf_url) == (
        "https://huggingface.co/papers/2311.15127",
        "https://arxiv.org/pdf/2311.15127",
    )
    assert "\n" not in svd.abstract and svd.abstract.startswith("We present Stable Video Diffusion")
    assert svd.hub == HubFacts(
        paper_url="https://huggingface.co/papers/2311.15127",
        list_day=date(2023, 11, 27),
        github_stars=24100,
        comments=3,
        ai_summary="Stable Video Diffusion trains a latent video diffusion model in three stages.",
        ai_keywords=("latent video diffusion", "text-to-video", "multi-view synthesis"),
        organization_name="stabilityai",
    )


def test_a_paper_missing_optional_fields_is_kept() -> None:
    parsed = parse_hf_daily((DAYS / "2023-11-28.json").read_bytes(), source="day")
    bare = parsed.papers[1]
    assert (bare.title, bare.abstract, bare.authors, bare.organization) == (
        "A Paper With Only The Required Fields",
        "",
        (),
        None,
    )
    assert bare.hub is not None and (bare.hub.comments, bare.hub.github_stars) == (None, None)


def test_a_day_without_a_list_is_an_empty_list() -> None:
    parsed = parse_hf_daily(b"[]\n", source="saturday")
    assert (parsed.kind, parsed.papers, parsed.dropped) == ("hf/daily", (), 0)
    assert looks_like_json(b"[]") and looks_like_json(b'\xef\xbb\xbf  [\n {"paper": {}}]')
    assert not looks_like_json(b"Daily Papers\n[Re] A reproduction\n")


def _day_with(**changes: object) -> bytes:
    items = json.loads((DAYS / "2023-11-27.json").read_bytes())
    items[1]["paper"].update(changes)
    return json.dumps(items).encode()


def test_fields_of_an_unexpected_type_are_left_out_and_the_paper_kept() -> None:
    odd = _day_with(
        upvotes="many",
        githubStars=True,
        authors=[
            {"name": "Ana Lima"},
            "Bo Chen",
            {"name": 7},
            {"hidden": True},
            {"name": "Cy Diaz"},
        ],
        organization="a lab",
        ai_keywords=["avatars", 3, " skinning "],
        publishedAt=20231125,
        brandNewField={"nested": [1, 2]},
    )
    parsed = parse_hf_daily(odd, source="day")
    fresa = parsed.papers[1]
    assert fresa.title.startswith("FRESA") and fresa.arxiv_id == "2311.13628"
    assert (fresa.upvotes, fresa.organization, fresa.paper_date) == (None, None, None)
    assert fresa.authors == ("Ana Lima", "Cy Diaz")
    assert fresa.hub is not None
    assert (fresa.hub.github_stars, fresa.hub.ai_keywords) == (None, ("avatars", "skinning"))
    # The other papers of the list are read as usual.
    assert (
        parsed.papers[0]
        == parse_hf_daily((DAYS / "2023-11-27.json").read_bytes(), source="d").papers[0]
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ((DAYS / "2023-11-27.json").read_bytes()[:5000], "JSON cut short after 5000 characters"),
        (
            b"<!DOCTYPE html><html><body>Something went wrong</body></html>",
            "an HTML page, not Hugging Face daily papers JSON",
        ),
        (b'{"error": "Invalid date"}', "a JSON object (keys: error), not a list of Hugging Face"),
        (b'[{"title": "x"}]', 'item 1 has no "paper" object'),
        (_day_with(id=""), "item 2 has a paper without an id"),
        (_day_with(title=None), "item 2 (paper 2311.13628) has no title"),
        (b'[{"paper": {"id": "1"}},]', "invalid JSON at line 1, column 25: Expecting value"),
    ],
)
def test_bad_input_is_refused_with_one_line(data: bytes, reason: str) -> None:
    with pytest.raises(FeedError) as raised:
        parse_hf_daily(data, source="https://hf.example/api/daily_papers?date=2023-11-27")
    assert raised.value.reason.startswith(reason)
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith("https://hf.example/api/daily_papers?date=2023-11-27: ")


def test_a_day_s_url_adds_the_date_to_the_api_address() -> None:
    assert daily_url("https://huggingface.co/api/daily_papers", date(2024, 6, 3)) == (
        "https://huggingface.co/api/daily_papers?date=2024-06-03"
    )
    assert daily_url("http://127.0.0.1:9/api?limit=100", date(2024, 6, 3)) == (
        "http://127.0.0.1:9/api?limit=100&date=2024-06-03"
    )


def test_a_span_names_every_day_in_it() -> None:
    today = date(2024, 6, 5)
    assert days_between("2024-06-03", today=today) == [
        date(2024, 6, 3), date(2024, 6, 4), date(2024, 6, 5),
    ]  # fmt: skip
    assert days_between("2024-05-31..2024-06-01", today=today) == [
        date(2024, 5, 31), date(2024, 6, 1),
    ]  # fmt: skip
