"""Rendering digests: LaTeX clean-up, shortening, escaping, templates, overrides, golden files."""

import dataclasses
import functools
import random
import re
from datetime import date
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from bot.digest import render
from bot.digest.model import (
    Digest,
    DigestEntry,
    DigestPaper,
    DigestSection,
    FeedbackLinks,
    MatchReason,
)
from bot.digest.render import (
    TEMPLATE_NAMES,
    DigestRenderer,
    EntryView,
    author_line,
    make_paper_view,
    make_reason_view,
    markdown_escape,
    match_line,
    one_line,
    readable_latex,
    reason_line,
    shorten,
)
from tests.golden import assert_golden

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "digest"

LATEX_PAPER = DigestPaper(
    paper_id=1,
    title="Fr\\'echet <Distances> & {\\sc Graph} Kernels",
    abstract=(
        "We revisit the Fr\\'echet distance between \\emph{graph} embeddings and show that "
        "{\\sc GraphFD} with $O(n \\log n)$ cost and $k < 10$ anchors matches exact "
        "computation. Our \\method is \\textbf{robust}: on 12 benchmarks it reduces error "
        'by 40\\% relative to G\\"odel-style baselines while running in a fraction of '
        "the time, and it scales to graphs with millions of nodes on a single GPU without "
        "any approximation of the underlying optimal transport problem."
    ),
    authors=("Ana Lima", "Bo Chen", "Chloé Martin", "Dev Patel", "Eve Park"),
    paper_date=date(2024, 11, 20),
    upvotes=42,
    arxiv_id="2411.01234",
)
CODE_PAPER = DigestPaper(
    paper_id=2,
    title="LoRA Adapters at Scale",
    abstract="Low-rank adapters (LoRA) for thousands of tasks, served from one base model.",
    author_count=7,
    organization="Example Lab",
    paper_date=date(2024, 11, 21),
    upvotes=15,
    code_urls=("https://github.com/example/lora-scale",),
    project_urls=("https://example.org/lora-scale",),
    url="https://papers.example.org/lora-scale",
)
PLAIN_PAPER = DigestPaper(
    paper_id=3,
    title="Message Passing\nRevisited",
    abstract="Graph neural networks, message passing and what they cannot count.",
    authors=("Ana Lima", "Bo Chen"),
    arxiv_id="2411.05678",
    pdf_url="https://arxiv.org/pdf/2411.05678v2",
)

HF_PAPER = DigestPaper(
    paper_id=4,
    title="Mixture of LoRA Experts",
    abstract=(
        "We route tokens to a mixture of low-rank experts. It matches full fine-tuning. "
        "Code at MoLE{https://github.com/example/mole}."
    ),
    authors=("Ana Lima", "Bo Chen", "Chloé Martin", "Dev Patel", "Eve Park", "Fay Wong"),
    organization="Example Lab",
    paper_date=date(2024, 11, 21),
    upvotes=1204,
    comments=3,
    github_stars=2500,
    ai_summary="Routing tokens among low-rank experts matches full fine-tuning at a fraction of its cost.",
    code_urls=("https://github.com/example/mole}",),
    project_urls=("https://example.org/mole",),
    arxiv_id="2411.09999",
    url="https://huggingface.co/papers/2411.09999",
    hf_url="https://huggingface.co/papers/2411.09999",
    pdf_url="https://arxiv.org/pdf/2411.09999",
)
DUMP_PAPER = DigestPaper(
    paper_id=5,
    title="Low-Rank Adapters & [Friends]: A Survey",
    abstract="A survey of low-rank adapters.",
    author_count=6,
    upvotes=0,
)


def _reason(topic: str, keyword: str, field: str, snippet: str, matched: str) -> MatchReason:
    start = snippet.index(matched)
    return MatchReason(topic, keyword, field, snippet, (start, start + len(matched)), 1.0)


def _feedback(paper: DigestPaper) -> FeedbackLinks:
    """Stand-ins for the signed links delivery puts under an entry (`bot.tokens`)."""
    base = "https://papers.example.org/feedback"
    return FeedbackLinks(f"{base}/more/t{paper.paper_id}", f"{base}/fewer/t{paper.paper_id}")


def _with_feedback(digest: Digest, *, but_last: bool = False) -> Digest:
    """`digest` with feedback links on every entry (but the last one, when told)."""
    last = digest.entries[-1] if but_last else None
    return dataclasses.replace(digest, sections=tuple(
        dataclasses.replace(section, entries=tuple(
            e if e is last else dataclasses.replace(e, feedback=_feedback(e.paper))
            for e in section.entries
        ))
        for section in digest.sections
    ))  # fmt: skip


