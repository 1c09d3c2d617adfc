"""The HTML email as a reader sees it: opened in a real headless Chromium, on a desktop and a phone.

The digest is built by `build_message`, serialised as SMTP would carry it and parsed back;
the HTML part's bytes are what the browser loads, decoded with the part's own charset. The
page may run scripts (JavaScript stays on), so "no script runs" says the email has none, not
that the browser ignored them. Every request other than the page itself is blocked and
recorded. Full-page screenshots go to the test artifacts folder for people to look at.
"""

import base64
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Request, Route, ViewportSize

from bot.digest.message import build_message
from bot.digest.model import Digest, DigestEntry, DigestPaper, DigestSection, MatchReason
from bot.digest.render import DigestRenderer
from tests.conftest import BrowserThread

# One worker runs them all: the page is loaded once per module (the fixtures below), and
# two workers each loading it would write the same screenshot files at once.
pytestmark = pytest.mark.xdist_group("email-in-browser")

LOCAL = ("data:", "about:")  # the page itself; anything else would leave the machine
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 667}
COLUMN_MAX = 600  # the template's one content column, in CSS px

# A realistic long link with no break opportunity (no hyphen, no space): shared-data links
# like this one are common in abstracts.
UNBROKEN_URL = (
    "https://drive.google.com/file/d/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEf/view?usp=sharing"
)
# A long link that a browser may break at its hyphens.
LONG_URL = "https://github.com/example-lab/" + "scalable-video-diffusion-" * 5 + "reference-code"

SCRIPT_TITLE = '<script>alert("title")</script> Graph Neural Networks <img src=x onerror=alert(2)>'
SCRIPT_PAPER = DigestPaper(
    paper_id=1,
    title=SCRIPT_TITLE,
    abstract=(
        "Graph neural networks, with a tracking pixel in the abstract: "
        '<img src="https://tracker.example/pixel.gif"> and <a href="javascript:alert(3)">x</a>.'
    ),
    authors=("Ana Lima", "Bo Chen"),
    arxiv_id="2411.00001",
)
LATEX_PAPER = DigestPaper(
    paper_id=2,
    title="Fr\\'echet {\\sc Graph} Kernels in $O(n \\log n)$ Time",
    abstract='We compare \\emph{graph} kernels with G\\"odel-style baselines at 40\\% less cost.',
    authors=("Chloé Martin",),
    paper_date=date(2024, 11, 20),
    upvotes=42,
    arxiv_id="2411.01234",
)
UNICODE_PAPER = DigestPaper(
    paper_id=3,
    title="Über Möbius-Graphen: 図のニューラルネットワーク",
    abstract="Möbius-Transformationen auf Graphen; 日本語の要約もあります。Ça marche — naïvement.",
    authors=("Zoë Ångström", "李雷", "Ólafur Þórsson"),
    url="https://papers.example.org/mobius",
)
URL_PAPER = DigestPaper(
    paper_id=4,
    title="Scalable Video Diffusion",
    abstract=f"Video diffusion models at scale. Code and weights: {LONG_URL} for everyone.",
    author_count=12,
    organization="Example Lab",
    code_urls=(LONG_URL,),
    project_urls=("javascript:alert(4)", "https://example.org/svd"),
    url="https://papers.example.org/svd",
)


def _reason(topic: str, keyword: str, field: str, snippet: str, matched: str) -> MatchReason:
    start = snippet.index(matched)
    return MatchReason(topic, keyword, field, snippet, (start, start + len(matched)), 1.0)


