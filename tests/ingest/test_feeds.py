"""RSS and Atom parsing: arXiv's daily RSS, its Atom API, ordinary blogs, broken documents."""

import codecs
from datetime import date
from pathlib import Path

import pytest

from bot.errors import FeedError
from bot.ingest.feeds import looks_like_feed, parse_feed
from bot.ingest.parsed import ParsedPaper, ParsedSource

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"

ARXIV_RSS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">\n'
    "<channel><title>cs.LG updates on arXiv.org</title>"
    "<link>http://rss.arxiv.org/rss/cs.LG</link>"
    "<pubDate>Wed, 04 Sep 2024 00:00:00 -0400</pubDate>\n"
)


def parse_fixture(name: str) -> ParsedSource:
    return parse_feed((FEEDS / name).read_bytes(), source=name)


def by_id(source: ParsedSource) -> dict[str | None, ParsedPaper]:
    return {paper.arxiv_id: paper for paper in source.papers}


def arxiv_item(
    number: int,
    *,
    creator: str = "A. Author",
    announce: str = "new",
    link: str | None = None,
    title: str | None = None,
) -> str:
    arxiv_id = f"2409.{number:05d}"
    return (
        f"<item><title>{title if title is not None else f'Paper {number}'}</title>"
        f"<link>{link or f'https://arxiv.org/abs/{arxiv_id}'}</link>"
        f"<description>arXiv:{arxiv_id}v1 Announce Type: {announce} \n"
        f"Abstract: Abstract of paper {number}.</description>"
        f'<guid isPermaLink="false">oai:arXiv.org:{arxiv_id}v1</guid>'
        "<category>cs.LG</category>"
        "<pubDate>Wed, 04 Sep 2024 00:00:00 -0400</pubDate>"
        f"<arxiv:announce_type>{announce}</arxiv:announce_type>"
        f"<dc:creator>{creator}</dc:creator></item>\n"
    )


def arxiv_rss(*items: str) -> bytes:
    return (ARXIV_RSS_HEAD + "".join(items) + "</channel></rss>\n").encode()


# --- sniffing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>',
        b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>',
        b'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
        codecs.BOM_UTF8 + b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">',
        b'  \n\t<?xml version="1.0"?>\n<?xml-stylesheet href="/s.xsl"?>\n'
        b'<!-- generated -->\n<!DOCTYPE rss [<!ENTITY nbsp "&#160;">]>\n<rss>',
        b'<atom:feed xmlns:atom="http://www.w3.org/2005/Atom">',
        '<?xml version="1.0" encoding="utf-16"?><feed>'.encode("utf-16"),
    ],
    ids=["rss", "atom", "rdf", "bom", "prologue", "prefixed-atom", "utf16"],
)
def test_feed_roots_are_recognised(head: bytes) -> None:
    assert looks_like_feed(head)


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"   \n",
        b"<!DOCTYPE html>\n<html><head><title>Feed</title></head><body><feed></feed></body></html>",
        b'<html lang="en"><rss>',
        b'{"items": []}',
        b"rss feed coming soon",
        b"<?xml version='1.0'?><opml version='2.0'><body/></opml>",
        b"<rssfeed></rssfeed>",
        b"<!-- a comment that never ends " + b"x" * 10_000 + b"--><rss>",
    ],
    ids=["empty", "blank", "html", "html-root", "json", "text", "opml", "rssfeed", "long-preamble"],
)
def test_other_documents_are_not_feeds(head: bytes) -> None:
    assert not looks_like_feed(head)


def test_every_fixture_feed_sniffs_as_a_feed() -> None:
    for path in FEEDS.glob("*.xml"):
        assert looks_like_feed(path.read_bytes()), path.name


# --- arXiv daily RSS ---------------------------------------------------------


def test_arxiv_rss_kind_date_and_items() -> None:
    source = parse_fixture("arxiv_cs_LG.rss.xml")

    assert source.kind == "feed/arxiv-rss"
    assert source.page_date == date(2024, 9, 4)
    assert source.warnings == ()
    assert [paper.arxiv_id for paper in source.papers] == [
        "2409.01234",
        "2409.01302",
        "2409.00871",
        "2311.04567",
        "2402.09876",
        "cs/0112017",
    ]


