"""Digest dumps: the real samples, and damaged inputs made from them."""

import random
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest

from bot.errors import DumpError
from bot.ingest.dumps import parse_dump, read_dump
from bot.ingest.links import extract_links
from bot.ingest.parsed import ParsedPaper, ParsedSource

SAMPLES = Path(__file__).parents[2] / "examples" / "dumps"
# The spaced sample's page reads "Nov 21"; its yearless paper dates are of 2025.
TAKEN = date(2025, 11, 22)


def sample(name: str) -> str:
    """The text of one of the real sample dumps."""
    return (SAMPLES / name).read_text(encoding="utf-8")


def parse(text: str, *, taken: date = TAKEN, year: int | None = None) -> ParsedSource:
    return parse_dump(text, source="test.txt", taken=taken, year=year)


def by_title(parsed: ParsedSource, start: str) -> ParsedPaper:
    """The one paper whose title starts with `start`."""
    (paper,) = [p for p in parsed.papers if p.title.startswith(start)]
    return paper


def pairs(parsed: ParsedSource) -> list[tuple[str, str]]:
    return [(p.title, p.abstract) for p in parsed.papers]


def drop_line(text: str, starting: str) -> tuple[str, int]:
    """Remove the one line that starts with `starting`; return the text and its line number."""
    lines = text.split("\n")
    (index,) = [i for i, line in enumerate(lines) if line.startswith(starting)]
    del lines[index]
    return "\n".join(lines), index + 1


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# The real samples


def test_spaced_sample() -> None:
    parsed = parse(sample("spaced-1.txt"))
    assert parsed.kind == "dump/spaced"
    assert len(parsed.papers) == 63
    assert parsed.page_date == date(2025, 11, 21)
    assert sum(p.author_count is not None for p in parsed.papers) == 61
    assert [p.upvotes for p in parsed.papers if p.upvotes is not None] == [8, 2, 4]
    assert parsed.warnings == ()
    assert parsed.dropped == 0


def test_spaced_sample_metadata() -> None:
    parsed = parse(sample("spaced-1.txt"))
    initialization = by_title(parsed, "On the Initialization of Graph Neural Networks")
    assert initialization.author_count == 4
    assert initialization.paper_date == date(2023, 12, 5)
    assert initialization.upvotes is None
    svd = by_title(parsed, "Stable Video Diffusion")
    assert (svd.author_count, svd.paper_date, svd.upvotes) == (12, date(2023, 11, 25), 8)
    drift = by_title(parsed, "DRIFT:")
    assert (drift.paper_date, drift.upvotes) == (date(2025, 9, 26), 2)
    assert by_title(parsed, "Beyond Backpropagation").author_count == 1
    last = parsed.papers[-1]
    assert last.title == "Generating Pragmatic Examples to Train Neural Program Synthesizers"
    assert (last.author_count, last.paper_date) == (3, date(2023, 11, 9))


def test_papers_without_metadata() -> None:
    parsed = parse(sample("spaced-1.txt"))
    for paper in (by_title(parsed, "MathSE:"), by_title(parsed, "FRESA:")):
        assert paper.abstract
        assert (paper.author_count, paper.organization, paper.paper_date, paper.upvotes) == (
            None,
            None,
            None,
            None,
        )


def test_accents_and_latex_are_kept_verbatim() -> None:
    spaced = parse(sample("spaced-1.txt"))
    frechet = by_title(spaced, "Fréchet Cumulative Covariance Net")
    assert "Fr\\'echet" in frechet.abstract
    assert "\\method" in by_title(spaced, "MathSE:").abstract
    legendre = by_title(parse(sample("compact-2.txt")), "LegendreTron")
    assert "{\\sc LegendreTron}" in legendre.abstract


def test_yearless_paper_date_takes_the_page_year() -> None:
    parsed = parse(sample("spaced-1.txt"))
    assert by_title(parsed, "Fréchet").paper_date == date(2025, 2, 21)
    assert by_title(parsed, "NoProp:").paper_date == date(2025, 3, 31)