DIGEST = Digest(
    subscriber_id=7,
    email="ana@lab.org",
    day=date(2024, 11, 22),
    sections=(
        DigestSection(
            "graphs & <i>kernels</i>",
            (
                DigestEntry(
                    SCRIPT_PAPER,
                    _reason(
                        "graphs & <i>kernels</i>",
                        "graph neural network",
                        "title",
                        SCRIPT_TITLE,
                        "Graph Neural Networks",
                    ),
                    2.0,
                ),
                DigestEntry(
                    LATEX_PAPER,
                    _reason(
                        "graphs & <i>kernels</i>",
                        "graph kernel",
                        "title",
                        LATEX_PAPER.title,
                        "{\\sc Graph} Kernels",
                    ),
                    2.0,
                ),
                DigestEntry(
                    UNICODE_PAPER,
                    _reason(
                        "graphs & <i>kernels</i>", "mobius", "title", UNICODE_PAPER.title, "Möbius"
                    ),
                    2.0,
                ),
            ),
        ),
        DigestSection(
            "video",
            (
                DigestEntry(
                    URL_PAPER,
                    _reason(
                        "video",
                        "video diffusion",
                        "abstract",
                        URL_PAPER.abstract,
                        "Video diffusion",
                    ),
                    1.0,
                ),
            ),
        ),
    ),
    more=3,
    unsubscribe_url="https://papers.example.org/u/abc?t=1&s=2",
    manage_url="https://papers.example.org/m/abc",
)

# What the page must show, from the raw titles above: LaTeX made readable, math kept,
# markup as text, every non-ASCII letter intact after quoted-printable and the charset.
TITLES = [
    SCRIPT_TITLE,
    "Fréchet Graph Kernels in $O(n \\log n)$ Time",
    "Über Möbius-Graphen: 図のニューラルネットワーク",
    "Scalable Video Diffusion",
]
MARKED = ["Graph Neural Networks", "Graph Kernels", "Möbius", "Video diffusion"]

# Read in the page after it loaded: layout in CSS px, and what the document holds.
FACTS = """() => {
    const heading = document.querySelector("h1");
    const column = (heading ? heading.closest("table") : document.body).getBoundingClientRect();
    const all = [...document.querySelectorAll("body *")];
    return {
        viewport: window.innerWidth,
        scroll_width: document.scrollingElement.scrollWidth,
        column_left: column.left,
        column_right: column.right,
        widest_right: Math.max(...all.map((e) => e.getBoundingClientRect().right)),
        // The title is the heading's first link (the PDF link follows it).
        titles: [...document.querySelectorAll("h3")].map((h) => (h.firstElementChild || h).innerText),
        marks: [...document.querySelectorAll("mark")].map((m) => m.textContent),
        hrefs: [...document.querySelectorAll("a")].map((a) => a.getAttribute("href")),
        active: [...document.querySelectorAll("script, iframe, object, embed, base, form")]
            .map((e) => e.tagName),
        handlers: all.flatMap((e) => [...e.attributes].filter((a) => a.name.startsWith("on"))
            .map((a) => `${e.tagName} ${a.name}`)),
        text: document.body.innerText,
    };
}"""


@dataclass
class Loaded:
    """One page load: every request, what was blocked, dialogs, script errors, facts."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def outside(self) -> list[str]:
        """Requests for anything but the page itself."""
        return [url for url in self.requests if not url.startswith(LOCAL)]


def _html_part(digest: Digest) -> tuple[bytes, str]:
    """The HTML part of `digest`'s email, as bytes off the wire, and its declared charset."""
    message = build_message(
        digest,
        renderer=DigestRenderer(),
        sender="paperbot <bot@example.org>",
        now=datetime(2024, 11, 22, 9, 30, tzinfo=UTC),
        domain="example.org",
    )
    parsed = BytesParser(policy=policy.default).parsebytes(bytes(message))
    part = parsed.get_body(("html",))
    assert isinstance(part, EmailMessage)
    payload = part.get_payload(decode=True)
    charset = part.get_content_charset()
    assert isinstance(payload, bytes) and charset is not None
    return payload, charset