@pytest.mark.parametrize(
    ("arxiv_id", "announce_type"),
    [
        ("2409.01234", "new"),
        ("2409.00871", "cross"),
        ("2311.04567", "replace"),
        ("2402.09876", "replace-cross"),
        # No <arxiv:announce_type> element: the description says it.
        ("cs/0112017", "replace"),
    ],
)
def test_arxiv_rss_announce_types(arxiv_id: str, announce_type: str) -> None:
    assert by_id(parse_fixture("arxiv_cs_LG.rss.xml"))[arxiv_id].announce_type == announce_type


def test_arxiv_rss_item_fields() -> None:
    paper = by_id(parse_fixture("arxiv_cs_LG.rss.xml"))["2409.01234"]

    assert paper.title == "Sparse Expert Routing for Long-Context Transformers"
    assert paper.abstract.startswith("Long-context transformers spend most")
    assert paper.abstract.endswith("https://example-lab.github.io/sparse-routing/.")
    assert paper.authors == ("Mara Lindqvist", "Tomás Ferreira", "Yuki Tanaka")
    assert paper.url == "https://arxiv.org/abs/2409.01234"
    assert paper.pdf_url == "https://arxiv.org/pdf/2409.01234"
    assert paper.categories == ("cs.LG", "cs.CL")
    assert paper.paper_date == date(2024, 9, 4)
    assert paper.code_urls == ("https://github.com/example-lab/sparse-routing",)
    assert paper.project_urls == ("https://example-lab.github.io/sparse-routing/",)


def test_arxiv_rss_abstract_drops_the_announce_preamble() -> None:
    for paper in parse_fixture("arxiv_cs_LG.rss.xml").papers:
        assert "Announce Type" not in paper.abstract
        assert not paper.abstract.startswith(("arXiv:", "Abstract:"))


def test_arxiv_rss_keeps_latex_that_looks_like_tags() -> None:
    paper = by_id(parse_fixture("arxiv_cs_LG.rss.xml"))["2409.01302"]

    assert paper.title == "Regret Bounds for $\\epsilon$-Greedy & UCB under Heavy-Tailed Rewards"
    assert "$0<\\delta\\leq 1$" in paper.abstract
    assert "when $x<y$ and $z>w$ the bound" in paper.abstract
    assert "\\mathcal{O}(K^{\\frac{\\delta}{1+\\delta}}" in paper.abstract
    assert paper.authors == ("Ilse Brandt", "Kofi Mensah")


def test_arxiv_rss_many_authors_in_one_creator() -> None:
    paper = by_id(parse_fixture("arxiv_cs_LG.rss.xml"))["2311.04567"]

    assert len(paper.authors) == 26
    assert paper.authors[0] == "Aiko Sato"
    assert paper.authors[-1] == "Zoltan Kiss"
    assert paper.pdf_url == "https://arxiv.org/pdf/2311.04567"


def test_arxiv_rss_old_style_id_and_name_suffix() -> None:
    paper = by_id(parse_fixture("arxiv_cs_LG.rss.xml"))["cs/0112017"]

    assert paper.url == "https://arxiv.org/abs/cs/0112017"
    assert paper.pdf_url == "https://arxiv.org/pdf/cs/0112017"
    assert paper.authors == ("Robert Quinn Jr.", "Anna Kowalski")


@pytest.mark.parametrize(
    ("creator", "authors"),
    [
        ("A. One, B. Two, C. Three", ("A. One", "B. Two", "C. Three")),
        ("A. One and B. Two", ("A. One", "B. Two")),
        ("A. One, B. Two, and C. Three", ("A. One", "B. Two", "C. Three")),
        ("A. One; B. Two", ("A. One", "B. Two")),
        ("A. One (MIT, USA), B. Two (ETH)", ("A. One", "B. Two")),
        ("John Smith, Jr., Jane Doe", ("John Smith Jr.", "Jane Doe")),
        ("Alexander Anderson, Sandra Andrews", ("Alexander Anderson", "Sandra Andrews")),
        ("The ATLAS Collaboration", ("The ATLAS Collaboration",)),
    ],
)
def test_arxiv_creator_is_split_into_names(creator: str, authors: tuple[str, ...]) -> None:
    source = parse_feed(arxiv_rss(arxiv_item(1, creator=creator)), source="test")

    assert source.papers[0].authors == authors


