"""Digests as text: the subject line, the email's text and HTML parts, Markdown.

The layout lives in Jinja templates (`templates/` in a source checkout, shipped as
`bot/templates` in the wheel); a folder of the user's own templates overrides any of
them by file name. This module prepares what the templates show and touches no file
other than the templates themselves.

Digests for thousands of subscribers share the same papers, so everything derived
from a paper alone (LaTeX clean-up, shortening, wrapping, HTML and Markdown escaping)
is computed once per paper and renderer, in `DigestRenderer.paper_view`, and reused
by every digest that shows the paper; and each entry, the paper with a reader's own
reason for it, is filled in from a form made once per shape of entry
(`bot.digest.entry_forms`).
"""

import re
import textwrap
import unicodedata
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from markupsafe import Markup, escape

import bot
from bot.digest.entry_forms import (
    PAPER_MARK,
    EntryForm,
    FormKey,
    PaperCall,
    form_key,
    known_marks,
    make_form,
    paper_mark,
    probe,
)
from bot.digest.model import Digest, DigestPaper, FeedbackLinks, MatchReason
from bot.urls import clean_link, web_url

SUBJECT_MAX = 200
"""A subject line is cut to this many characters (mail clients show far fewer)."""

ABSTRACT_MAX = 300
"""The email shows this many characters of an abstract at most; Markdown shows it whole."""

TEXT_WIDTH = 72
"""Line width of the plain-text email."""

MAX_AUTHOR_NAMES = 5
"""Up to this many authors are all named; more are shown as the first ones and "et al."."""

SUMMARY_MAX = 280
"""A paper's summary line (the abstract's opening sentences) is at most this long."""

ARXIV_TITLE_SEARCH = "https://arxiv.org/search/"
"""arXiv's search page; a paper known only by its title links to a title search there."""

PAPER_CACHE_SIZE = 16_384
"""Papers whose prepared text a renderer keeps: every paper of a run, however many readers."""

FORM_CACHE_SIZE = 4_096
"""Forms of entries a renderer keeps (see `bot.digest.entry_forms`): a run makes a few hundred."""

ENTRY_CACHE_SIZE = 4_096
"""Reasons, and entries rendered whole (by the user's own entry templates), whose prepared
text a renderer keeps, latest used first.

Readers' keywords differ (typos, plurals, their own phrases), so the distinct
entries grow with the readers and the repeats of one are spread over the whole
run: what stays is mostly the entries of popular keywords. Four times as many
held 24 MB more at 10,000 readers and 30 MB more at 50,000, for no time saved
that could be measured.
"""


TEMPLATE_NAMES = (
    "subject.txt",
    "email.txt",
    "email.html",
    "digest.md",
    "entry.txt",
    "entry.html",
    "entry.md",
    "paper.txt",
    "paper.html",
    "paper.md",
)
"""Every template a digest uses; the `entry.*` ones show one paper and see only `e`
and `show_topics`, and draw the paper itself with `paper.*` (which see `p`, the paper,
and `show_topics`). The reader's own links under each entry (`feedback`, by paper id)
are the digest templates' part."""


# --- LaTeX -------------------------------------------------------------------------