# The last entry has no feedback links: the layout of both kinds is in the golden files.
SAMPLE = _with_feedback(Digest(
    subscriber_id=7,
    email="ana@lab.org",
    day=date(2024, 11, 22),
    sections=(
        DigestSection(
            "graphs",
            (
                DigestEntry(
                    LATEX_PAPER,
                    _reason(
                        "graphs",
                        "graph kernel",
                        "title",
                        "Fr\\'echet <Distances> & {\\sc Graph} Kernels",
                        "{\\sc Graph} Kernels",
                    ),
                    2.0,
                ),
                DigestEntry(
                    PLAIN_PAPER,
                    _reason(
                        "graphs",
                        "graph neural network",
                        "abstract",
                        "Graph neural networks, message passing",
                        "Graph neural networks",
                    ),
                    1.0,
                ),
            ),
        ),
        DigestSection(
            "adapters & <b>",
            (
                DigestEntry(
                    CODE_PAPER,
                    _reason(
                        "adapters & <b>",
                        "LoRA",
                        "title",
                        "LoRA Adapters at Scale",
                        "LoRA",
                    ),
                    2.0,
                ),
                DigestEntry(
                    HF_PAPER,
                    _reason("adapters & <b>", "LoRA", "title", HF_PAPER.title, "LoRA"),
                    1.5,
                ),
                DigestEntry(
                    DUMP_PAPER,
                    _reason(
                        "adapters & <b>",
                        "low-rank adapter",
                        "title",
                        DUMP_PAPER.title,
                        "Low-Rank Adapters",
                    ),
                    1.0,
                ),
            ),
        ),
    ),
    more=4,
    unsubscribe_url="https://papers.example.org/u/abc?t=1&s=2",
    manage_url="https://papers.example.org/m/abc",
), but_last=True)  # fmt: skip


def _one_topic(*entries: DigestEntry, more: int = 0) -> Digest:
    return Digest(7, "ana@lab.org", date(2024, 11, 22), (DigestSection("only", entries),), more)


@pytest.fixture(scope="module")
def renderer() -> DigestRenderer:
    return DigestRenderer()


# --- Pure helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latex", "plain"),
    [
        ("{\\sc Name} works", "Name works"),
        ("\\emph{x}, \\textit{y}, \\textbf{z}", "x, y, z"),
        ("\\textbf{\\emph{both}}", "both"),
        ("Fr\\'echet", "Fréchet"),
        ("Fr\\'{e}chet", "Fréchet"),
        ("{\\'E}cole", "École"),
        ('G\\"odel and Erd\\H{o}s', "Gödel and Erdős"),
        ("\\c{c}a, \\v{s}, \\`a, \\^o, \\~n", "ça, š, à, ô, ñ"),
        ('na\\"{\\i}ve', "naïve"),
        ("Gro\\ss{}", "Groß"),
        ("our \\method achieves", "our method achieves"),
        ("\\emph{caf\\'e} au lait", "café au lait"),
        ("50\\% \\& more", "50% & more"),
        ("{BERT} models", "BERT models"),
        ("a set \\{x\\}", "a set {x}"),
        ("pages 1--2 --- done", "pages 1\u20132 \u2014 done"),
        ("plain text stays", "plain text stays"),
    ],
)
def test_readable_latex_turns_text_commands_into_text(latex: str, plain: str) -> None:
    assert readable_latex(latex) == plain


@pytest.mark.parametrize(
    "math",
    ["$O(n \\log n)$", "$$\\sum_i x_i$$", "\\(\\alpha < \\beta\\)", "$\\emph{x}$"],
)
def test_readable_latex_keeps_math_as_written(math: str) -> None:
    assert readable_latex(f"cost \\emph{{low}}: {math} ok") == f"cost low: {math} ok"


def test_readable_latex_sets_a_grouped_address_off_from_the_word_before_it() -> None:
    assert readable_latex("MSRNet{https://github.com/x/MSRNet}.") == (
        "MSRNet https://github.com/x/MSRNet."
    )
    assert readable_latex("SequeL\\url{https://github.com/nik-dim/sequel}") == (
        "SequeL https://github.com/nik-dim/sequel"
    )
    assert readable_latex("{BERT}-style x{y}") == "BERT-style xy"


def test_readable_latex_escaped_dollar_is_not_math() -> None:
    assert readable_latex("costs \\$5 and \\emph{x} \\$6") == "costs $5 and x $6"


