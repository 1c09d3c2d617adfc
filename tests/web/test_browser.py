"""The subscriber's whole path in a real headless Chromium, against `paperbot web` as a process.

Subscribe, receive the confirmation at a real local SMTP server, follow its link,
change the keywords and see the preview change, save, get a digest, unsubscribe
with one click. JavaScript is off: every page must work without it. Screenshots
of each page (desktop and phone) go to the test artifacts folder.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize

from tests.conftest import SAMPLES, BrowserThread, RunCli
from tests.delivery.conftest import SmtpServer, free_port
from tests.web.conftest import running_web

DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 740}


@dataclass(frozen=True)
class BrowserSite:
    """A running `paperbot web` and the settings shared with the CLI."""

    base: str
    env: dict[str, str]


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer, run_cli: RunCli) -> Iterator[BrowserSite]:
    """`paperbot web` on a free port, sending through the test's SMTP server; papers ingested."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "PAPERBOT_WEB_PORT": str(port),
        "PAPERBOT_WEB_BASE_URL": base,
        "PAPERBOT_DELIVERY_TRANSPORT": "smtp",
        "PAPERBOT_SMTP_HOST": smtp_server.host,
        "PAPERBOT_SMTP_PORT": str(smtp_server.port),
        "PAPERBOT_SMTP_SECURITY": "none",
    }
    ingested = run_cli("ingest", "--year", "2025", str(SAMPLES / "spaced-1.txt"), env=env)
    assert ingested.returncode == 0, ingested.stderr
    with running_web(tmp_path, env, f"{base}/subscribe"):
        yield BrowserSite(base, env)


