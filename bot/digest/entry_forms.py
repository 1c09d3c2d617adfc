"""Entries filled in from forms, instead of rendered one by one (pure: no I/O).

A run shows each paper to thousands of readers, each for their own reason: the
words they typed, and the text around them. Rendering the packaged entry template
for every such entry was a fifth of building the messages. The template's output
depends on the reason's texts only where it prints them, so it is rendered once
per *shape* of entry (the reason's kind, field, similarity, which texts are empty,
and whether topics show) with marks in place of those texts, and of the paper, and
each entry is then the form with its own texts put in the marks.

A mark is made of characters that each escaping changes in its own way: a form
knows whether the template printed a text as it is, HTML-escaped or
Markdown-escaped, and puts the entry's text in the same way. A template that
changes a text otherwise (its case, a cut, an encoding) leaves a mark the form
does not know, or a trace of one: then there is no form, and the renderer renders
such entries whole. What a mark cannot show is a template deciding on a text's
content (`{% if e.reason.keyword == "x" %}`, `| length`): the packaged templates
do not, and their tests hold each form to the template rendered whole. The user's
own entry templates are always rendered whole.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the renderer imports this module: its views are only named here
    from bot.digest.render import EntryView, PaperView

SLOT_FIELDS = ("topic", "keyword", "before", "matched", "after", "label", "trending")
"""The reason's texts that differ from reader to reader: marks in a form."""

FormKey = tuple[object, ...]
PaperText = Callable[[str, "PaperView", bool], str]
"""The renderer's text of a paper by a paper template: (template, paper, show_topics)."""
_Slot = Callable[["EntryView", PaperText], str]
Escape = Callable[[str], str]
"""One way a template may print a text: as it is, HTML-escaped, Markdown-escaped."""
Marks = dict[str, tuple[str, Escape]]
"""Each mark as a template may print it: the field it stands for, and its escaping."""


def _mark(number: int) -> str:
    # Letters of both cases and the characters HTML and Markdown escape: any other
    # change of the text changes the mark into one that no form knows.
    return f"<*{number}aA*>"


def paper_mark(number: int) -> str:
    """What the template's `number`th call of a paper function prints while a form is made."""
    return f"\x00{number}aA\x00"


PAPER_MARK = re.compile("\x00([0-9]+)aA\x00")
"""A paper function's mark, its number in group 1."""
_LEFT_OVER = re.compile("[\x00\x01]|[0-9]aA")
"""What a mark leaves in a text that changed it (cut it, changed its case, encoded it)."""


def known_marks(escapes: Iterable[Escape]) -> Marks:
    """Every mark as printed by each of `escapes`: what a form can tell apart."""
    return {
        escape(_mark(number)): (field, escape)
        for number, field in enumerate(SLOT_FIELDS)
        for escape in escapes
    }


_PLACES = re.compile("\x01([^\x01\x00]*)\x01|" + PAPER_MARK.pattern)
"""A reason's text (between \\x01), or a paper (its call's `paper_mark`)."""


def form_key(name: str, entry: "EntryView", show_topics: bool) -> FormKey:
    """What a form of template `name` is made for: all an entry's template may decide on."""
    r = entry.reason
    # Spelled out, not a loop over SLOT_FIELDS: this runs for every entry of a run.
    empty = (not r.topic, not r.keyword, not r.before, not r.matched, not r.after, not r.label,
             not r.trending)  # fmt: skip
    return (name, show_topics, r.kind, r.field, r.similarity, entry.score, empty)


def probe(entry: "EntryView") -> "EntryView":
    """`entry` with each of its reason's non-empty texts replaced by its mark (in \\x01)."""
    marked: dict[str, Any] = {
        field: f"\x01{_mark(number)}\x01"
        for number, field in enumerate(SLOT_FIELDS)
        if getattr(entry.reason, field)
    }
    return replace(entry, reason=replace(entry.reason, **marked))


@dataclass(frozen=True, slots=True)
class PaperCall:
    """A call of a paper function by the template: which paper template, with which flag."""

    template: str
    show_topics: bool
    paper: "PaperView"


@dataclass(frozen=True, slots=True)
class EntryForm:
    """A template's output for one shape of entry: fixed text, with places for what varies."""

    texts: tuple[str, ...]
    slots: tuple[_Slot, ...]

    def fill(self, entry: "EntryView", paper: PaperText) -> str:
        """The template's output for `entry`: the form's text with the entry's own put in."""
        parts = [self.texts[0]]
        for slot, text in zip(self.slots, self.texts[1:], strict=True):
            parts.append(slot(entry, paper))
            parts.append(text)
        return "".join(parts)


def make_form(
    rendered: str, calls: list[PaperCall], probed: "EntryView", marks: Marks
) -> EntryForm | None:
    """The form in `rendered`, a template's output for `probed` (from `probe`); None if none.

    `calls` are the template's calls of the paper functions, in order, each of which
    put its `paper_mark` in `rendered`; `marks` are the marks the form knows
    (`known_marks`). None when a text was printed in a way the form does not know,
    or a paper other than the entry's was shown.
    """
    texts: list[str] = []
    slots: list[_Slot] = []
    last = 0
    for place in _PLACES.finditer(rendered):
        texts.append(rendered[last : place.start()])
        last = place.end()
        if place[1] is not None:
            known = marks.get(place[1])
            if known is None:
                return None
            slots.append(_reason_slot(*known))
        else:
            number = int(place[2])
            if number >= len(calls) or calls[number].paper is not probed.paper:
                return None
            slots.append(_paper_slot(calls[number]))
    texts.append(rendered[last:])
    if any(_LEFT_OVER.search(text) for text in texts):
        return None  # a mark cut or changed: the template did more than print it
    return EntryForm(tuple(texts), tuple(slots))


def _reason_slot(field: str, escape: Escape) -> _Slot:
    def slot(entry: "EntryView", paper: PaperText) -> str:
        return escape(getattr(entry.reason, field))

    return slot


def _paper_slot(call: PaperCall) -> _Slot:
    template, show_topics = call.template, call.show_topics

    def slot(entry: "EntryView", paper: PaperText) -> str:
        return paper(template, entry.paper, show_topics)

    return slot