# Math is kept as written: `$$...$$`, `$...$`, `\(...\)`, `\[...\]`. A `\$` is a dollar.
_MATH = re.compile(
    r"(?<!\\)\$\$.+?(?<!\\)\$\$|(?<!\\)\$.+?(?<!\\)\$|\\\(.+?\\\)|\\\[.+?\\\]", re.DOTALL
)
# Combining marks for LaTeX's accent commands.
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
}
# `\'e`, `\'{e}`, `{\'e}`, `\"{\i}`, `\c c`, `\v{s}`: the accent, then one letter.
_ACCENT = re.compile(
    r"(?P<open>\{)?\\(?:(?P<sym>['`^\"~=.])|(?P<word>[uvHckr])(?![A-Za-z]))\s*"
    r"(?:\{\s*(?P<braced>\\?[A-Za-z])\s*\}|(?P<bare>\\?[A-Za-z]))(?(open)\})"
)
_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "aa": "å",
    "AA": "Å",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "l": "ł",
    "L": "Ł",
    "i": "\u0131",  # dotless i and j, as LaTeX writes them under accents
    "j": "\u0237",
}
# `{\sc Name}`, `{\bf x}`: old-style switches inside a group.
_SWITCH = re.compile(r"\{\\(?:sc|bf|it|em|rm|tt|sf|sl|small|large|Large)\s+([^{}]*)\}")
# `\emph{x}`, `\textbf{x}`...: keep the argument.
_WITH_ARG = re.compile(
    r"\\(?:emph|text(?:it|bf|sc|tt|rm|sf|sl|up|normal)|underline|mbox|url|texorpdfstring)\s*\{([^{}]*)\}"
)
_SYMBOLS = {
    r"\%": "%",
    r"\&": "&",
    r"\_": "_",
    r"\#": "#",
    r"\$": "$",
    r"\{": "\x00lbrace\x00",
    r"\}": "\x00rbrace\x00",
    "---": "—",
    "--": "\u2013",
    "``": "“",
    "''": "”",
    r"\ldots": "…",
    r"\dots": "…",
    r"\textendash": "\u2013",
    r"\textemdash": "—",
    r"\LaTeX": "LaTeX",
    r"\TeX": "TeX",
    "\\\\": " ",
    r"\,": " ",
    r"\ ": " ",
    "~": " ",
}
_SYMBOL = re.compile("|".join(re.escape(s) for s in sorted(_SYMBOLS, key=len, reverse=True)))
# An address grouped right after a word (`MSRNet{https://...}`, `SequeL\url{...}`).
_GLUED_ADDRESS = re.compile(r"(?<=\w)(?=\\url\s*\{|\{https?://)", re.IGNORECASE)
# Any other command, such as a paper's own `\method` macro: keep its name as a word.
_COMMAND = re.compile(r"\\([A-Za-z]+)(?:\{\})?")


def _accent(match: re.Match[str]) -> str:
    letter = match["braced"] or match["bare"]
    if letter.startswith("\\"):  # `\'{\i}`: the dotless i takes the accent as a plain i
        letter = letter[1:]
    mark = _ACCENTS[match["sym"] or match["word"]]
    return unicodedata.normalize("NFC", letter + mark)


def _readable_prose(text: str) -> str:
    text = _GLUED_ADDRESS.sub(" ", text)  # set off from the word once its braces are gone
    text = _ACCENT.sub(_accent, text)
    text = _SWITCH.sub(r"\1", text)
    # Nested groups (`\textbf{\emph{x}}`) come apart one level per pass.
    for _ in range(3):
        text, count = _WITH_ARG.subn(r"\1", text)
        if not count:
            break
    text = _SYMBOL.sub(lambda m: _SYMBOLS[m[0]], text)
    text = _COMMAND.sub(lambda m: _LETTERS.get(m[1], m[1]), text)
    # Braces left over only grouped letters (`{BERT}`); escaped braces come back as written.
    text = text.replace("{", "").replace("}", "")
    return text.replace("\x00lbrace\x00", "{").replace("\x00rbrace\x00", "}")


_LATEX_SIGNS = re.compile(r"[\\{~`]|--|''")
"""What LaTeX markup starts with; a text without any is left as it is."""


def readable_latex(text: str) -> str:
    """Return `text` with LaTeX's text-mode markup turned into plain text; math kept as is.

    `{\\sc Name}` and `\\emph{x}` (and the other font commands) keep their content,
    accent commands become accented letters (`Fr\\'echet` -> `Fréchet`), escaped
    symbols become the symbol, and a paper's own macros (`\\method`) become their
    name. `$...$`, `$$...$$`, `\\(...\\)` and `\\[...\\]` are left untouched: readers
    of papers read math as written.
    """
    if not _LATEX_SIGNS.search(text):
        return text  # the common case: nothing to do
    parts: list[str] = []
    last = 0
    for math in _MATH.finditer(text):
        parts.append(_readable_prose(text[last : math.start()]))
        parts.append(math[0])
        last = math.end()
    parts.append(_readable_prose(text[last:]))
    return "".join(parts)


# --- Plain-text helpers ---------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def one_line(text: str) -> str:
    """Return `text` with every run of whitespace (newlines included) as one space, trimmed."""
    if _single_spaced(text) and text[:1] != " " and text[-1:] != " ":
        return text  # the common case: nothing to change
    return _SPACES.sub(" ", text).strip()