def test_page_date_of_a_dump_taken_the_next_year() -> None:
    # Taken in January: the "Nov 21" page, and the "Feb 21" paper on it, are of the year before.
    parsed = parse(sample("spaced-1.txt"), taken=date(2026, 1, 10))
    assert parsed.page_date == date(2025, 11, 21)
    assert by_title(parsed, "Fréchet").paper_date == date(2025, 2, 21)


def test_yearless_paper_date_later_than_the_page_is_last_year() -> None:
    text = replace_once(sample("spaced-1.txt"), "\nFeb 21\n", "\nDec 5\n")
    parsed = parse(text)
    assert by_title(parsed, "Fréchet").paper_date == date(2024, 12, 5)


def test_compact_samples() -> None:
    first = parse(sample("compact-1.txt"))
    second = parse(sample("compact-2.txt"))
    assert (first.kind, second.kind) == ("dump/compact", "dump/compact")
    assert (len(first.papers), len(second.papers)) == (302, 214)
    assert first.papers[0].title == (
        "Fine-tune Language Models to Approximate Unbiased In-context Learning"
    )
    assert first.papers[0].abstract.startswith("In-context learning (ICL) is an astonishing")
    assert second.papers[0].title == "LegendreTron: Uprising Proper Multiclass Loss Learning"
    for parsed in (first, second):
        assert parsed.page_date is None
        assert parsed.warnings == ()
        assert all(p.paper_date is None and p.author_count is None for p in parsed.papers)


def test_every_compact_line_pair_is_a_paper() -> None:
    lines = sample("compact-1.txt").split("\n")
    expected = list(zip(lines[2::2], lines[3::2], strict=True))
    expected[0] = (expected[0][0].removeprefix("Subscribe"), expected[0][1])
    assert pairs(parse(sample("compact-1.txt"))) == expected


def test_links_are_extracted() -> None:
    fresa = by_title(parse(sample("spaced-1.txt")), "FRESA:")
    assert fresa.code_urls == ("https://github.com/rongakowang/FRESA",)
    assert fresa.project_urls == ()
    compact = parse(sample("compact-1.txt"))
    genrc = [p for p in compact.papers if "https://minfenli.github.io/GenRC" in p.abstract]
    assert genrc
    assert genrc[0].project_urls == ("https://minfenli.github.io/GenRC",)


def test_links_of_every_paper() -> None:
    for name in ("spaced-1.txt", "compact-1.txt", "compact-2.txt"):
        for paper in parse(sample(name)).papers:
            assert (paper.code_urls, paper.project_urls) == extract_links(paper.abstract)


def test_link_split_by_a_latex_hint() -> None:
    text = sample("spaced-1.txt")
    text = replace_once(
        text, "https://github.com/rongakowang/FRESA.", r"https:\allowbreak//github.com/x/y."
    )
    assert by_title(parse(text), "FRESA:").code_urls == ("https://github.com/x/y",)


def test_read_dump_decodes_bytes() -> None:
    data = (SAMPLES / "spaced-1.txt").read_bytes()
    parsed = read_dump(data, source="spaced-1.txt", taken=TAKEN)
    assert parsed == parse(sample("spaced-1.txt"))


# Truncated files


def test_truncated_mid_abstract_keeps_the_paper_with_a_warning() -> None:
    text = sample("compact-1.txt")
    cut = text[: text.rindex(" ", 0, len(text) - 200)]
    parsed = parse(cut)
    assert len(parsed.papers) == 302
    assert parsed.papers[-1].abstract == cut.rsplit("\n", 1)[1]
    assert parsed.dropped == 0
    (warning,) = parsed.warnings
    assert warning.startswith(f"line {cut.count(chr(10)) + 1}: ")
    assert "From Neurons to Neutrons" in warning
    assert "truncated" in warning