def test_one_line_collapses_every_kind_of_whitespace_and_leaves_single_spaced_text_alone() -> None:
    # Random texts of letters and every sort of whitespace, against the plain rule.
    rng = random.Random(7)
    alphabet = ["a", "é", "-", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2009", "\u2028", "\x0b"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(8)))
        assert one_line(text) == re.sub(r"\s+", " ", text).strip(), repr(text)
    kept = "Graph Neural Networks, revisited"
    assert one_line(kept) is kept


def test_shorten_cuts_at_a_word_boundary() -> None:
    text = "word " * 100
    short = shorten(text.strip(), 300)
    assert len(short) <= 300
    assert short.endswith("word…")
    assert shorten("short text", 300) == "short text"
    assert shorten("x" * 400, 300) == "x" * 299 + "…"


def test_author_line() -> None:
    assert author_line(LATEX_PAPER) == "Ana Lima, Bo Chen, Chloé Martin, Dev Patel, Eve Park"
    assert author_line(HF_PAPER) == (
        "Ana Lima, Bo Chen, Chloé Martin, Dev Patel, Eve Park et al. · Example Lab"
    )
    assert author_line(PLAIN_PAPER) == "Ana Lima, Bo Chen"
    assert author_line(CODE_PAPER) == "7 authors · Example Lab"
    assert author_line(DigestPaper(9, "t", "a", author_count=1)) == "1 author"
    assert author_line(DigestPaper(9, "t", "a")) == ""


def test_markdown_escape_keeps_math() -> None:
    assert markdown_escape("a_b [x](y) <b> $x_i$") == "a\\_b \\[x\\](y) \\<b\\> $x_i$"


def test_paper_view_links() -> None:
    view = make_paper_view(LATEX_PAPER)
    assert view.link == "https://arxiv.org/abs/2411.01234"
    assert view.pdf_url == "https://arxiv.org/pdf/2411.01234"
    assert make_paper_view(PLAIN_PAPER).pdf_url == "https://arxiv.org/pdf/2411.05678v2"
    code = make_paper_view(CODE_PAPER)
    assert code.link == "https://papers.example.org/lora-scale"
    assert code.arxiv_url is None and code.pdf_url is None
    assert [label for label, _ in code.links] == ["code", "project"]
    hostile = make_paper_view(
        DigestPaper(
            9,
            "t",
            "a",
            url="javascript:x",
            hf_url="javascript:alert(1)",
            pdf_url=" JavaScript:alert(2)",
            code_urls=("data:x", "javascript://github.com/%0aalert(3)"),
            project_urls=("vbscript:x",),
        )
    )
    assert hostile.links == () and hostile.pdf_url is None and hostile.hf_url is None
    assert hostile.link is not None and hostile.link.startswith("https://arxiv.org/search/?")


def test_hugging_face_paper_links_its_page_with_pdf_arxiv_and_stars() -> None:
    view = make_paper_view(HF_PAPER)
    assert view.link == "https://huggingface.co/papers/2411.09999" and not view.link_is_search
    assert view.pdf_url == "https://arxiv.org/pdf/2411.09999"
    assert view.links == (
        ("GitHub, 2,500 stars", "https://github.com/example/mole"),
        ("project", "https://example.org/mole"),
        ("arXiv", "https://arxiv.org/abs/2411.09999"),
        ("PDF", "https://arxiv.org/pdf/2411.09999"),
    )
    assert view.meta == (
        "Ana Lima, Bo Chen, Chloé Martin, Dev Patel, Eve Park et al. · Example Lab",
        "2024-11-21",
        "1,204 upvotes",
        "3 comments",
    )


def test_paper_known_only_by_its_title_links_to_a_title_search() -> None:
    view = make_paper_view(DUMP_PAPER)
    assert view.link_is_search
    assert view.link == (
        "https://arxiv.org/search/?query=%22Low-Rank+Adapters+%26+%5BFriends%5D%3A+A+Survey%22"
        "&searchtype=title"
    )
    assert view.meta == ("6 authors", "0 upvotes")
    assert view.pdf_url is None and view.links == ()


def test_links_stored_with_latex_residue_show_clean() -> None:
    # Stored by an ingest before links were cleaned: the digest cleans them the same way.
    stored = DigestPaper(
        9,
        "t",
        "a",
        code_urls=(
            "https://github.com/AlibabaResearch/AdvancedLiterateMachinery{AdvancedLiterateMachinery",
            "https://github.com/AlibabaResearch/AdvancedLiterateMachinery",
            "https://github.com/x/MSRNet}",
        ),
        project_urls=("https://msr.org/\\_site",),
    )
    view = make_paper_view(stored)
    assert view.code_urls == (
        "https://github.com/AlibabaResearch/AdvancedLiterateMachinery",
        "https://github.com/x/MSRNet",
    )
    assert view.project_urls == ("https://msr.org/_site",)


# --- Rendering --------------------------------------------------------------------------


def test_subject_is_one_line_and_capped(renderer: DigestRenderer) -> None:
    paper = DigestPaper(1, "Evil\r\nBcc: x@y.org\n\n" + "long " * 100, "abstract")
    digest = _one_topic(DigestEntry(paper, _reason("only", "evil", "title", "Evil", "Evil"), 1.0))
    subject = renderer.subject(digest)
    assert "\n" not in subject and "\r" not in subject
    assert subject.startswith("Paper digest: Evil Bcc: x@y.org long")
    assert len(subject) <= 200 and subject.endswith("…")
    assert renderer.subject(SAMPLE) == (
        "Paper digest: 5 new papers: Fréchet <Distances> & Graph Kernels, and more"
    )


def test_html_escapes_everything_from_outside(renderer: DigestRenderer) -> None:
    paper = DigestPaper(
        1,
        "<script>alert(1)</script> & Co",
        "An abstract with <img src=x onerror=alert(1)> & more",
        authors=("<b>Mallory</b>",),
        code_urls=("https://github.com/x/y?a=1&b=2",),
    )
    reason = MatchReason("<i>topic</i>", "<kw>", "abstract", "a <img> & b", (2, 7), 1.0)
    html = renderer.html(_one_topic(DigestEntry(paper, reason, 1.0)))
    assert "<script" not in html and "<img" not in html and "<b>Mallory" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in html
    assert "<mark" in html and "&lt;img&gt;</mark>" in html
    assert "<strong>&lt;kw&gt;</strong>" in html
    assert 'href="https://github.com/x/y?a=1&amp;b=2"' in html


def test_no_format_links_a_non_web_address(renderer: DigestRenderer) -> None:
    paper = DigestPaper(
        1,
        "Hostile links",
        "Code at {javascript:alert(1)} and data:text/html,x.",
        url="javascript:alert(2)",
        hf_url="javascript:alert(3)",
        pdf_url="data:application/pdf,x",
        code_urls=("javascript:alert(4)",),
        project_urls=("vbscript:alert(5)",),
    )
    reason = MatchReason("t", "hostile", "title", "Hostile links", (0, 7), 1.0)
    digest = _one_topic(DigestEntry(paper, reason, 1.0))
    html, md, text = renderer.html(digest), renderer.markdown(digest), renderer.text(digest)
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith("https://arxiv.org/search/?") for h in hrefs)
    targets = re.findall(r"\]\(([^)]*)\)", md)
    assert targets and all(t.startswith("https://arxiv.org/search/?") for t in targets)
    for rendered in (html, md, text):  # the abstract's text is shown as text, never linked
        assert not any(f"alert({n})" in rendered for n in range(2, 6))
        assert "data:application" not in rendered