def _single_spaced(text: str) -> bool:
    """True when `text`'s only whitespace is lone ASCII spaces, so collapsing changes nothing.

    Every other whitespace character (tab, newline, no-break space...) is a control
    or separator character, which makes the text not printable.
    """
    return text.isprintable() and "  " not in text


def shorten(text: str, limit: int = ABSTRACT_MAX) -> str:
    """Return `text` cut at a word boundary to at most `limit` characters, ending in "…".

    Text already short enough is returned unchanged.
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:  # a word boundary not too far back; else cut the long word
        cut = cut[:space]
    return cut.rstrip(" ,;:.-\u2013\u2014") + "…"


def author_line(paper: DigestPaper) -> str:
    """Return who wrote `paper`: "A, B, C" (all, up to `MAX_AUTHOR_NAMES`, else the first
    ones and "et al."), or "12 authors" when only the count is known; and the organisation.
    """
    names = [one_line(a) for a in paper.authors if a.strip()]
    if len(names) > MAX_AUTHOR_NAMES:
        who = ", ".join(names[:MAX_AUTHOR_NAMES]) + " et al."
    elif names:
        who = ", ".join(names)
    elif paper.author_count:
        who = f"{paper.author_count} author{'s' if paper.author_count != 1 else ''}"
    else:
        who = ""
    org = one_line(paper.organization or "")
    return " · ".join(part for part in (who, org) if part)


# A sentence ends at ., ! or ? followed by a space and a capital, digit or bracket.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"“])")


def opening(text: str, limit: int = SUMMARY_MAX) -> str:
    """Return the first sentence or two of `text` that fit in `limit` characters.

    A first sentence longer than `limit` is cut on a word, ending in "…".
    """
    cut = ""
    for sentence in _SENTENCE_END.split(text):
        candidate = f"{cut} {sentence}" if cut else sentence
        if len(candidate) > limit:
            break
        cut = candidate
        if len(cut) >= limit // 2:  # one more sentence would make the line a paragraph
            break
    return cut or shorten(text, limit)


def count_label(count: int, thing: str) -> str:
    """Return "1 upvote", "1,204 upvotes": a count and its noun."""
    return f"{count:,} {thing}{'' if count == 1 else 's'}"


def title_search_url(title: str) -> str:
    """Return arXiv's search for papers with exactly `title` as their title."""
    return ARXIV_TITLE_SEARCH + "?" + urlencode({"query": f'"{title}"', "searchtype": "title"})


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def markdown_escape(text: str) -> str:
    """Return `text` with Markdown's markup characters backslash-escaped; math kept as is.

    A title such as `<script>` or `[a](b)` then shows as written instead of
    becoming HTML or a link when the Markdown is rendered.
    """
    parts: list[str] = []
    last = 0
    for math in _MATH.finditer(text):
        parts.append(_MD_SPECIAL.sub(r"\\\1", text[last : math.start()]))
        parts.append(math[0])
        last = math.end()
    parts.append(_MD_SPECIAL.sub(r"\\\1", text[last:]))
    return "".join(parts)


def markdown_url(url: str) -> str:
    """Return `url` with its brackets percent-encoded, so it can end a Markdown link."""
    return url.replace("(", "%28").replace(")", "%29")


# --- What the templates see ---------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class PaperView:
    """One paper as the templates show it, prepared once and shared by every digest.

    Plain strings are for the text and subject templates; `*_html` are escaped
    already (Jinja leaves them alone); `*_md` are Markdown-escaped.

    Two views are equal only when they are the same view: the renderer makes one
    per paper, and the entries it keeps are looked up by their paper at every
    entry of every digest, where hashing thirty fields each time cost more.
    """

    paper_id: int
    title: str
    title_html: Markup
    title_md: str
    link: str | None  # the paper's page: Hugging Face's, arXiv's, its own, else a title search
    link_is_search: bool  # True when `link` is arXiv's search for the title
    abstract: str
    abstract_short: str
    abstract_text: str  # short, wrapped and indented for the text email
    abstract_html: Markup  # short
    abstract_md: str  # whole
    summary: str  # one line: the AI summary, else the abstract's opening
    summary_is_ai: bool  # True when `summary` is Hugging Face's machine-written one
    summary_text: str  # wrapped and indented for the text email, "AI summary: " shown
    summary_html: Markup
    summary_md: str
    abstract_is_longer: bool  # True when the abstract says more than `summary`
    authors: str
    date: str
    upvotes: int | None
    comments: int | None
    github_stars: int | None
    meta: tuple[str, ...]  # authors and organisation, date, upvotes, comments: what is known
    code_urls: tuple[str, ...]
    project_urls: tuple[str, ...]
    arxiv_url: str | None
    pdf_url: str | None
    hf_url: str | None
    links: tuple[tuple[str, str], ...]  # (label, url): code (with stars), project, arXiv, PDF