def test_spaced_truncated_mid_abstract() -> None:
    text = sample("spaced-1.txt")
    start = text.index("Programming-by-example is the task")
    parsed = parse(text[: start + 120])
    assert len(parsed.papers) == 63
    assert parsed.papers[-1].author_count is None
    assert len(parsed.warnings) == 1
    assert "truncated" in parsed.warnings[0]


def test_complete_abstract_at_the_end_without_newline_is_not_flagged() -> None:
    text = sample("compact-2.txt")
    assert not text.endswith("\n")
    assert parse(text).warnings == ()


def test_truncated_after_a_title() -> None:
    text = sample("compact-1.txt")
    cut = text[: text.rindex("\n")]
    parsed = parse(cut)
    assert len(parsed.papers) == 301
    assert parsed.dropped == 1
    (warning,) = parsed.warnings
    number = cut.count("\n") + 1
    assert warning.startswith(f"line {number}: title 'From Neurons to Neutrons")
    assert "no abstract" in warning
    assert "dropped" in warning


def test_truncated_metadata_block_keeps_the_paper() -> None:
    text = sample("spaced-1.txt")
    cut = text[: text.rindex("·") + 1]
    parsed = parse(cut)
    assert len(parsed.papers) == 63
    last = parsed.papers[-1]
    assert (last.author_count, last.paper_date) == (3, None)
    (warning,) = parsed.warnings
    assert "Generating Pragmatic Examples" in warning
    assert "truncated" in warning


def test_cut_date_line_is_reported() -> None:
    text = sample("spaced-1.txt")
    assert text.endswith("Nov 9, 2023")
    parsed = parse(text[:-2])
    assert len(parsed.papers) == 63
    assert parsed.papers[-1].paper_date is None
    (warning,) = parsed.warnings
    assert warning.startswith(f"line {text.count(chr(10)) + 1}: unreadable date 'Nov 9, 20'")


# Lines missing in the middle


def test_title_missing_its_abstract_in_compact_layout() -> None:
    text = sample("compact-1.txt")
    original = pairs(parse(text))
    title, abstract = original[4]
    damaged, _ = drop_line(text, abstract)
    parsed = parse(damaged)
    assert len(parsed.papers) == 301
    assert parsed.dropped == 1
    (warning,) = parsed.warnings
    assert warning.startswith(f"line 11: title '{title[:40]}")
    assert "no abstract" in warning
    # Every other paper keeps its own abstract: nothing shifted.
    assert pairs(parsed) == original[:4] + original[5:]


def test_title_missing_its_abstract_before_a_metadata_block() -> None:
    text = sample("spaced-1.txt")
    original = parse(text)
    damaged, _ = drop_line(text, "Graph Neural Networks (GNNs) have displayed considerable")
    parsed = parse(damaged)
    assert len(parsed.papers) == 62
    (warning,) = parsed.warnings
    assert warning.startswith("line 17: title 'On the Initialization of Graph Neural Networks'")
    kept = [
        p for p in original.papers if p.title != "On the Initialization of Graph Neural Networks"
    ]
    assert list(parsed.papers) == kept


def test_title_missing_its_abstract_before_another_title() -> None:
    text = sample("spaced-1.txt")
    original = parse(text)
    damaged, _ = drop_line(text, "Multimodal large language models (MLLMs) have demonstrated")
    parsed = parse(damaged)
    assert len(parsed.papers) == 62
    (warning,) = parsed.warnings
    assert "MathSE:" in warning
    assert "no abstract" in warning
    assert list(parsed.papers) == [p for p in original.papers if not p.title.startswith("MathSE")]
    beyond = by_title(parsed, "Beyond Backpropagation")
    assert beyond.abstract.startswith("The rising computational and energy demands")
    assert beyond.author_count == 1