def test_announce_type_element_wins_over_the_description() -> None:
    item = arxiv_item(1, announce="new").replace(
        "<arxiv:announce_type>new</arxiv:announce_type>",
        "<arxiv:announce_type>replace-cross</arxiv:announce_type>",
    )
    paper = parse_feed(arxiv_rss(item), source="test").papers[0]

    assert paper.announce_type == "replace-cross"


def test_weekend_arxiv_feed_with_no_items_is_empty_not_an_error() -> None:
    source = parse_feed(arxiv_rss(), source="https://rss.arxiv.org/rss/cs.LG")

    assert source == ParsedSource(kind="feed/arxiv-rss", papers=(), page_date=date(2024, 9, 4))


def test_duplicate_arxiv_items_are_kept_once() -> None:
    data = arxiv_rss(
        arxiv_item(1),
        arxiv_item(2),
        arxiv_item(1, title="Paper 1 again"),
        # The same paper behind another link is still the same paper.
        arxiv_item(2, link="https://arxiv.org/pdf/2409.00002v1"),
    )
    source = parse_feed(data, source="test")

    assert [paper.title for paper in source.papers] == ["Paper 1", "Paper 2"]
    assert source.warnings == ("dropped 2 duplicate item(s)",)
    assert source.dropped == 0


def test_items_without_a_title_are_dropped_with_a_warning() -> None:
    data = arxiv_rss(arxiv_item(1), arxiv_item(2, title=""), arxiv_item(3, title="   "))
    source = parse_feed(data, source="test")

    assert [paper.arxiv_id for paper in source.papers] == ["2409.00001"]
    assert source.warnings == ("dropped 2 item(s) without a title",)
    assert source.dropped == 2


# --- arXiv Atom API ----------------------------------------------------------


def test_arxiv_api_kind_and_ids_without_versions() -> None:
    source = parse_fixture("arxiv_api_query.atom.xml")

    assert source.kind == "feed/arxiv-atom"
    assert source.warnings == ()
    assert [paper.arxiv_id for paper in source.papers] == [
        "2409.01234",
        "2408.11111",
        "hep-th/9901001",
        "2407.00042",
    ]


def test_arxiv_api_entry_fields() -> None:
    paper = by_id(parse_fixture("arxiv_api_query.atom.xml"))["2409.01234"]

    assert paper.title == "Sparse Expert Routing for Long-Context Transformers"
    assert paper.abstract == (
        "Long-context transformers spend most of their compute on tokens that barely affect "
        "the output. We propose a sparse expert router that selects, per layer, the few "
        "experts worth running. Code: https://github.com/example-lab/sparse-routing."
    )
    assert paper.authors == ("Mara Lindqvist", "Tomás Ferreira", "Yuki Tanaka")
    assert paper.url == "http://arxiv.org/abs/2409.01234v2"
    assert paper.pdf_url == "http://arxiv.org/pdf/2409.01234v2"
    # The first submission's date, not this version's.
    assert paper.paper_date == date(2024, 9, 2)
    assert paper.code_urls == ("https://github.com/example-lab/sparse-routing",)
    assert paper.announce_type is None


@pytest.mark.parametrize(
    ("arxiv_id", "categories"),
    [
        ("2409.01234", ("cs.LG", "cs.CL")),
        ("2408.11111", ("q-bio.BM", "cs.LG", "I.2.6")),
        ("hep-th/9901001", ("hep-th",)),
        ("2407.00042", ("stat.ML", "cs.LG")),
    ],
)
def test_arxiv_api_primary_category_comes_first(arxiv_id: str, categories: tuple[str, ...]) -> None:
    assert by_id(parse_fixture("arxiv_api_query.atom.xml"))[arxiv_id].categories == categories


def test_arxiv_api_pdf_link_is_the_one_titled_pdf_not_the_doi() -> None:
    papers = by_id(parse_fixture("arxiv_api_query.atom.xml"))

    assert papers["2408.11111"].pdf_url == "http://arxiv.org/pdf/2408.11111v1"
    assert papers["hep-th/9901001"].pdf_url == "http://arxiv.org/pdf/hep-th/9901001v3"


# --- ordinary feeds ----------------------------------------------------------