@dataclass(frozen=True, slots=True)
class ReasonView:
    """Why an entry matched, with the snippet cut around the matched text."""

    topic: str
    keyword: str
    field: str
    before: str
    matched: str
    after: str
    similarity: float
    kind: str = "keyword"
    label: str = ""
    trending: str | None = None


@dataclass(frozen=True, slots=True)
class EntryView:
    """One entry: the shared paper and this digest's reason."""

    paper: PaperView
    reason: ReasonView
    score: float


@dataclass(frozen=True, slots=True)
class SectionView:
    """One topic's entries."""

    topic: str
    entries: tuple[EntryView, ...]


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def _distinct(urls: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(u for u in urls if u))


def make_paper_view(paper: DigestPaper) -> PaperView:
    """Prepare what every template shows of `paper` (pure; cached by the renderer).

    The title links to the paper's Hugging Face page when it has one, else its
    arXiv page, else its own web page, else arXiv's search for its exact title.
    Every address passes `bot.urls` (http and https only; LaTeX residue cleaned).
    """
    title = one_line(readable_latex(paper.title))
    abstract = one_line(readable_latex(paper.abstract))
    short = shorten(abstract)
    arxiv_id = paper.arxiv_id.strip() if paper.arxiv_id else None
    arxiv_url = f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None
    pdf_url = web_url(paper.pdf_url) or (f"https://arxiv.org/pdf/{arxiv_id}" if arxiv_id else None)
    hf_url = web_url(paper.hf_url)
    own_url = web_url(paper.url)
    page = hf_url or arxiv_url or own_url
    link = page or (title_search_url(title) if title else None)
    # Links stored before abstracts' LaTeX residue was taken off are cleaned here too.
    code_urls = _distinct(clean_link(u) for u in paper.code_urls)
    project_urls = _distinct(clean_link(u) for u in paper.project_urls)
    ai_summary = one_line(paper.ai_summary or "")
    summary = ai_summary or opening(abstract)
    summary_line = f"AI summary: {summary}" if ai_summary else summary
    links = (
        *((_code_label(u, paper.github_stars, code_urls), u) for u in code_urls),
        *(("project", u) for u in project_urls),
        *((("arXiv", arxiv_url),) if arxiv_url and arxiv_url != link else ()),
        *((("PDF", pdf_url),) if pdf_url else ()),
    )
    authors = author_line(paper)
    meta = tuple(
        part
        for part in (
            authors,
            _iso(paper.paper_date),
            count_label(paper.upvotes, "upvote") if paper.upvotes is not None else "",
            count_label(paper.comments, "comment") if paper.comments else "",
        )
        if part
    )
    return PaperView(
        paper_id=paper.paper_id,
        title=title,
        title_html=escape(title),
        title_md=markdown_escape(title),
        link=link,
        link_is_search=page is None and link is not None,
        abstract=abstract,
        abstract_short=short,
        abstract_text=_indented(short),
        abstract_html=escape(short),
        abstract_md=markdown_escape(abstract),
        summary=summary,
        summary_is_ai=bool(ai_summary),
        summary_text=_indented(summary_line),
        summary_html=escape(summary),
        summary_md=markdown_escape(summary),
        abstract_is_longer=bool(abstract) and (bool(ai_summary) or len(summary) < len(abstract)),
        authors=authors,
        date=_iso(paper.paper_date),
        upvotes=paper.upvotes,
        comments=paper.comments,
        github_stars=paper.github_stars,
        meta=meta,
        code_urls=code_urls,
        project_urls=project_urls,
        arxiv_url=arxiv_url,
        pdf_url=pdf_url,
        hf_url=hf_url,
        links=links,
    )