def test_abstract_missing_its_title() -> None:
    text = sample("compact-2.txt")
    original = pairs(parse(text))
    title = original[10][0]
    damaged, number = drop_line(text, title)
    parsed = parse(damaged)
    assert len(parsed.papers) == 213
    assert parsed.dropped == 1
    (warning,) = parsed.warnings
    assert warning.startswith(f"line {number}: abstract with no title dropped")
    assert pairs(parsed) == original[:10] + original[11:]


def test_several_damaged_places_each_cost_one_paper() -> None:
    text = sample("compact-1.txt")
    original = pairs(parse(text))
    damaged = text
    for index in (3, 50, 51, 200):
        damaged, _ = drop_line(damaged, original[index][1])
    parsed = parse(damaged)
    assert len(parsed.papers) == 298
    assert parsed.dropped == 4
    assert len(parsed.warnings) == 4
    assert pairs(parsed) == [pair for i, pair in enumerate(original) if i not in (3, 50, 51, 200)]


def test_stray_metadata_lines_are_skipped() -> None:
    text = replace_once(sample("spaced-1.txt"), "\nMar 31\n", "\nMar 31\n\n·\n\n  • 2 authors\n\n")
    parsed = parse(text)
    assert len(parsed.papers) == 63
    assert parsed.dropped == 0
    assert len(parsed.warnings) == 2
    assert "stray separator line" in parsed.warnings[0]
    assert "stray authors line" in parsed.warnings[1]


def test_stray_lines_between_a_title_and_its_abstract() -> None:
    text = replace_once(
        sample("spaced-1.txt"), "Few Images\n\nWe present", "Few Images\n·\n12\nWe present"
    )
    parsed = parse(text)
    assert pairs(parsed) == pairs(parse(sample("spaced-1.txt")))
    assert parsed.warnings == (
        "line 14: stray separator line '·' skipped",
        "line 15: line with no words '12' skipped",
    )


def test_title_followed_by_a_stray_separator_is_not_an_organisation() -> None:
    text = sample("compact-2.txt")
    original = parse(text)
    title = original.papers[5].title
    parsed = parse(replace_once(text, f"\n{title}\n", f"\n{title}\n·\n"))
    assert pairs(parsed) == pairs(original)
    assert parsed.papers[4].organization is None
    assert len(parsed.warnings) == 1


def test_random_damage_costs_at_most_the_damaged_papers() -> None:
    rng = random.Random(11)
    for name in ("spaced-1.txt", "compact-1.txt", "compact-2.txt"):
        text = sample(name)
        original = parse(text)
        known = set(pairs(original))
        lines = text.split("\n")
        for _ in range(40):
            damaged = list(lines)
            # Lines far enough apart that each removal hits a different paper.
            picks = sorted(rng.sample(range(3, len(lines), 7), k=rng.randint(1, 6)), reverse=True)
            for index in picks:
                del damaged[index]
            parsed = parse("\n".join(damaged))
            assert set(pairs(parsed)) <= known
            assert len(parsed.papers) >= len(original.papers) - len(picks)


def test_unknown_header_lines_are_skipped() -> None:
    text = replace_once(sample("spaced-1.txt"), "Daily Papers\n", "Daily Papers\n\nTrending\n")
    parsed = parse(text)
    assert len(parsed.papers) == 63
    assert parsed.page_date == date(2025, 11, 21)
    (warning,) = parsed.warnings
    assert (
        warning == "line 9: 1 unrecognised line(s) in the header skipped, starting with 'Trending'"
    )


def test_navigation_before_the_banner_is_skipped() -> None:
    text = "Hugging Face\nModels\nDatasets\n" + sample("compact-2.txt")
    parsed = parse(text)
    assert pairs(parsed) == pairs(parse(sample("compact-2.txt")))
    (warning,) = parsed.warnings
    assert warning.startswith("lines 1-3: 3 unrecognised line(s) in the header skipped")