def _open(
    browser: Browser,
    html: bytes,
    charset: str,
    *,
    phone: bool,
    screenshot: Path | None = None,
) -> Loaded:
    """Load `html` in a fresh context (desktop or phone), guarded; runs in the browser thread."""
    loaded = Loaded()
    context = browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        is_mobile=phone,  # a phone honours the page's viewport meta tag
        has_touch=phone,
        device_scale_factor=2 if phone else 1,
        java_script_enabled=True,
    )

    def guard(route: Route) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            loaded.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def dialog(opened: Dialog) -> None:
        loaded.dialogs.append(opened.message)
        opened.dismiss()

    def request(sent: Request) -> None:
        loaded.requests.append(sent.url)

    try:
        context.route("**/*", guard)
        page = context.new_page()
        page.on("request", request)
        page.on("dialog", dialog)
        page.on("pageerror", lambda error: loaded.errors.append(str(error)))
        encoded = base64.b64encode(html).decode("ascii")
        page.goto(f"data:text/html;charset={charset};base64,{encoded}", wait_until="load")
        loaded.facts = page.evaluate(FACTS)
        if screenshot is not None:
            page.screenshot(path=screenshot, full_page=True)
    finally:
        context.close()
    return loaded


@pytest.fixture(scope="module")
def email_html() -> tuple[bytes, str]:
    return _html_part(DIGEST)


@pytest.fixture(scope="module")
def desktop(browser: BrowserThread, artifacts: Path, email_html: tuple[bytes, str]) -> Loaded:
    """The digest on a 1280-px desktop viewport; screenshot `email-desktop.png`."""
    shot = artifacts / "email-desktop.png"
    return browser.run(lambda b: _open(b, *email_html, phone=False, screenshot=shot))


@pytest.fixture(scope="module")
def phone(browser: BrowserThread, artifacts: Path, email_html: tuple[bytes, str]) -> Loaded:
    """The digest on a 375-px phone viewport; screenshot `email-phone.png`."""
    shot = artifacts / "email-phone.png"
    return browser.run(lambda b: _open(b, *email_html, phone=True, screenshot=shot))


@pytest.fixture(params=["desktop", "phone"])
def page(request: pytest.FixtureRequest) -> Loaded:
    """Each of the two loads in turn."""
    loaded: Loaded = request.getfixturevalue(request.param)
    return loaded


def test_the_guards_see_requests_scripts_and_dialogs(browser: BrowserThread) -> None:
    """The checks below are not blind: a page that fetches and scripts is caught doing it.

    The same loader, given a tracking pixel and a script that opens a dialog, records
    the request (and blocks it before it leaves the machine) and the dialog.
    """
    html = b'<img src="https://tracker.example/p.gif"><script>alert("ran")</script>'
    loaded = browser.run(lambda b: _open(b, html, "utf-8", phone=False))
    assert loaded.outside == loaded.blocked == ["https://tracker.example/p.gif"]
    assert loaded.dialogs == ["ran"]
    assert loaded.facts["active"] == ["SCRIPT"]


def test_the_email_requests_nothing_from_outside(page: Loaded) -> None:
    """Opening the email fetches nothing: no image, font, stylesheet or tracking pixel.

    Markup in a paper's abstract (an `<img>` pointing elsewhere) is text, not a request.
    """
    assert page.outside == [] and page.blocked == []
    assert '<img src="https://tracker.example/pixel.gif">' in page.facts["text"]


def test_no_script_runs_and_markup_in_titles_shows_as_text(page: Loaded) -> None:
    """A `<script>` or an `onerror=` in a title is shown as written and never runs.

    No dialog opened, no script error, no script, frame, form or event-handler attribute
    in the document; the page shows the title with its tags as text.
    """
    assert page.dialogs == [] and page.errors == []
    assert page.facts["active"] == [] and page.facts["handlers"] == []
    assert page.facts["titles"][0] == SCRIPT_TITLE
    assert "graphs & <i>kernels</i>" in page.facts["text"]  # a topic name too