def _indented(text: str) -> str:
    """`text` wrapped and indented for the text email."""
    return textwrap.fill(
        text, TEXT_WIDTH, initial_indent="   ", subsequent_indent="   ", break_long_words=False
    )


def _code_label(url: str, stars: int | None, code_urls: tuple[str, ...]) -> str:
    """ "code", or "GitHub, 1,204 stars" for the repository Hugging Face counted the stars of.

    The stars are of the paper's one GitHub repository: with several, the first.
    """
    github = [u for u in code_urls if (urlsplit(u).hostname or "").lower() == "github.com"]
    if stars is not None and github and url == github[0]:
        return f"GitHub, {count_label(stars, 'star')}"
    return "code"


def make_reason_view(reason: MatchReason) -> ReasonView:
    """Split `reason`'s snippet around its matched span (pure; cached by the renderer)."""
    snippet = reason.snippet
    start = max(0, min(reason.snippet_span[0], len(snippet)))
    end = max(start, min(reason.snippet_span[1], len(snippet)))

    # Newlines in a snippet would break the text email's layout; spans stay aligned
    # because each piece is cleaned on its own.
    def clean(piece: str) -> str:
        piece = readable_latex(piece)
        return piece if _single_spaced(piece) else _SPACES.sub(" ", piece)

    before = clean(snippet[:start]).lstrip()
    return _reason_view(reason, before, clean(snippet[start:end]), clean(snippet[end:]).rstrip())


def _reason_view(reason: MatchReason, before: str, matched: str, after: str) -> ReasonView:
    return ReasonView(
        topic=one_line(reason.topic),
        keyword=one_line(reason.keyword),
        field=reason.field,
        before=before,
        matched=matched,
        after=after,
        similarity=reason.similarity,
        kind=reason.kind,
        label=one_line(reason.label),
        trending=reason.trending,
    )


def match_line(reason: MatchReason, *, show_topic: bool = False) -> str:
    """`reason_line(make_reason_view(reason))`, without cleaning the snippet it does not show.

    For the chat and webhook channels, which give each entry's reason as this line in
    every message: cutting and cleaning the snippet was most of the time they took.
    """
    return reason_line(_reason_view(reason, "", "", ""), show_topic=show_topic)


def reason_line(reason: ReasonView, *, show_topic: bool = False) -> str:
    """Why an entry matched, as one plain line, worded as the digests word it.

    "Matched “graph neural network” in the title", "Matched author: Y. LeCun",
    "Similar to “Grokking” (0.71)"; then how it trends, and its topic when asked.
    """
    if reason.kind == "similar":
        line = f"Similar to “{reason.keyword}” ({reason.similarity:.2f})"
    elif reason.kind == "keyword":
        close = " (close match)" if reason.similarity < 1 else ""
        line = f"Matched “{reason.keyword}”{close} in the {reason.field}"
    else:
        line = f"Matched {reason.label}"
    if reason.trending:
        line += f" ({reason.trending})"
    if show_topic:
        line += f" (topic: {reason.topic})"
    return line


def _feedback_views(digest: Digest) -> dict[int, FeedbackLinks]:
    """Each entry's feedback links by paper id (a paper is in a digest once), web URLs only.

    Kept apart from the entries: these differ for every reader, and an entry is
    rendered once for all of them.
    """
    views = {}
    for entry in digest.entries:
        if entry.feedback is None:
            continue
        more, fewer = web_url(entry.feedback.more_url), web_url(entry.feedback.fewer_url)
        if more and fewer:
            views[entry.paper.paper_id] = FeedbackLinks(more, fewer)
    return views


# --- The renderer -------------------------------------------------------------------


def packaged_templates() -> jinja2.BaseLoader:
    """Return a loader of the templates shipped with paperbot.

    An installed wheel has them in `bot/templates`; a source checkout (editable
    installs included) has them in the repository's top-level `templates/`.
    """
    packaged: Traversable = resources.files(bot) / "templates"
    if packaged.is_dir() and isinstance(packaged, Path):
        return jinja2.FileSystemLoader(packaged)
    if packaged.is_dir():  # a zipped install: read through importlib.resources
        return jinja2.PackageLoader("bot", "templates")
    checkout = Path(bot.__file__).resolve().parent.parent / "templates"
    return jinja2.FileSystemLoader(checkout)