def test_blog_rss_items_are_papers_with_html_cleaned() -> None:
    source = parse_fixture("lab_blog.rss.xml")

    assert source.kind == "feed/rss"
    assert source.page_date == date(2024, 9, 9)
    first = source.papers[0]
    assert first.title == "Announcing FastTok: a byte-level tokenizer in Rust"
    assert first.abstract == (
        "We release FastTok \u2014 a tokenizer that is 8\u00d7 faster than our old one. "
        "The code is on GitHub; docs live at fasttok.example.org."
    )
    assert "track" not in first.abstract
    assert first.authors == ("Jane Doe",)
    assert first.categories == ("tools", "nlp")
    assert first.arxiv_id is None
    assert first.pdf_url is None


def test_blog_rss_links_in_anchors_are_found() -> None:
    first = parse_fixture("lab_blog.rss.xml").papers[0]

    assert first.code_urls == ("https://github.com/example-lab/fasttok",)
    assert first.project_urls == ("https://fasttok.example.org/docs?lang=en&v=2",)


def test_blog_rss_item_linking_arxiv_gets_its_id() -> None:
    paper = parse_fixture("lab_blog.rss.xml").papers[1]

    assert paper.arxiv_id == "2409.01234"
    assert paper.url == "https://arxiv.org/abs/2409.01234v1"
    assert paper.pdf_url == "https://arxiv.org/pdf/2409.01234"
    assert paper.abstract == "Our take on routing: it works when $k < 4$. R&D notes follow."
    assert paper.authors == ("John Smith",)
    # 23:30 at -07:00 is the 8th where it was written, though the 9th in UTC.
    assert paper.paper_date == date(2024, 9, 8)


def test_blog_rss_drops_untitled_and_repeated_items() -> None:
    source = parse_fixture("lab_blog.rss.xml")

    assert [paper.url for paper in source.papers] == [
        "https://blog.example.org/2024/09/fasttok",
        "https://arxiv.org/abs/2409.01234v1",
        "https://blog.example.org/2024/09/reading-group-36",
    ]
    assert source.warnings == (
        "dropped 1 item(s) without a title",
        "dropped 1 duplicate item(s)",
    )
    assert source.dropped == 1
    # An author given only as an address has no name to keep.
    assert source.papers[2].authors == ()


def test_plain_atom_feed() -> None:
    source = parse_fixture("research_notes.atom.xml")

    assert source.kind == "feed/atom"
    assert source.page_date == date(2024, 9, 6)
    assert source.warnings == ()
    diffusion, calibration, inequalities = source.papers
    assert diffusion.title == "Diffusion without tears & fears"
    assert diffusion.abstract == (
        "A walk-through of score-based diffusion. Companion code: gitlab."
    )
    assert diffusion.code_urls == ("https://gitlab.com/notes/diffusion-demo",)
    assert diffusion.authors == ("Ada Byron", "Alan Church")
    assert diffusion.categories == ("diffusion", "tutorial")
    assert diffusion.paper_date == date(2024, 9, 5)
    assert diffusion.url == "https://notes.example.net/posts/diffusion"

    assert calibration.abstract == "Why calibration matters. More soon."
    assert calibration.arxiv_id == "2408.11111"
    # No <published>: the <updated> date stands in.
    assert calibration.paper_date == date(2024, 9, 2)

    # Atom text content is not markup, whatever it looks like.
    assert inequalities.abstract == ("When a < b and c > d, then a - c < b - d. Not <b>bold</b>.")


def test_rdf_rss_1_0_feed() -> None:
    data = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://journal.example.org/rss">
    <title>Journal of Examples</title><link>https://journal.example.org/</link>
    <description>Latest articles</description>
  </channel>
  <item rdf:about="https://journal.example.org/a/1">
    <title>An article</title><link>https://journal.example.org/a/1</link>
    <description>About things.</description>
    <dc:creator>Kim Lee</dc:creator><dc:date>2024-09-03T10:00:00+09:00</dc:date>
  </item>