def test_short_first_abstract_is_not_taken_for_the_header() -> None:
    text = sample("spaced-1.txt")
    fresa = by_title(parse(text), "FRESA:")
    text = replace_once(text, fresa.abstract, "We reconstruct avatars from few images.")
    parsed = parse(text)
    assert parsed.warnings == ()
    assert len(parsed.papers) == 63
    assert parsed.papers[0].abstract == "We reconstruct avatars from few images."
    assert parsed.papers[1].title == "On the Initialization of Graph Neural Networks"


# Metadata variants


def test_organisation_metadata_block() -> None:
    text = replace_once(sample("spaced-1.txt"), "  • 4 authors\n·\nDec 5", "KFUPM KFUPM\n·\nDec 5")
    paper = by_title(parse(text), "On the Initialization of Graph Neural Networks")
    assert (paper.organization, paper.author_count) == ("KFUPM", None)
    assert paper.paper_date == date(2023, 12, 5)


def test_organisation_line_not_shown_twice_is_kept_whole() -> None:
    text = replace_once(sample("spaced-1.txt"), "  • 4 authors\n·\nDec 5", "GD DeepMind\n·\nDec 5")
    paper = by_title(parse(text), "On the Initialization of Graph Neural Networks")
    assert paper.organization == "GD DeepMind"


def test_partial_metadata_blocks() -> None:
    text = sample("spaced-1.txt")
    # Date without the separator, then the author count alone.
    text = replace_once(text, "  • 4 authors\n·\nDec 5, 2023\n", "Dec 5, 2023\n")
    text = replace_once(text, "  • 5 authors\n·\nAug 15, 2024\n", "  • 5 authors\n")
    parsed = parse(text)
    assert len(parsed.papers) == 63
    assert parsed.warnings == ()
    first = by_title(parsed, "On the Initialization")
    assert (first.author_count, first.paper_date) == (None, date(2023, 12, 5))
    second = by_title(parsed, "Activation Space Selectable")
    assert (second.author_count, second.paper_date) == (5, None)
    assert by_title(parsed, "Stable Video Diffusion").upvotes == 8


def test_singular_author() -> None:
    text = replace_once(sample("spaced-1.txt"), "1 authors\n·\nSep 23\n", "1 author\n·\nSep 23\n")
    assert by_title(parse(text), "Beyond Backpropagation").author_count == 1


# Years and dates


def test_year_rollover_of_the_page_date() -> None:
    text = replace_once(sample("spaced-1.txt"), "\nNov 21\n", "\nDec 31\n")
    text = replace_once(text, "\nFeb 21\n", "\nDec 30\n")
    parsed = parse(text, taken=date(2026, 1, 2))
    assert parsed.page_date == date(2025, 12, 31)
    assert by_title(parsed, "Fréchet").paper_date == date(2025, 12, 30)


def test_explicit_year() -> None:
    parsed = parse(sample("spaced-1.txt"), taken=date(2030, 6, 1), year=2025)
    assert parsed.page_date == date(2025, 11, 21)
    assert by_title(parsed, "Fréchet").paper_date == date(2025, 2, 21)
    # Dates that carry their own year keep it.
    assert by_title(parsed, "Stable Video Diffusion").paper_date == date(2023, 11, 25)


def test_explicit_year_without_a_page_date() -> None:
    text = replace_once(sample("spaced-1.txt"), "\nNov 21\n", "\n")
    parsed = parse(text, taken=date(2030, 6, 1), year=2024)
    assert parsed.page_date is None
    assert by_title(parsed, "Fréchet").paper_date == date(2024, 2, 21)


def test_the_year_taken_from_the_file_date_is_told() -> None:
    # The page's "Nov 21" had no year: 2025 came from the day the dump was taken.
    assert parse(sample("spaced-1.txt")).year_from_file == 2025
    assert parse(sample("spaced-1.txt"), taken=date(2026, 1, 10)).year_from_file == 2025
    # No page date, yearless paper dates: the taken day's year dates them.
    undated = replace_once(sample("spaced-1.txt"), "\nNov 21\n", "\n")
    assert parse(undated, taken=date(2030, 6, 1)).year_from_file == 2030
    # A year stated by the user or shown on the page; a dump with no yearless date.
    assert parse(sample("spaced-1.txt"), year=2025).year_from_file is None
    dated = replace_once(sample("spaced-1.txt"), "\nNov 21\n", "\nNovember 21, 2024\n")
    assert parse(dated).year_from_file is None
    assert parse(sample("compact-1.txt")).year_from_file is None


