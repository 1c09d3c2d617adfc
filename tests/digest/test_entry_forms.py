"""Forms of entries: made from a template's output for a probe, or refused."""

import dataclasses
from collections.abc import Callable
from typing import Any

import jinja2
import pytest
from markupsafe import Markup, escape

from bot.digest.entry_forms import (
    SLOT_FIELDS,
    EntryForm,
    PaperCall,
    form_key,
    known_marks,
    make_form,
    paper_mark,
    probe,
)
from bot.digest.model import DigestPaper, MatchReason
from bot.digest.render import (
    EntryView,
    PaperView,
    make_paper_view,
    make_reason_view,
    markdown_escape,
)

MARKS = known_marks((str, lambda text: str(escape(text)), markdown_escape))
PAPER = make_paper_view(DigestPaper(1, "A <Paper>", "An abstract."))
OTHER_PAPER = make_paper_view(DigestPaper(2, "Another", "Its abstract."))


def _entry(
    keyword: str = "graph *kernels* <b>", before: str = "on ", paper: PaperView = PAPER
) -> EntryView:
    snippet = f"{before}Graph Kernels, and"
    start = len(before)
    reason = MatchReason("my <topic>", keyword, "title", snippet, (start, start + 13), 0.9)
    return EntryView(paper, make_reason_view(reason), 1.9)


def _paper_text(template: str, paper: PaperView, show_topics: bool) -> str:
    return f"[{template} {paper.title} {show_topics}]"


def _env(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(autoescape=html, undefined=jinja2.StrictUndefined)
    env.filters["md"] = markdown_escape
    return env


def _form(source: str, entry: EntryView, *, html: bool = False) -> EntryForm | None:
    """The form of `source` for `entry`'s shape, made as the renderer makes it."""
    calls: list[PaperCall] = []

    def paper_html(paper: PaperView, show_topics: bool = False) -> Markup:
        calls.append(PaperCall("paper.html", show_topics, paper))
        return Markup(paper_mark(len(calls) - 1))

    probed = probe(entry)
    template = _env(html).from_string(source)
    rendered = template.render(e=probed, paper_html=paper_html, other=OTHER_PAPER)
    return make_form(rendered, calls, probed, MARKS)


def _whole(source: str, entry: EntryView, *, html: bool = False) -> str:
    def paper_html(paper: PaperView, show_topics: bool = False) -> Markup:
        return Markup(_paper_text("paper.html", paper, show_topics))

    return _env(html).from_string(source).render(e=entry, paper_html=paper_html, other=OTHER_PAPER)


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("Matched {{ e.reason.keyword }} in {{ e.reason.field }}: {{ e.reason.before }}", False),
        (
            "<b>{{ e.reason.keyword }}</b> ({{ e.reason.topic }}) <i>{{ e.reason.matched }}</i>",
            True,
        ),
        ("**{{ e.reason.keyword | md }}** {{ e.reason.after | md }}", False),
        ("{{ paper_html(e.paper) }}{{ paper_html(e.paper, true) }}|{{ e.reason.keyword }}", True),
        ("{% if e.reason.similarity < 1 %}close{% endif %} {{ '%.2f' | format(e.score) }}", False),
        ("{% if e.reason.before %}…{{ e.reason.before }}{% endif %}{{ e.reason.matched }}", False),
    ],
)
def test_a_form_fills_in_what_the_template_renders(source: str, html: bool) -> None:
    first = _entry()
    form = _form(source, first, html=html)
    assert form is not None
    for entry in (first, _entry("x & <y>", "& <", OTHER_PAPER), _entry("plain", "on ")):
        assert form_key("t", entry, False) == form_key("t", first, False)
        assert form.fill(entry, _paper_text) == _whole(source, entry, html=html)


@pytest.mark.parametrize(
    "source",
    [
        "{{ e.reason.keyword | upper }}",  # any change of case
        "{{ e.reason.keyword | title }}",
        "{{ e.reason.keyword[:4] }}",  # a cut
        "{{ e.reason.keyword | md | md }}",  # an escaping it does not know
        "{{ e.reason.keyword | urlencode }}",
        "{{ e.reason.keyword | replace('a', 'b') }}",
        "{{ paper_html(other) }}",  # a paper not the entry's
        "{{ paper_html(e.paper) | upper }}",
    ],
)
def test_a_template_that_does_more_than_print_a_text_has_no_form(source: str) -> None:
    assert _form(source, _entry()) is None


def test_a_template_that_escapes_as_html_gets_a_form_only_with_escaping_known() -> None:
    entry = _entry()
    source = "{{ e.reason.keyword }}"
    assert _form(source, entry, html=True) is not None
    probed = probe(entry)
    rendered = jinja2.Environment(autoescape=True).from_string(source).render(e=probed)
    assert make_form(rendered, [], probed, known_marks([str])) is None


def test_the_shape_of_an_entry_is_what_its_template_may_decide_on() -> None:
    entry = _entry()
    key: Callable[[EntryView], object] = lambda e: form_key("entry.txt", e, False)  # noqa: E731
    assert key(_entry("other words", "other text ")) == key(entry)
    assert key(_entry(before="")) != key(entry)  # an empty text may be tested
    changes: list[dict[str, Any]] = [
        {"kind": "author"},
        {"field": "abstract"},
        {"similarity": 1.0},
        {"trending": "trending: 3 upvotes"},
    ]
    for changed in changes:
        other = EntryView(entry.paper, dataclasses.replace(entry.reason, **changed), entry.score)
        assert key(other) != key(entry), changed
    assert form_key("entry.txt", entry, True) != key(entry)
    assert form_key("entry.md", entry, False) != key(entry)


def test_a_probe_marks_every_text_that_is_not_empty() -> None:
    probed = probe(_entry(before=""))
    assert probed.reason.before == ""
    assert probed.reason.trending is None
    marked = [f for f in SLOT_FIELDS if getattr(probed.reason, f)]
    assert marked == ["topic", "keyword", "matched", "after"]
    assert all(getattr(probed.reason, f).startswith("\x01") for f in marked)
    assert probed.paper is PAPER and probed.score == 1.9