def _guarded_page(browser: Browser, base: str, blocked: list[str], *, phone: bool = False) -> Page:
    """A page with JavaScript off, where any request outside the site is blocked and recorded."""
    context = browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        is_mobile=phone,
        java_script_enabled=False,
    )

    def guard(route: Route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    return context.new_page()


def _fits(page: Page) -> bool:
    width: int = page.evaluate("document.scrollingElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None  # every context here is made with one
    return width <= viewport["width"]


def _preview_titles(page: Page) -> list[str]:
    # The title is the heading's first link (a PDF link may follow it).
    return [t.strip() for t in page.locator("#preview .paper h3 > a:first-child").all_inner_texts()]


def _link(text: str, path: str) -> str:
    found = re.search(rf"https?://\S+/{path}/\S+", text)
    assert found, f"no /{path}/ link in:\n{text}"
    return found[0]


def _digest_link(site: BrowserSite, run_cli: RunCli, smtp_server: SmtpServer, path: str) -> str:
    """The first `/path/` link of the digest a new reader of graph neural networks gets."""
    subscribed = run_cli("subscribe", "reader@lab.org", "graph neural network", env=site.env)
    assert subscribed.returncode == 0, subscribed.stderr
    assert run_cli("digest", env=site.env).returncode == 0
    body = smtp_server.handler.received[-1].message.get_body(("plain",))
    assert body is not None
    return _link(body.get_content(), path)


def test_subscribe_confirm_edit_preview_and_unsubscribe_in_a_browser(
    site: BrowserSite,
    browser: BrowserThread,
    smtp_server: SmtpServer,
    run_cli: RunCli,
    artifacts: Path,
) -> None:
    blocked: list[str] = []

    def subscribe(b: Browser) -> tuple[str, bool]:
        page = _guarded_page(b, site.base, blocked)
        page.goto(f"{site.base}/subscribe")
        page.fill("#email", "reader@lab.org")
        page.fill("#keywords", "graph neural network")
        page.screenshot(path=artifacts / "web-subscribe.png", full_page=True)
        page.click("button[type=submit]")
        text = page.inner_text("main")
        page.screenshot(path=artifacts / "web-subscribe-sent.png", full_page=True)
        phone = _guarded_page(b, site.base, blocked, phone=True)
        phone.goto(f"{site.base}/subscribe")
        phone.screenshot(path=artifacts / "web-subscribe-phone.png", full_page=True)
        return text, _fits(phone)

    sent_text, fits_phone = browser.run(subscribe)
    assert "confirmation link" in sent_text and fits_phone
    # Nothing is active before the link is followed.
    listed = run_cli("subscriptions", "--json", env=site.env)
    assert "reader@lab.org" not in listed.stdout
    [confirmation] = smtp_server.handler.received
    assert confirmation.recipients == ["reader@lab.org"]
    body = confirmation.message.get_body(("plain",))
    assert body is not None
    confirm_url = _link(body.get_content(), "confirm")

    def confirm_and_manage(b: Browser) -> tuple[list[str], list[str], str, bool]:
        page = _guarded_page(b, site.base, blocked)
        # A browser that never saw the site: the button needs no cookie from before.
        page.goto(confirm_url)
        page.screenshot(path=artifacts / "web-confirm.png", full_page=True)
        page.click("button[type=submit]")
        page.screenshot(path=artifacts / "web-confirmed.png", full_page=True)
        page.click("a[href*='/manage/']")
        before = _preview_titles(page)
        page.fill("textarea[name$='-keywords']", "diffusion")
        page.click("button[value=preview]")
        after = _preview_titles(page)
        page.screenshot(path=artifacts / "web-manage-preview.png", full_page=True)
        page.click("button[value=save]")
        saved = page.inner_text("main")
        phone = _guarded_page(b, site.base, blocked, phone=True)
        phone.goto(page.url)
        phone.screenshot(path=artifacts / "web-manage-phone.png", full_page=True)
        return before, after, saved, _fits(phone)

    before, after, saved, fits_phone = browser.run(confirm_and_manage)
    assert before and after and set(before).isdisjoint(after)
    assert any("graph" in title.lower() for title in before)
    assert "Saved" in saved and fits_phone
    listed = run_cli("subscriptions", "--json", env=site.env)
    assert "reader@lab.org" in listed.stdout and "diffusion" in listed.stdout
    assert "graph neural network" not in listed.stdout

    # A digest carries the one-click unsubscribe link; the page's button unsubscribes.
    assert run_cli("digest", env=site.env).returncode == 0
    digest = smtp_server.handler.received[-1].message
    unsubscribe_url = str(digest["List-Unsubscribe"]).split("<")[1].split(">")[0]

    def unsubscribe(b: Browser) -> tuple[str, str]:
        page = _guarded_page(b, site.base, blocked)
        page.goto(unsubscribe_url)
        shown = page.inner_text("main")
        page.screenshot(path=artifacts / "web-unsubscribe.png", full_page=True)
        page.click("button[type=submit]")
        done = page.inner_text("main")
        page.screenshot(path=artifacts / "web-unsubscribed.png", full_page=True)
        return shown, done

    shown, done = browser.run(unsubscribe)
    assert "Unsubscribe" in shown and "unsubscribed" in done.lower()
    assert "reader@lab.org" not in run_cli("subscriptions", "--json", env=site.env).stdout
    assert blocked == []  # no page fetched anything from elsewhere


def test_a_more_like_this_link_from_a_digest_marks_the_paper_in_a_browser(
    site: BrowserSite,
    browser: BrowserThread,
    smtp_server: SmtpServer,
    run_cli: RunCli,
    artifacts: Path,
) -> None:
    more_url = _digest_link(site, run_cli, smtp_server, "feedback/more")
    blocked: list[str] = []

    def give_feedback(b: Browser) -> tuple[str, str, str]:
        page = _guarded_page(b, site.base, blocked)
        page.goto(more_url)
        title = page.inner_text("main p strong")
        page.screenshot(path=artifacts / "web-feedback.png", full_page=True)
        page.click("button[type=submit]")
        done = page.inner_text("main")
        page.screenshot(path=artifacts / "web-feedback-done.png", full_page=True)
        return title, done, page.get_attribute("a[href*='/manage/']", "href") or ""

    title, done, manage = browser.run(give_feedback)
    assert "Noted: more like this" in done and title in done
    assert manage.startswith(f"{site.base}/manage/")
    listed = run_cli("subscriptions", "--json", env=site.env)
    [reader] = json.loads(listed.stdout)
    [topic] = reader["topics"]
    assert [paper["title"] for paper in topic["liked"]] == [title]
    assert topic["unliked"] == []
    assert blocked == []


def test_the_archive_is_searched_and_paged_in_a_browser_without_javascript(
    site: BrowserSite, browser: BrowserThread, artifacts: Path
) -> None:
    blocked: list[str] = []

    def browse(b: Browser) -> tuple[str, str, int, str, str, bool]:
        page = _guarded_page(b, site.base, blocked)
        page.goto(f"{site.base}/")
        page.click("a[href='/archive']")
        page.click("a[href^='/archive/']")
        page.fill("#q", "model")
        page.click("form[role=search] button[type=submit]")
        count = page.inner_text("#count")
        marks = page.locator(".paper mark").count()
        page.screenshot(path=artifacts / "web-archive-search.png", full_page=True)
        page.click("a[rel=next]")
        second_url, second = page.url, page.inner_text("main")
        phone = _guarded_page(b, site.base, blocked, phone=True)
        phone.goto(second_url)
        phone.screenshot(path=artifacts / "web-archive-phone.png", full_page=True)
        return count, page.input_value("#q"), marks, second_url, second, _fits(phone)

    count, kept, marks, second_url, second, fits_phone = browser.run(browse)
    assert count.startswith("53 of 63 papers match “model”") and marks == 25
    assert second_url.endswith("?q=model&page=2") and kept == "model"
    assert "Page 2 of 3" in second and "26\N{EN DASH}50 shown" in second
    assert fits_phone and blocked == []


def test_an_example_paper_is_found_added_and_removed_on_the_manage_page(
    site: BrowserSite,
    browser: BrowserThread,
    smtp_server: SmtpServer,
    run_cli: RunCli,
    artifacts: Path,
) -> None:
    manage_url = _digest_link(site, run_cli, smtp_server, "manage")
    title = "Forward Learning of Graph Neural Networks"
    blocked: list[str] = []

    def add_and_remove(b: Browser) -> tuple[list[str], str, list[str], str]:
        page = _guarded_page(b, site.base, blocked)
        page.goto(manage_url)
        card = page.locator("[id^='examples-']").first
        card.locator("input[name=find]").fill("forward learning of graph")
        card.locator("form[method=get] button[type=submit]").click()
        found = page.locator("ul[aria-label='Papers found'] li")
        results = [text.strip() for text in found.all_inner_texts()]
        found.filter(has_text=title).locator("button[name=liked][value='1']").click()
        card = page.locator("[id^='examples-']").first
        listed = card.locator("ul.papers").first.inner_text()
        page.screenshot(path=artifacts / "web-manage-examples.png", full_page=True)
        card.locator("ul.papers li", has_text=title).locator("button", has_text="Remove").click()
        card = page.locator("[id^='examples-']").first
        after = card.locator("ul.papers").all_inner_texts()
        return results, listed, after, page.inner_text("main")

    results, listed, after, shown = browser.run(add_and_remove)
    assert any(title in result for result in results)
    assert title in listed and "Liked" in listed and "added here" in listed
    assert all(title not in text for text in after)
    assert "No example papers yet." in shown and "Example papers updated" in shown
    assert blocked == []


def test_a_slack_webhook_is_added_chosen_and_removed_on_the_manage_page(
    site: BrowserSite,
    browser: BrowserThread,
    smtp_server: SmtpServer,
    run_cli: RunCli,
    artifacts: Path,
) -> None:
    manage_url = _digest_link(site, run_cli, smtp_server, "manage")
    hook = "https://hooks.slack.com/services/T0000/B0000/Xs3cretXs3cretXs3cret"
    blocked: list[str] = []

    def add_and_remove(b: Browser) -> tuple[str, bool, str, str]:
        page = _guarded_page(b, site.base, blocked)
        page.goto(manage_url)
        card = page.locator("#channels")
        card.locator("select[name=kind]").select_option("slack")
        card.locator("input[name=name]").fill("lab-room")
        card.locator("input[name=url]").fill(hook)
        card.locator("button", has_text="Add channel").click()
        listed = page.locator("#channels").inner_text()
        chosen = page.locator("input[name='channel-lab-room']").is_checked()
        page.screenshot(path=artifacts / "web-manage-channels.png", full_page=True)
        source = page.content()
        page.locator("#channels li", has_text="lab-room").locator("button").click()
        return listed, chosen, source, page.locator("#channels").inner_text()

    listed, chosen, source, after = browser.run(add_and_remove)
    assert "Chat channels updated." in listed
    assert "lab-room: Slack webhook https://hooks.slack.com/***" in listed
    assert chosen  # the reader's digests go to it
    assert "s3cret" not in source and "T0000" not in source
    assert "lab-room" not in after and blocked == []
    channels = json.loads(run_cli("subscriptions", "--json", env=site.env).stdout)
    assert [s["channels"] for s in channels] == [["email"]]