def test_titles_read_as_written_latex_cleaned_non_ascii_intact(page: Loaded) -> None:
    """Every title reaches the reader as text: LaTeX made readable, math kept, any script.

    The bytes went through quoted-printable and the part's charset: a mojibake or a lost
    letter would show here.
    """
    assert page.facts["titles"] == TITLES
    assert "Zoë Ångström, 李雷, Ólafur Þórsson" in page.facts["text"]
    assert "G\u00f6del-style baselines at 40% less cost" in page.facts["text"]


def test_each_matched_keyword_is_highlighted(page: Loaded) -> None:
    """The words that matched are in a <mark>, one per paper, LaTeX cleaned inside it too."""
    assert page.facts["marks"] == MARKED


def test_every_link_is_https(page: Loaded) -> None:
    """Every link is https; a `javascript:` link given as a project page is not a link at all."""
    hrefs: list[str | None] = page.facts["hrefs"]
    assert hrefs and all(href is not None and href.startswith("https://") for href in hrefs)
    assert {
        "https://arxiv.org/abs/2411.00001",
        "https://arxiv.org/pdf/2411.00001",
        "https://papers.example.org/mobius",
        LONG_URL,
        "https://example.org/svd",
        "https://papers.example.org/u/abc?t=1&s=2",
        "https://papers.example.org/m/abc",
    } <= set(hrefs)


def test_on_a_desktop_the_content_is_one_centred_column_of_600px(desktop: Loaded) -> None:
    """On a 1280-px screen the content is one column at most 600 CSS px wide, centred."""
    facts = desktop.facts
    width = facts["column_right"] - facts["column_left"]
    assert COLUMN_MAX * 0.9 <= width <= COLUMN_MAX
    left_margin, right_margin = facts["column_left"], facts["viewport"] - facts["column_right"]
    assert abs(left_margin - right_margin) <= 1
    assert facts["scroll_width"] <= facts["viewport"] == DESKTOP["width"]


def test_on_a_phone_nothing_scrolls_sideways(phone: Loaded) -> None:
    """On a 375-px phone the whole email fits the width: no horizontal scrolling.

    Checked both for the document (its scroll width) and for every element's right edge,
    so a box overflowing inside the page counts too. The long link, broken at its hyphens,
    fits.
    """
    facts = phone.facts
    assert facts["viewport"] == PHONE["width"]
    assert facts["scroll_width"] <= PHONE["width"]
    assert facts["widest_right"] <= PHONE["width"]
    assert facts["column_right"] - facts["column_left"] <= PHONE["width"]


def test_screenshots_are_written(desktop: Loaded, phone: Loaded, artifacts: Path) -> None:
    """Full-page screenshots of both loads are in the artifacts folder, as PNG files."""
    for name in ("email-desktop.png", "email-phone.png"):
        assert (artifacts / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_long_unbroken_link_does_not_widen_the_email(
    browser: BrowserThread, artifacts: Path
) -> None:
    """A link with nothing to break at (a shared-drive URL) still fits a phone and the column.

    Screenshot `email-unbroken-link-phone.png` shows the result.
    """
    paper = replace(URL_PAPER, abstract=f"Video diffusion. Data: {UNBROKEN_URL} for everyone.")
    entry = DigestEntry(
        paper,
        _reason("video", "video diffusion", "abstract", paper.abstract, "Video diffusion"),
        1.0,
    )
    digest = replace(DIGEST, sections=(DigestSection("video", (entry,)),))
    html, charset = _html_part(digest)
    shot = artifacts / "email-unbroken-link-phone.png"
    on_phone = browser.run(lambda b: _open(b, html, charset, phone=True, screenshot=shot))
    on_desktop = browser.run(lambda b: _open(b, html, charset, phone=False))
    assert on_phone.facts["scroll_width"] <= PHONE["width"]
    assert on_desktop.facts["column_right"] - on_desktop.facts["column_left"] <= COLUMN_MAX
