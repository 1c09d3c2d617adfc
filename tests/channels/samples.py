"""Digests for the channel tests: one from real sample data, and long ones for the limits."""

import json
from datetime import date
from typing import Any

from bot.channels.base import Payload
from bot.digest.model import Digest, DigestEntry, DigestPaper, DigestSection, MatchReason
from bot.ingest.dumps import parse_dump
from bot.ingest.hf_daily import parse_hf_daily
from bot.ingest.parsed import ParsedPaper
from tests.conftest import DATA, SAMPLES

DAY = date(2023, 11, 28)


def digest_paper(paper_id: int, paper: ParsedPaper) -> DigestPaper:
    """What a digest shows of a parsed paper, as `bot.papers.as_digest_paper` does of a row."""
    hub = paper.hub
    return DigestPaper(
        paper_id=paper_id,
        title=paper.title,
        abstract=paper.abstract,
        authors=paper.authors,
        author_count=paper.author_count,
        organization=paper.organization,
        paper_date=paper.paper_date,
        upvotes=paper.upvotes,
        code_urls=paper.code_urls,
        project_urls=paper.project_urls,
        arxiv_id=paper.arxiv_id,
        url=paper.url,
        pdf_url=paper.pdf_url,
        hf_url=hub.paper_url if hub else None,
        comments=hub.comments if hub else None,
        github_stars=hub.github_stars if hub else None,
        ai_summary=hub.ai_summary if hub else None,
    )


def _entry(topic: str, paper: DigestPaper, keyword: str, score: float) -> DigestEntry:
    """`paper` matched by `keyword` in its title (else its abstract), as the matcher says it."""
    field = "title" if keyword.lower() in paper.title.lower() else "abstract"
    text = paper.title if field == "title" else paper.abstract
    start = text.lower().find(keyword.lower())
    snippet = text[max(0, start - 40) : start + len(keyword) + 40]
    at = snippet.lower().find(keyword.lower())
    reason = MatchReason(topic, keyword, field, snippet, (at, at + len(keyword)), 1.0)
    return DigestEntry(paper, reason, score)


def sample_digest() -> Digest:
    """A subscriber's digest of two topics over papers from the shipped sample data.

    Hugging Face's daily lists (authors, organisations, AI summaries, code links) and
    the first papers of a dump (titles and abstracts only).
    """
    parsed = [
        *parse_hf_daily((DATA / "hf_daily" / "2023-11-27.json").read_bytes(), source="a").papers,
        *parse_hf_daily((DATA / "hf_daily" / "2023-11-28.json").read_bytes(), source="b").papers,
        *parse_dump(
            (SAMPLES / "compact-1.txt").read_text(encoding="utf-8"), source="c", taken=DAY
        ).papers[:3],
    ]
    papers = {n: digest_paper(n, paper) for n, paper in enumerate(parsed, start=1)}
    video = (
        _entry("video & 3D", papers[1], "video diffusion", 3.0),
        _entry("video & 3D", papers[8], "vision-language", 2.0),
        _entry("video & 3D", papers[2], "3D human avatars", 1.0),
    )
    language = (
        _entry("language models", papers[6], "language models", 2.0),
        _entry("language models", papers[3], "sparse retrieval", 1.5),
        _entry("language models", papers[4], "recurrent models", 1.5),
        _entry("language models", papers[7], "input-output pairs", 1.0),
        _entry("language models", papers[5], "required fields", 1.0),
    )
    return Digest(
        subscriber_id=7,
        email="ana@lab.example",
        day=DAY,
        sections=(
            DigestSection("video & 3D", video, topic_id=1),
            DigestSection("language models", language, topic_id=2),
        ),
        more=2,
        unsubscribe_url="https://papers.example.org/unsubscribe/abc?t=1&s=2",
        manage_url="https://papers.example.org/manage/abc",
    )


LONG_TITLE = (
    "A Very Long Title & <Brackets> | Pipes *Stars* _Lines_ `Ticks` ~Tildes~ [Square] "
    "(Round) # Hashes > Quotes @everyone " * 6
)
LONG_ABSTRACT = ("We study a problem & solve it < in > every | way *possible*. " * 120).strip()


def long_digest(count: int = 25, *, topics: int = 2) -> Digest:
    """`count` papers with long, markup-heavy titles, abstracts and author lists, over `topics`."""
    papers = [
        DigestPaper(
            paper_id=100 + number,
            title=f"{number}: {LONG_TITLE}",
            abstract=LONG_ABSTRACT,
            authors=tuple(f"Author {n} & <Co>" for n in range(40)),
            organization="Lab | Org & <Partners> " * 10,
            paper_date=DAY,
            upvotes=number,
            code_urls=(f"https://github.com/example/repo-{number}",),
            project_urls=(f"https://example.org/p/{number}?a=1&b=<2>|3",),
            arxiv_id=f"2311.{10000 + number}",
            ai_summary=("A summary that goes on & on <and> on. " * 20).strip(),
        )
        for number in range(count)
    ]
    sections = []
    for topic in range(topics):
        chosen = papers[topic::topics]
        name = f"topic {topic} & <{'x' * 100}>"
        entries = tuple(_entry(name, p, "problem", 1.0) for p in chosen)
        sections.append(DigestSection(name, entries, topic_id=topic))
    return Digest(
        7,
        "ana@lab.example",
        DAY,
        tuple(sections),
        more=3,
        manage_url="https://papers.example.org/manage/abc",
    )


def every_paper_once(digest: Digest, payloads: list[Payload]) -> None:
    """Fail unless the payloads show each of the digest's papers exactly once, in order."""
    shown = [paper_id for payload in payloads for paper_id in payload.paper_ids]
    assert shown == [entry.paper.paper_id for entry in digest.entries]
    assert [p.part for p in payloads] == list(range(1, len(payloads) + 1))
    assert all(p.parts == len(payloads) for p in payloads)


def pretty(payloads: list[Payload]) -> str:
    """The payloads as indented JSON, for golden files."""
    parts: list[dict[str, Any]] = [
        {"part": p.part, "parts": p.parts, "paper_ids": list(p.paper_ids), "content": p.content}
        for p in payloads
    ]
    return json.dumps(parts, indent=2, ensure_ascii=False) + "\n"