_PAPERS = {"paper_html": "paper.html", "paper_text": "paper.txt", "paper_markdown": "paper.md"}
"""The templates' functions that show a paper, and the template each renders."""


_HTML_SPECIAL = re.compile("[&<>'\"]")


def _html_text(text: str) -> str:
    """`text` as an HTML template prints it: escaped (most need nothing, and are returned)."""
    return str(escape(text)) if _HTML_SPECIAL.search(text) else text


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html", ".htm"))


class _Environment(jinja2.Environment):
    """A Jinja environment whose templates see its globals as one plain dict.

    Jinja lays a template's own globals over the environment's as a chain of
    mappings, which each render then copies twice, key by key: a fifth of the
    time of rendering an entry. The renderer sets its globals before it loads
    any template, and never changes them after.
    """

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


class DigestRenderer:
    """Renders digests through the packaged templates or the user's overrides.

    `override_dir`, when given, is searched first: a file there named like a
    packaged template (`subject.txt`, `email.txt`, `email.html`, `digest.md`)
    replaces it. HTML templates are autoescaped; every template is strict about
    undefined names, so a typo in an override fails loudly instead of printing
    nothing.
    """

    def __init__(self, override_dir: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if override_dir is not None:
            loaders.append(jinja2.FileSystemLoader(override_dir))
        # The packaged entry templates show a paper's text as they get it; the user's
        # own may change it (`| upper`), so theirs are rendered whole each time.
        self._own_templates = frozenset(loaders[0].list_templates() if loaders else ())
        loaders.append(packaged_templates())
        self.env = _Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=_autoescape,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Each template is read once per renderer, and a run makes its own: no
            # look at the file's time at each of a run's tens of thousands of renders.
            auto_reload=False,
        )
        self.env.filters["md"] = markdown_escape
        self.env.filters["mdurl"] = markdown_url
        # One prepared view per paper (and per reason) for the renderer's lifetime:
        # the same paper in 10,000 digests is cleaned, cut, wrapped and escaped once.
        self.paper_view: Callable[[DigestPaper], PaperView] = lru_cache(PAPER_CACHE_SIZE)(
            make_paper_view
        )
        self.reason_view: Callable[[MatchReason], ReasonView] = lru_cache(ENTRY_CACHE_SIZE)(
            make_reason_view
        )
        # Thousands of digests show the same paper: it is rendered once per template
        # (`paper.*`) and each entry adds its reason around it. The packaged entry
        # templates' entries are filled in from forms (see `entry`); the others are
        # rendered once and kept, their own text around the paper's, not a copy of it.
        self.entry_pieces: Callable[[str, EntryView, bool], tuple[str, ...]] = lru_cache(
            ENTRY_CACHE_SIZE
        )(self._render_entry)
        self.paper: Callable[[str, PaperView, bool], str] = lru_cache(PAPER_CACHE_SIZE)(
            self._render_paper
        )
        self.env.globals.update(
            {function: self._shown(paper_template) for function, paper_template in _PAPERS.items()}
        )
        # The packaged entry templates' forms, by shape of entry (see `entry`).
        self._forms: dict[FormKey, EntryForm | None] = {}
        self._marks = known_marks((str, _html_text, markdown_escape))

    def _shown(self, paper_template: str) -> Callable[..., str]:
        """The templates' function that shows a paper by `paper_template`, marked safe in HTML."""
        html = _autoescape(paper_template)

        def show(paper: PaperView, show_topics: bool = False) -> str:
            text = self.paper(paper_template, paper, show_topics)
            return Markup(text) if html else text

        return show

    def entry(self, name: str, entry: EntryView, show_topics: bool) -> str:
        """Return `entry` rendered by the template `name` (`entry.html`, `.txt`, `.md`).

        A packaged template's entries are filled in from its form for their shape
        (`bot.digest.entry_forms`); the user's own, and any the form cannot stand
        for, are rendered whole and kept.
        """
        if name not in self._own_templates:
            key = form_key(name, entry, show_topics)
            try:
                form = self._forms[key]
            except KeyError:  # the first entry of its shape
                form = self._new_form(key, name, entry, show_topics)
            if form is not None:
                return form.fill(entry, self.paper)
        return "".join(self.entry_pieces(name, entry, show_topics))

    def _new_form(
        self, key: FormKey, name: str, entry: EntryView, show_topics: bool
    ) -> EntryForm | None:
        """Make (and keep) the form of template `name` for entries of `entry`'s shape."""
        if len(self._forms) >= FORM_CACHE_SIZE:
            self._forms.clear()  # shapes are few: this bounds an unforeseen variety
        probed = probe(entry)
        rendered, calls = self._render_marked(self.env.get_template(name), probed, show_topics)
        form = self._forms[key] = make_form(rendered, calls, probed, self._marks)
        return form

    def _render_marked(
        self, template: jinja2.Template, entry: EntryView, show_topics: bool
    ) -> tuple[str, list[PaperCall]]:
        """Render `entry` with each call of a paper function leaving its `paper_mark`."""
        calls: list[PaperCall] = []

        def marked(paper_template: str) -> Callable[..., Markup]:
            def mark(paper: PaperView, show_topics: bool = False) -> Markup:
                calls.append(PaperCall(paper_template, show_topics, paper))
                return Markup(paper_mark(len(calls) - 1))

            return mark

        marks = {function: marked(paper_template) for function, paper_template in _PAPERS.items()}
        return template.render(e=entry, show_topics=show_topics, **marks), calls

    def _render_entry(self, name: str, entry: EntryView, show_topics: bool) -> tuple[str, ...]:
        """Render an entry as its pieces: its own text, and the paper's text objects as kept.

        The template's calls of `paper_*` put a numbered mark in the text, split on
        afterwards. The user's own entry templates, and a reason holding what
        looks like a mark, leave the entry whole.
        """
        template = self.env.get_template(name)
        if name in self._own_templates:
            return (template.render(e=entry, show_topics=show_topics),)
        text, calls = self._render_marked(template, entry, show_topics)
        pieces = PAPER_MARK.split(text)
        if pieces[1::2] != [str(n) for n in range(len(calls))]:
            return (template.render(e=entry, show_topics=show_topics),)
        pieces[1::2] = [self.paper(c.template, c.paper, c.show_topics) for c in calls]
        return tuple(pieces)

    def _render_paper(self, name: str, paper: PaperView, show_topics: bool) -> str:
        return self.env.get_template(name).render(p=paper, show_topics=show_topics)

    def context(self, digest: Digest) -> dict[str, Any]:
        """Return the names every template sees for `digest`."""
        sections = tuple(
            SectionView(
                topic=one_line(section.topic),
                entries=tuple(
                    EntryView(self.paper_view(e.paper), self.reason_view(e.reason), e.score)
                    for e in section.entries
                ),
            )
            for section in digest.sections
            if section.entries
        )
        entries = tuple(e for s in sections for e in s.entries)
        show_topics = len(sections) > 1
        return {
            "digest": digest,
            "day": digest.day.isoformat(),
            "sections": sections,
            "entries": entries,
            "count": len(entries),
            "show_topics": show_topics,
            "html_entry": lambda e: Markup(self.entry("entry.html", e, show_topics)),
            "text_entry": lambda e: self.entry("entry.txt", e, show_topics),
            "markdown_entry": lambda e: self.entry("entry.md", e, show_topics),
            "more": digest.more,
            "manage_url": web_url(digest.manage_url),
            "unsubscribe_url": web_url(digest.unsubscribe_url),
            "feedback": _feedback_views(digest),
        }

    def _render(self, name: str, digest: Digest, context: dict[str, Any] | None = None) -> str:
        return self.env.get_template(name).render(context or self.context(digest))

    def subject(self, digest: Digest, context: dict[str, Any] | None = None) -> str:
        """Return the subject line: one line, whatever the titles hold, at most 200 characters.

        `context`, when given, is `self.context(digest)` made once for several parts.
        """
        return shorten(one_line(self._render("subject.txt", digest, context)), SUBJECT_MAX)

    def text(self, digest: Digest, context: dict[str, Any] | None = None) -> str:
        """Return the plain-text part of the email."""
        return self._render("email.txt", digest, context)

    def html(self, digest: Digest, context: dict[str, Any] | None = None) -> str:
        """Return the HTML part of the email (inline styles only, no images or scripts)."""
        return self._render("email.html", digest, context)

    def markdown(self, digest: Digest) -> str:
        """Return the digest as Markdown, abstracts whole."""
        return self._render("digest.md", digest)