</rdf:RDF>"""
    source = parse_feed(data, source="test")

    assert source.kind == "feed/rss"
    assert source.papers == (
        ParsedPaper(
            title="An article",
            abstract="About things.",
            authors=("Kim Lee",),
            paper_date=date(2024, 9, 3),
            url="https://journal.example.org/a/1",
            # The item's rdf:about, within the feed its own link names.
            entry_key="https://journal.example.org/ https://journal.example.org/a/1",
        ),
    )


# --- malformed and broken documents -------------------------------------------


def test_malformed_feed_keeps_what_could_be_read() -> None:
    source = parse_fixture("malformed_recoverable.rss.xml")

    assert source.kind == "feed/rss"
    assert [paper.title for paper in source.papers] == [
        "Seminar: robust optimisation",
        "Tips & Tricks for training GANs",
        "New preprint on causal discovery",
    ]
    (warning,) = source.warnings
    assert warning.startswith("malformed feed (not well-formed (invalid token) at line 14")
    assert source.papers[2].arxiv_id == "2409.06666"
    assert source.papers[2].code_urls == ("https://github.com/lab-example/causal",)


def test_a_feed_cut_inside_an_item_drops_it_and_counts_the_loss() -> None:
    whole = arxiv_rss(arxiv_item(1), arxiv_item(2), arxiv_item(3))
    cut = whole[: whole.index(b"Abstract of paper 3") + 11]  # inside the third description
    source = parse_feed(cut, source="cut.xml")
    assert [paper.title for paper in source.papers] == ["Paper 1", "Paper 2"]
    assert source.dropped == 1
    (warning,) = source.warnings
    assert warning.startswith(
        "feed cut short: it ends inside an item, which was dropped; any items after it are lost"
        " (XML error: no element found at line"
    )


def test_a_feed_cut_between_items_counts_a_loss() -> None:
    whole = arxiv_rss(arxiv_item(1), arxiv_item(2), arxiv_item(3))
    cut = whole[: whole.index(b"</item>", whole.index(b"Paper 2")) + len(b"</item>\n")]
    source = parse_feed(cut, source="cut.xml")
    assert [paper.title for paper in source.papers] == ["Paper 1", "Paper 2"]
    assert source.dropped == 1
    (warning,) = source.warnings
    assert warning.startswith("feed cut short: it ends after an item, before the feed is closed")


def test_a_whole_feed_followed_by_a_comment_is_not_cut_short() -> None:
    malformed = (FEEDS / "malformed_recoverable.rss.xml").read_bytes() + b"<!-- 0.2 s -->\n"
    source = parse_feed(malformed, source="lab.xml")
    assert len(source.papers) == 3 and source.dropped == 0
    assert source.warnings[0].startswith("malformed feed (")


def test_broken_feed_with_nothing_readable_raises() -> None:
    with pytest.raises(FeedError) as caught:
        parse_fixture("broken.rss.xml")

    assert caught.value.source == "broken.rss.xml"
    assert caught.value.reason.startswith("broken feed with no readable items (")
    assert "line 7" in caught.value.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty document, not a feed"),
        (b" \n\t", "empty document, not a feed"),
        (
            b"<!DOCTYPE html>\n<html><head><title>Not found</title></head><body></body></html>",
            "an HTML page, not an RSS or Atom feed",
        ),
        (
            b'<?xml version="1.0"?><opml version="2.0"><body/></opml>',
            "not an RSS or Atom feed (no <rss>, <feed> or <rdf:RDF> root)",
        ),
        (b'{"items": []}', "not an RSS or Atom feed (not well-formed XML: "),
    ],
    ids=["empty", "blank", "html", "opml", "json"],
)
def test_documents_that_are_not_feeds_raise(data: bytes, reason: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(data, source="https://example.org/feed")

    assert caught.value.reason.startswith(reason)
    assert str(caught.value).startswith("https://example.org/feed: ")


def test_bytes_naming_a_local_file_are_not_opened(tmp_path: Path) -> None:
    secret = tmp_path / "feed.xml"
    secret.write_bytes(arxiv_rss(arxiv_item(1)))

    with pytest.raises(FeedError):
        parse_feed(str(secret).encode(), source="test")


def test_wrong_encoding_declaration_is_repaired_quietly() -> None:
    data = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Caf\xe9 \xe9t\xe9</title><link>https://example.org/1</link></item>"
        "</channel></rss>"
    ).encode("latin-1")
    source = parse_feed(data, source="test")

    assert [paper.title for paper in source.papers] == ["Café été"]
    assert source.warnings == ()