def test_page_date_with_full_month_and_year() -> None:
    text = replace_once(sample("spaced-1.txt"), "\nNov 21\n", "\nNovember 21, 2024\n")
    parsed = parse(text)
    assert parsed.page_date == date(2024, 11, 21)
    assert by_title(parsed, "Fréchet").paper_date == date(2024, 2, 21)


def test_february_29() -> None:
    text = replace_once(sample("spaced-1.txt"), "\nFeb 21\n", "\nFeb 29\n")
    text = replace_once(text, "\nNov 21\n", "\nMar 1\n")
    leap = parse(text, year=2024)
    assert leap.warnings == ()
    assert by_title(leap, "Fréchet").paper_date == date(2024, 2, 29)
    common = parse(text, year=2025)
    assert len(common.papers) == 63
    assert by_title(common, "Fréchet").paper_date is None
    (warning,) = common.warnings
    assert "impossible paper date 'Feb 29'" in warning
    assert warning.startswith("line ")


def test_impossible_page_date() -> None:
    text = replace_once(sample("spaced-1.txt"), "\nNov 21\n", "\nFeb 30\n")
    parsed = parse(text)
    assert parsed.page_date is None
    assert len(parsed.papers) == 63
    (warning,) = parsed.warnings
    assert warning.startswith("line 11: impossible page date 'Feb 30'")


# Layout details


def test_windows_line_ends() -> None:
    crlf = parse(sample("spaced-1.txt").replace("\n", "\r\n"))
    assert crlf == parse(sample("spaced-1.txt"))
    compact = parse(sample("compact-2.txt").replace("\n", "\r\n"))
    assert compact == parse(sample("compact-2.txt"))


def test_byte_order_mark_in_text() -> None:
    assert parse("\ufeff" + sample("compact-2.txt")) == parse(sample("compact-2.txt"))


def test_header_may_be_missing() -> None:
    text = sample("spaced-1.txt")
    body = text[text.index("FRESA:") :]
    parsed = parse(body)
    assert len(parsed.papers) == 63
    assert parsed.page_date is None
    assert parsed.warnings == ()


def test_subscribe_is_unglued_only_in_the_header() -> None:
    text = sample("compact-1.txt")
    lines = text.split("\n")
    lines[4] = "Subscribe" + lines[4]
    parsed = parse("\n".join(lines))
    assert parsed.papers[1].title.startswith("SubscribeGeneral Covariance")


def test_title_starting_with_subscribers_is_not_unglued() -> None:
    text = replace_once(
        sample("compact-2.txt"),
        "SubscribeLegendreTron",
        "Subscribe\nSubscribers: LegendreTron",
    )
    title = parse(text).papers[0].title
    assert title == "Subscribers: LegendreTron: Uprising Proper Multiclass Loss Learning"


# Files that are not dumps


def test_html_page_is_refused() -> None:
    papers = parse(sample("compact-2.txt")).papers[:20]
    body = "".join(f"<h3><a href='#'>{p.title}</a></h3>\n<p>{p.abstract}</p>\n" for p in papers)
    page = f"<!DOCTYPE html>\n<html lang='en'><head><title>Daily Papers</title></head>\n{body}"
    with pytest.raises(DumpError, match="looks like HTML"):
        parse(page)
    # A fragment with no doctype: many tags give it away.
    with pytest.raises(DumpError, match="looks like HTML"):
        parse(body)


def test_feed_xml_is_refused() -> None:
    feed = '<?xml version="1.0"?>\n<rss version="2.0"><channel><title>arXiv</title></channel></rss>'
    with pytest.raises(DumpError, match="feed"):
        parse(feed)