def test_html_is_inline_styled_and_self_contained(renderer: DigestRenderer) -> None:
    html = renderer.html(SAMPLE)
    assert "<style" not in html and "<script" not in html and "<img" not in html
    assert "<link" not in html and "url(" not in html
    assert "max-width:600px" in html
    # Every link is a web link the digest knows; nothing else is fetched.
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    _check_well_formed(html)


class _TagChecker(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def _check_well_formed(html: str) -> None:
    checker = _TagChecker()
    checker.feed(html)
    checker.close()
    assert checker.stack == []


def test_email_shows_a_summary_line_and_markdown_the_abstract_folded(
    renderer: DigestRenderer,
) -> None:
    view = make_paper_view(LATEX_PAPER)
    first_sentence = view.abstract[: view.abstract.index(". ") + 1]
    assert view.summary == first_sentence
    text, html, md = renderer.text(SAMPLE), renderer.html(SAMPLE), renderer.markdown(SAMPLE)
    assert view.abstract not in text.replace("\n   ", " ")
    assert first_sentence in text.replace("\n   ", " ")
    assert str(view.abstract_html) not in html and str(view.summary_html) in html
    # Markdown: the summary line, then the whole abstract in a collapsed block.
    folded = (
        f"<details><summary>Abstract</summary>\n\n{markdown_escape(view.abstract)}\n\n</details>"
    )
    assert folded in md


def test_ai_summary_is_marked_as_machine_written(renderer: DigestRenderer) -> None:
    view = make_paper_view(HF_PAPER)
    assert view.summary_is_ai and view.summary == HF_PAPER.ai_summary
    assert "AI summary: Routing tokens" in renderer.text(SAMPLE)
    assert '<em style="color:#5f6368;">AI summary:</em> Routing tokens' in renderer.html(SAMPLE)
    assert "*AI summary:* Routing tokens" in renderer.markdown(SAMPLE)


def test_opening_cuts_long_sentences_on_a_word() -> None:
    assert render.opening("One. Two. Three.") == "One. Two. Three."
    long = "word " * 100
    cut = render.opening(long)
    assert len(cut) <= render.SUMMARY_MAX and cut.endswith("word…")


def test_highlights_in_each_format(renderer: DigestRenderer) -> None:
    assert "<mark" in renderer.html(SAMPLE)
    assert "**Graph neural networks**" in renderer.markdown(SAMPLE)
    assert "*Graph neural networks*" in renderer.text(SAMPLE)
    # The snippet's LaTeX is cleaned on both sides of the highlight.
    assert "**Graph Kernels**" in renderer.markdown(SAMPLE)


def test_topics_get_headings_only_when_several(renderer: DigestRenderer) -> None:
    md = renderer.markdown(SAMPLE)
    assert "## graphs" in md and "## adapters & \\<b\\>" in md
    assert "== graphs ==" in renderer.text(SAMPLE)
    one = _one_topic(SAMPLE.sections[0].entries[0])
    assert "only" not in renderer.markdown(one)
    assert "only" not in renderer.text(one)
    assert "only" not in renderer.html(one)


def test_footer(renderer: DigestRenderer) -> None:
    for body in (renderer.text(SAMPLE), renderer.html(SAMPLE), renderer.markdown(SAMPLE)):
        assert "4 more matching papers will come in the next digest" in body
        assert "https://papers.example.org/m/abc" in body
    assert "Unsubscribe: https://papers.example.org/u/abc?t=1&s=2" in renderer.text(SAMPLE)
    bare = _one_topic(SAMPLE.sections[0].entries[0])
    for body in (renderer.text(bare), renderer.html(bare), renderer.markdown(bare)):
        assert "more matching" not in body and "nsubscribe" not in body


def test_each_entry_is_followed_by_its_own_feedback_links_in_every_format(
    renderer: DigestRenderer,
) -> None:
    titles = [make_paper_view(e.paper).title for e in SAMPLE.entries]
    for body in (renderer.text(SAMPLE), renderer.html(SAMPLE), renderer.markdown(SAMPLE)):
        plain = body.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        starts = [plain.index(markdown_escape(t) if body.startswith("#") else t) for t in titles]
        for entry, start, end in zip(
            SAMPLE.entries, starts, [*starts[1:], len(plain)], strict=True
        ):
            shown = plain[start:end]
            if entry.feedback is None:
                assert "/feedback/" not in shown
                continue
            assert (
                shown.count(entry.feedback.more_url) == shown.count(entry.feedback.fewer_url) == 1
            )
            assert "More like this" in shown and "Fewer like this" in shown
    html = renderer.html(SAMPLE)
    assert '<a href="https://papers.example.org/feedback/more/t1"' in html
    assert "[More like this](https://papers.example.org/feedback/more/t1)" in renderer.markdown(
        SAMPLE
    )
    assert "   More like this: https://papers.example.org/feedback/more/t1\n" in renderer.text(
        SAMPLE
    )


def test_a_feedback_link_that_is_no_web_address_is_left_out(renderer: DigestRenderer) -> None:
    entry = dataclasses.replace(
        SAMPLE.entries[0], feedback=FeedbackLinks("javascript:alert(1)", "https://ok.org/f")
    )
    digest = _one_topic(entry)
    for body in (renderer.text(digest), renderer.html(digest), renderer.markdown(digest)):
        assert "alert" not in body and "https://ok.org/f" not in body
        assert "like this" not in body


def test_readers_get_their_own_feedback_links_and_share_the_rendered_entries() -> None:
    renderer = DigestRenderer()
    ana = _with_feedback(_one_topic(*SAMPLE.entries))
    bo = dataclasses.replace(ana, sections=tuple(
        dataclasses.replace(section, entries=tuple(
            dataclasses.replace(e, feedback=FeedbackLinks(f"https://b.org/m{i}", f"https://b.org/f{i}"))
            for i, e in enumerate(section.entries)
        ))
        for section in ana.sections
    ))  # fmt: skip
    forms_made = []
    for digest, other in ((ana, bo), (bo, ana)):
        for body in (renderer.text(digest), renderer.html(digest), renderer.markdown(digest)):
            for entry in digest.entries:
                assert entry.feedback is not None and entry.feedback.more_url in body
            for entry in other.entries:
                assert entry.feedback is not None and entry.feedback.more_url not in body
        forms_made.append(len(renderer._forms))
    # The second reader's entries are filled in from the forms the first one's made;
    # none is rendered whole.
    assert 3 <= forms_made[0] == forms_made[1] <= 3 * len(SAMPLE.entries)
    assert isinstance(renderer.entry_pieces, functools._lru_cache_wrapper)
    assert renderer.entry_pieces.cache_info().misses == 0


def test_each_paper_is_prepared_once_per_renderer() -> None:
    renderer = DigestRenderer()
    for _ in range(50):
        renderer.html(SAMPLE)
        renderer.text(SAMPLE)
        renderer.markdown(SAMPLE)
    # Typed as a plain callable in the renderer; it is an lru_cache, whose counts say it all.
    assert isinstance(renderer.paper_view, functools._lru_cache_wrapper)
    info = renderer.paper_view.cache_info()
    assert info.misses == len(SAMPLE.entries)


def test_a_paper_matched_for_different_reasons_is_drawn_once_per_format() -> None:
    renderer = DigestRenderer()
    for keyword in ("graph kernels", "Graph kernel", "graph-kernels"):
        reason = MatchReason("t", keyword, "title", "Graph Kernels", (0, 13), 0.9)
        digest = _one_topic(DigestEntry(PLAIN_PAPER, reason, 1.0))
        text, html, markdown = (renderer.text(digest), renderer.html(digest),
                                renderer.markdown(digest))  # fmt: skip
        assert f'Matched "{keyword}" (close match)' in text
        assert f"Matched <strong>{keyword}</strong>" in html
        assert f"Matched **{keyword}**" in markdown
        assert "Message Passing Revisited" in text and "Message Passing Revisited" in markdown
    # Three entries in each format, of one shape: one form and one paper part in each.
    assert isinstance(renderer.paper, functools._lru_cache_wrapper)
    assert len(renderer._forms) == 3
    assert renderer.paper.cache_info().misses == 3


# Reasons of every kind, and texts a form must print exactly as Jinja does: escaped
# for HTML and Markdown, empty, with math, with what looks like a mark of a form.
_REASONS = [
    MatchReason("graphs", "graph kernels", "title", "Graph Kernels", (0, 13), 1.0),
    MatchReason("graphs", "graph kernal", "abstract", "on graph kernels, and", (3, 16), 0.91),
    MatchReason("t", "<b>&'\"", "title", "a <b> & 'x' \"y\" b", (2, 5), 1.0),
    MatchReason("*bold* [x](y)", "_under_ `code`", "abstract", "a *b* _c_ $x_1$ d", (2, 5), 1.0),
    MatchReason("t", "x\x00 0\x00y", "title", "x\x01<*1aA*>\x01y \x000\x00", (0, 3), 1.0),
    MatchReason("people", "Y. LeCun", "authors", "Yann LeCun", (0, 10), 1.0, "author",
                "author: Y. LeCun"),
    MatchReason("labs", "", "upvotes", "42 upvotes, #3 of the day", (0, 10), 1.0, "trending",
                "trending", "trending: 42 upvotes"),
    MatchReason("liked", "Grokking <it>", "examples", "Grokking <it>", (0, 13), 0.71, "similar",
                "similar to Grokking (0.71)", "trending: 7 upvotes"),
    MatchReason("", "gnn", "title", "GNN", (0, 3), 1.0),
]  # fmt: skip


@pytest.mark.parametrize("show_topics", [False, True])
@pytest.mark.parametrize("name", ["entry.html", "entry.txt", "entry.md"])
def test_an_entry_filled_in_from_a_form_is_the_entry_rendered_whole(
    name: str, show_topics: bool
) -> None:
    renderer = DigestRenderer()
    template = renderer.env.get_template(name)
    papers = (LATEX_PAPER, CODE_PAPER, PLAIN_PAPER, HF_PAPER, DUMP_PAPER)
    for reason in _REASONS:
        for paper in papers:  # one form per shape, shown with every paper
            for score in (1.0, 2.0):
                view = EntryView(renderer.paper_view(paper), make_reason_view(reason), score)
                whole = template.render(e=view, show_topics=show_topics)
                assert renderer.entry(name, view, show_topics) == whole, (reason, paper)
    assert len(renderer._forms) <= 2 * len(_REASONS)
    assert None not in renderer._forms.values()  # every entry came from a form
    assert renderer.entry_pieces.cache_info().misses == 0  # type: ignore[attr-defined]


def test_an_entry_whose_template_has_no_form_is_rendered_whole() -> None:
    renderer = DigestRenderer()
    renderer._marks = {}  # no mark known: each form fails, as for an unforeseen template
    for name in ("entry.html", "entry.txt", "entry.md"):
        template = renderer.env.get_template(name)
        for reason in _REASONS:
            view = EntryView(renderer.paper_view(HF_PAPER), make_reason_view(reason), 1.0)
            whole = template.render(e=view, show_topics=True)
            assert renderer.entry(name, view, True) == whole
    assert set(renderer._forms.values()) == {None}
    assert renderer.entry_pieces.cache_info().misses == 3 * len(_REASONS)  # type: ignore[attr-defined]


def test_a_kept_entry_shares_the_text_of_its_paper_instead_of_copying_it() -> None:
    renderer = DigestRenderer()
    context = renderer.context(SAMPLE)
    for view in context["entries"]:
        for name, paper_name, show_topics in (("entry.html", "paper.html", False),
                                              ("entry.txt", "paper.txt", False),
                                              ("entry.md", "paper.md", True)):  # fmt: skip
            pieces = renderer.entry_pieces(name, view, show_topics)
            paper = renderer.paper(paper_name, view.paper, show_topics)
            assert [piece for piece in pieces if piece is paper] == [paper]
            assert renderer.entry(name, view, show_topics) == "".join(pieces)
            assert sum(len(piece) for piece in pieces if piece is not paper) < len(paper)


def test_an_entry_template_that_changes_the_paper_part_is_rendered_whole(tmp_path: Path) -> None:
    (tmp_path / "entry.txt").write_text("{{ paper_text(e.paper) | upper }}{{ e.reason.keyword }}\n")
    renderer = DigestRenderer(tmp_path)
    text = renderer.text(SAMPLE)
    for entry in SAMPLE.entries:
        paper = renderer.paper("paper.txt", renderer.paper_view(entry.paper), False)
        assert paper.upper() + entry.reason.keyword + "\n" in text
    assert "\x00" not in text


def test_a_reason_holding_what_looks_like_a_paper_mark_is_shown_as_it_is() -> None:
    renderer = DigestRenderer()
    keyword = "graph\x000\x00kernels"
    reason = MatchReason("t", keyword, "title", "Graph Kernels", (0, 13), 0.9)
    digest = _one_topic(DigestEntry(PLAIN_PAPER, reason, 1.0))
    text = renderer.text(digest)
    assert f'Matched "{keyword}" (close match)' in text
    assert text.count("Message Passing Revisited") == 1


def test_an_override_of_the_paper_part_shows_in_every_entry(tmp_path: Path) -> None:
    (tmp_path / "paper.txt").write_text("PAPER {{ p.title }}\n")
    (tmp_path / "paper.html").write_text("<b>{{ p.title }}</b>")
    renderer = DigestRenderer(tmp_path)
    text, html = renderer.text(SAMPLE), renderer.html(SAMPLE)
    for entry in SAMPLE.entries:
        assert f"PAPER {renderer.paper_view(entry.paper).title}\n   Matched" in text
    assert "<b>Fréchet &lt;Distances&gt; &amp; Graph Kernels</b>" in html
    # The reason lines are still the packaged entry templates'.
    assert text.count("   Matched") == len(SAMPLE.entries)


def test_overrides_replace_templates_by_name(tmp_path: Path) -> None:
    (tmp_path / "subject.txt").write_text("Digest {{ day }}: {{ count }} papers\n")
    renderer = DigestRenderer(tmp_path)
    assert renderer.subject(SAMPLE) == "Digest 2024-11-22: 5 papers"
    # The templates not overridden are the packaged ones.
    assert renderer.markdown(SAMPLE) == DigestRenderer().markdown(SAMPLE)


def test_overrides_see_jinjas_own_globals_and_the_renderers(tmp_path: Path) -> None:
    # The renderer's templates see their globals as one plain dict (made when each
    # is loaded): Jinja's own (range, namespace, cycler) must still be among them.
    (tmp_path / "email.txt").write_text(
        "{% set seen = namespace(n=0) %}{% set rows = cycler('odd', 'even') %}"
        "{% for e in entries %}{% set seen.n = seen.n + 1 %}{{ rows.next() }} {{ paper_text(e.paper) }}"
        "{% endfor %}{{ seen.n }} {{ range(3) | list }}\n"
    )
    renderer = DigestRenderer(tmp_path)
    text = renderer.text(SAMPLE)
    first = renderer.paper("paper.txt", renderer.paper_view(SAMPLE.entries[0].paper), False)
    assert text.startswith(f"odd {first}even ")
    assert text.endswith(f"{len(SAMPLE.entries)} [0, 1, 2]\n")


def test_override_html_is_autoescaped_and_strict(tmp_path: Path) -> None:
    (tmp_path / "email.html").write_text("<p>{{ entries[0].paper.title }}</p>")
    (tmp_path / "email.txt").write_text("{{ no_such_name }}")
    renderer = DigestRenderer(tmp_path)
    assert renderer.html(SAMPLE) == "<p>Fréchet &lt;Distances&gt; &amp; Graph Kernels</p>"
    with pytest.raises(UndefinedError):
        renderer.text(SAMPLE)


def test_empty_digest_renders(renderer: DigestRenderer) -> None:
    empty = Digest(7, "ana@lab.org", date(2024, 11, 22), ())
    assert renderer.subject(empty) == "Paper digest for 2024-11-22"
    assert "0 new papers" in renderer.text(empty)
    renderer.html(empty)
    renderer.markdown(empty)


# --- Golden files ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "method"), [("sample.md", "markdown"), ("sample.txt", "text"), ("sample.html", "html")])  # fmt: skip
def test_golden(renderer: DigestRenderer, name: str, method: str) -> None:
    """The sample digest in each format, as `tests/data/digest/` holds it (see `tests.golden`)."""
    rendered: str = getattr(renderer, method)(SAMPLE)
    assert_golden(rendered, GOLDEN / name)


def test_packaged_templates_are_found_in_an_installed_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed wheel holds the templates in bot/templates, beside the code.
    installed = tmp_path / "site-packages" / "bot"
    (installed / "templates").mkdir(parents=True)
    (installed / "templates" / "subject.txt").write_text("from the wheel")
    monkeypatch.setattr(resources, "files", lambda _package: installed)
    assert DigestRenderer().subject(SAMPLE) == "from the wheel"


def test_packaged_templates_are_found_in_a_source_checkout() -> None:
    # Editable installs have no bot/templates: the repository's templates/ is used.
    root = Path(render.__file__).resolve().parents[2]
    assert not (root / "bot" / "templates").exists()
    for name in TEMPLATE_NAMES:
        assert (root / "templates" / name).is_file()
        DigestRenderer().env.get_template(name)


def test_the_reason_line_names_the_rule_that_followed_the_paper(
    renderer: DigestRenderer,
) -> None:
    author = MatchReason(
        "people", "Y. LeCun", "authors", "Yann LeCun", (0, 10), 1.0, kind="author",
        label="author: Y. LeCun", trending="trending: 42 upvotes, #3 of the day",
    )  # fmt: skip
    digest = _one_topic(DigestEntry(PLAIN_PAPER, author, 1.0))
    text = renderer.text(digest)
    assert (
        '   Matched author: Y. LeCun (trending: 42 upvotes, #3 of the day):\n   "*Yann LeCun*"'
    ) in text
    assert (
        "> Matched **author: Y. LeCun** (trending: 42 upvotes, \\#3 of the day): **Yann LeCun**"
    ) in renderer.markdown(digest)
    html = renderer.html(digest)
    assert "Matched <strong>author: Y. LeCun</strong> (trending: 42 upvotes, #3 of the day)" in html
    assert ">Yann LeCun</mark>" in html
    alone = MatchReason(
        "hot", "", "upvotes", "42 upvotes, #3 of the day", (0, 25), 1.0, kind="trending",
        label="trending",
    )  # fmt: skip
    assert '   Matched trending:\n   "*42 upvotes, #3 of the day*"' in renderer.text(
        _one_topic(DigestEntry(PLAIN_PAPER, alone, 1.0))
    )


@pytest.mark.parametrize("show_topic", [False, True])
def test_the_channels_reason_line_is_the_reason_views(show_topic: bool) -> None:
    # The channels skip the snippet's clean-up: the line never shows it.
    reasons = [
        MatchReason(
            "graphs\nand {\\sc more}", "Fr\\'echet\n distance", "title",
            "the Fr\\'echet\n distance of $x$", (4, 21), 1.0,
            trending="trending: 42 upvotes, #3 of the day",
        ),
        MatchReason("t", "kernels", "abstract", "kernel methods", (0, 6), 0.86),
        MatchReason(
            "people", "Y. LeCun", "authors", "Yann LeCun", (0, 10), 1.0, kind="author",
            label="author:\n Y.  LeCun",
        ),
        MatchReason(
            "hot", "", "upvotes", "42 upvotes, #3 of the day", (0, 25), 1.0, kind="trending",
            label="trending",
        ),
        MatchReason("g", "Grokking <modular>", "examples", "Grokking", (0, 8), 0.714, "similar"),
    ]  # fmt: skip
    for reason in reasons:
        expected = reason_line(make_reason_view(reason), show_topic=show_topic)
        assert match_line(reason, show_topic=show_topic) == expected


def test_a_followed_name_is_escaped_in_the_reason_line(renderer: DigestRenderer) -> None:
    reason = MatchReason(
        "t", "<b>Lab</b>", "organisations", "<b>Lab</b>", (0, 10), 1.0, kind="organisation",
        label="organisation: <b>Lab</b>",
    )  # fmt: skip
    html = renderer.html(_one_topic(DigestEntry(PLAIN_PAPER, reason, 1.0)))
    assert "<b>Lab" not in html
    assert "<strong>organisation: &lt;b&gt;Lab&lt;/b&gt;</strong>" in html


def test_a_paper_similar_to_an_example_names_the_example_and_the_score(
    renderer: DigestRenderer,
) -> None:
    example = "Grokking <modular> addition"
    reason = MatchReason(
        "grokking", example, "examples", example, (0, len(example)), 0.714, kind="similar"
    )
    digest = _one_topic(DigestEntry(LATEX_PAPER, reason, 0.5))

    assert f'Similar to "{example}" (0.71)' in renderer.text(digest)
    assert "Similar to **Grokking \\<modular\\> addition** (0.71)" in renderer.markdown(digest)
    html = renderer.html(digest)
    assert "Similar to <strong>Grokking &lt;modular&gt; addition</strong> (0.71)" in html
    assert "Matched" not in renderer.text(digest) + html