def test_plain_prose_is_refused() -> None:
    abstracts = [p.abstract for p in parse(sample("compact-2.txt")).papers[:8]]
    with pytest.raises(DumpError, match="not a digest dump"):
        parse("\n\n".join(abstracts) + "\n")
    wrapped = textwrap.fill(" ".join(abstracts), width=72)
    with pytest.raises(DumpError, match="not a digest dump"):
        parse(wrapped)
    letter = f"Dear colleague,\n\n{abstracts[0]}\n\n{abstracts[1]}\n\nBest regards,\nAlex\n"
    with pytest.raises(DumpError, match="not a digest dump"):
        parse(letter)


def test_header_without_papers() -> None:
    text = sample("spaced-1.txt")
    with pytest.raises(DumpError, match="no papers found") as caught:
        parse(text[: text.index("FRESA:")])
    assert str(caught.value).startswith("test.txt: ")


def test_blank_text_is_refused() -> None:
    with pytest.raises(DumpError, match="empty"):
        parse(" \n\n\t\n")


def test_bad_files_through_read_dump() -> None:
    raw = (SAMPLES / "spaced-1.txt").read_bytes()
    rng = random.Random(7)
    cases = {
        b"": "empty",
        b" \r\n\n\t": "empty",
        bytes(rng.randrange(256) for _ in range(4096)): "binary",
        raw[:3000] + b"\x00\x01\x02" + raw[3000:]: "binary",
    }
    for data, reason in cases.items():
        with pytest.raises(DumpError, match=reason):
            read_dump(data, source="bad.txt", taken=TAKEN)


def test_read_dump_reports_decoding_repairs_first() -> None:
    raw = (SAMPLES / "spaced-1.txt").read_bytes()
    # A stray byte in a UTF-8 file (its "é" and "·" are valid UTF-8), and a cut end.
    broken = raw.replace(b"We present a novel", b"We pre\xffsent a novel", 1)
    broken = broken[: broken.index(b"Programming-by-example") + 100]
    parsed = read_dump(broken, source="x.txt", taken=TAKEN)
    assert len(parsed.papers) == 63
    assert parsed.papers[0].abstract.startswith("We pre\ufffdsent a novel")
    assert len(parsed.warnings) == 2
    assert parsed.warnings[0].startswith("line 15: not valid UTF-8: 1 bad byte sequence(s)")
    assert "truncated" in parsed.warnings[1]


def test_stray_byte_in_an_ascii_file_reads_as_windows_1252() -> None:
    raw = (SAMPLES / "compact-1.txt").read_bytes()
    broken = raw.replace(b"an astonishing", b"an \x93astonishing\x94", 1)
    parsed = read_dump(broken, source="x.txt", taken=TAKEN)
    assert len(parsed.papers) == 302
    assert "an \u201castonishing\u201d emergent" in parsed.papers[0].abstract
    (warning,) = parsed.warnings
    assert warning.startswith("line 4: not UTF-8, read as Windows-1252")


def test_legacy_8bit_file_through_read_dump() -> None:
    data = sample("spaced-1.txt").encode("cp1252")
    parsed = read_dump(data, source="old.txt", taken=TAKEN)
    assert len(parsed.papers) == 63
    assert by_title(parsed, "Fréchet Cumulative").author_count == 3
    (warning,) = parsed.warnings
    assert "Windows-1252" in warning


# Speed


def test_parsing_is_linear_and_fast() -> None:
    text = sample("spaced-1.txt")
    header, body = text.split("\nNov 21\n", 1)
    big = header + "\nNov 21\n" + "\n\n".join([body] * 160)
    started = time.perf_counter()
    parsed = parse(big)
    elapsed = time.perf_counter() - started
    assert len(parsed.papers) == 63 * 160
    # About 20 MB: well under a second on any machine this runs on.
    assert elapsed < 3.0
