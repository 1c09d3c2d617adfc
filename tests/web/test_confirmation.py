"""What confirming a subscription does to the address's stored subscriber, on each database.

Through the real app: whoever fills in the form may not be the address's owner,
and a mail provider's link scanner opens every link it finds. Opening a
confirmation link changes nothing; pressing its button adds the keywords without
replacing anything the subscriber set. Nor can the form flood an address: its
confirmation emails are capped per UTC day, in the database, for every worker.
"""

import hashlib
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, SQLModel
from sqlmodel import select as sqlmodel_select

from bot.db import write_session
from bot.models import ConfirmationCount, PendingSubscription
from bot.subscriptions.spec import make_spec
from bot.subscriptions.store import subscribe, unsubscribe
from tests.delivery.conftest import SmtpServer
from tests.web.conftest import SENT, T0, MakeSite, Site, link_in


def _everything(site: Site) -> dict[str, list[Any]]:
    """Every row of every table, in a stable order: the whole stored state."""
    with Session(site.engine) as session:
        return {
            table.name: sorted(map(tuple, session.execute(select(table))), key=repr)
            for table in SQLModel.metadata.sorted_tables
        }


def _bob(site: Site) -> None:
    """Bob, subscribed on his own: one topic, weekly, Markdown, Berlin time."""
    spec = make_spec(
        "bob@lab.org", ["GAN"], ["medical"], cadence="weekly", channels=["markdown"],
        timezone="Europe/Berlin",
    )  # fmt: skip
    with write_session(site.engine) as session:
        subscribe(session, spec, now=T0)


def _request_for_bob(site: Site, **fields: str) -> str:
    """A stranger asks for Bob's address (from a browser of their own); the link Bob gets."""
    stranger = site.new_client("198.51.100.7")
    form = {"email": "bob@lab.org", "keywords": "robotics", "cadence": "daily", "channels": "email"}
    site.subscribe(stranger, **{**form, **fields})
    return link_in(site.inbox()[-1])


def test_opening_a_confirmation_link_changes_nothing_however_often(site: Site) -> None:
    _bob(site)
    with write_session(site.engine) as session:  # and someone who left
        subscribe(session, make_spec("cy@lab.org", ["GAN"]), now=T0)
        unsubscribe(session, "cy@lab.org", now=T0)
    links = [_request_for_bob(site)]
    site.subscribe(email="new@lab.org", keywords="robotics")
    site.subscribe(email="cy@lab.org", keywords="robotics")
    links += [link_in(message) for message in site.inbox()[1:]]
    before = _everything(site)
    for _ in range(3):
        for link in links:
            # A scanner, then a person: plain GETs, with and without cookies, later on.
            for client in (site.client, site.new_client("203.0.113.9")):
                shown = client.get(link)
                assert shown.status_code == 200
                assert '<form method="post"' in shown.text and "<li>robotics</li>" in shown.text
                assert "/manage/" not in shown.text
        site.now[0] += timedelta(hours=1)
    assert _everything(site) == before


def test_confirming_for_a_subscriber_adds_a_topic_and_keeps_their_settings(site: Site) -> None:
    _bob(site)
    link = _request_for_bob(site, keywords="robotics\nLoRA", exclusions="survey")
    shown = site.new_client().get(link)
    assert "already receives digests" in shown.text and "Add this topic" in shown.text
    assert "Weekly, on Mondays at 08:00</strong>, as a Markdown file" in shown.text
    assert "Europe/Berlin" in shown.text
    # Bob presses the button in a browser that never saw the site: no cookie needed.
    done = site.press(link, site.new_client("192.0.2.55"))
    assert done.status_code == 200 and "Topic added" in done.text
    assert "“default 2”" in done.text
    (bob,) = site.subscribers()
    assert (bob.cadence, bob.channels, bob.timezone) == ("weekly", ("markdown",), "Europe/Berlin")
    assert [(t.name, t.keywords, t.exclusions) for t in bob.topics] == [
        ("default", ("GAN",), ("medical",)),
        ("default 2", ("robotics", "LoRA"), ("survey",)),
    ]
    # Another request with yet other keywords: a third topic, and still nothing replaced.
    site.now[0] += timedelta(minutes=10)
    site.confirm(_request_for_bob(site, keywords="diffusion", cadence="daily"))
    (bob,) = site.subscribers()
    assert [t.name for t in bob.topics] == ["default", "default 2", "default 3"]
    assert (bob.cadence, bob.channels, bob.timezone) == ("weekly", ("markdown",), "Europe/Berlin")


def test_confirming_keywords_a_subscriber_already_has_changes_nothing(site: Site) -> None:
    _bob(site)
    link = _request_for_bob(site, keywords="gan", exclusions="Medical")  # the same, any case
    shown = site.client.get(link)
    assert "already receives digests for exactly these keywords" in shown.text
    assert "<button" not in shown.text
    before = _everything(site)
    done = site.press(link)
    assert done.status_code == 200 and "Nothing to change" in done.text
    after = _everything(site)
    # Only the request is marked confirmed; the subscriber and topics are as they were.
    assert {k: v for k, v in after.items() if k != "pendingsubscription"} == {
        k: v for k, v in before.items() if k != "pendingsubscription"
    }


def test_an_address_that_left_is_active_again_only_after_the_button(site: Site) -> None:
    with write_session(site.engine) as session:
        subscribe(session, make_spec("cy@lab.org", ["GAN"], cadence="paused"), now=T0)
        unsubscribe(session, "cy@lab.org", now=T0)
    site.subscribe(
        email="cy@lab.org", keywords="robotics", cadence="weekly", channels="markdown email"
    )
    link = link_in(site.inbox()[0])
    for _ in range(2):
        assert "Confirm my subscription" in site.client.get(link).text
    assert site.subscribers() == []  # still unsubscribed after any number of GETs
    done = site.press(link)
    assert done.status_code == 200 and "You are subscribed" in done.text
    (cy,) = site.subscribers()
    # What the confirmed page said, not what Cy had before leaving.
    assert (cy.status, cy.cadence, cy.channels) == ("active", "weekly", ("markdown", "email"))
    assert [(t.name, t.keywords) for t in cy.topics] == [("default", ("robotics",))]


def test_a_post_without_the_button_confirms_nothing(site: Site) -> None:
    _bob(site)
    link = _request_for_bob(site)
    before = _everything(site)
    for data in ({}, {"confirm": "no"}, {"List-Unsubscribe": "One-Click"}):
        response = site.client.post(link, data=data)
        assert response.status_code == 400 and "Nothing was changed" in response.text
    assert site.client.post(link, content=b"x" * 5000).status_code == 413
    assert _everything(site) == before


def test_the_email_and_the_page_name_the_keywords_escaped(site: Site) -> None:
    site.subscribe(
        email="dee@lab.org",
        keywords="<b>GAN</b>\ngraph neural network",
        exclusions="<img src=x>medical",
        cadence="weekly",
        channels="markdown email",
        timezone="Asia/Tokyo",
    )
    (message,) = site.inbox()
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    plain = text.get_content()
    for shown in ("  - <b>GAN</b>", "  - graph neural network", "  - <img src=x>medical"):
        assert shown in plain
    assert "Weekly, as a Markdown file on this server and by email; time zone: Asia/Tokyo." in plain
    markup = html.get_content()
    assert "<b>GAN" not in markup and "<img" not in markup
    assert "<li>&lt;b&gt;GAN&lt;/b&gt;</li>" in markup
    assert "<li>&lt;img src=x&gt;medical</li>" in markup
    page = site.client.get(link_in(message)).text
    assert "<b>GAN" not in page and "<img src=x>" not in page
    assert "<li>&lt;b&gt;GAN&lt;/b&gt;</li>" in page and "Asia/Tokyo" in page
    assert re.search(
        r"Weekly, on Mondays at 08:00</strong>, as a Markdown file on this server and by email",
        page,
    )


# --- At most so many confirmation emails per address and day ---------------------------


def _answer(site: Site, client_host: str, **fields: str) -> tuple[int, str, list[tuple[str, str]]]:
    """Everything a visitor sees of a form's answer: status, page and headers (no date)."""
    response = site.post(site.new_client(client_host), **fields)
    headers = sorted((k, v) for k, v in response.headers.items() if k != "date")
    return response.status_code, response.text, headers


def test_an_address_gets_three_confirmations_a_day_whoever_asks(make_site: MakeSite) -> None:
    workers = [make_site(), make_site()]  # two workers on one database, clocks in step
    answers = []
    for n in range(6):  # from six clients, spaced past the resend delay, alternating workers
        site = workers[n % 2]
        site.now[0] = T0 + timedelta(minutes=10 * n)
        answers.append(_answer(site, f"192.0.2.{n}", email="Victim@lab.org"))
    assert len(workers[0].inbox()) == 3  # one outbox, shared by both
    # The answers to the capped requests are the very same as to the sent ones.
    assert answers[0][0] == 200 and SENT in answers[0][1]
    assert all(answer == answers[0] for answer in answers)
    # A restart forgets nothing; another address is not affected.
    restarted = make_site()
    restarted.now[0] = T0 + timedelta(hours=3)
    assert _answer(restarted, "192.0.2.99", email="Victim@lab.org") == answers[0]
    restarted.now[0] += timedelta(minutes=10)
    _answer(restarted, "192.0.2.98", email="VICTIM@LAB.ORG")  # one address, any spelling
    assert len(restarted.inbox()) == 3
    _answer(restarted, "192.0.2.99", email="other@lab.org")
    assert len(restarted.inbox()) == 4
    # The next UTC day, three more may go out; the counts of earlier days are dropped.
    restarted.now[0] = T0.replace(hour=0) + timedelta(days=1)
    _answer(restarted, "192.0.2.99", email="victim@lab.org")
    assert len(restarted.inbox()) == 5
    with Session(restarted.engine) as session:
        counts = list(session.execute(select(ConfirmationCount)))
    assert [(row[0].day, row[0].sent) for row in counts] == [(restarted.now[0].date(), 1)]


def test_the_counts_hold_no_address(make_site: MakeSite) -> None:
    # The same address counted by two sites of different secrets: a keyed hash differs,
    # and neither is a plain hash of the address, which hashing guesses would undo.
    first = make_site()
    second = make_site({"PAPERBOT_WEB_SECRET": "another-signing-secret-of-32-chars"})
    first.subscribe(email="Ana@lab.org")
    second.now[0] += timedelta(minutes=10)  # past the resend delay
    second.subscribe(email="Ana@lab.org")
    with Session(first.engine) as session:
        stored = {row[0].address for row in session.execute(select(ConfirmationCount))}
    plain = {hashlib.sha256(text.encode()).hexdigest() for text in ("Ana@lab.org", "ana@lab.org")}
    assert len(stored) == 2 and not stored & plain
    assert all(len(address) == 64 and "lab.org" not in address for address in stored)


def test_an_email_that_could_not_be_sent_is_not_counted(
    make_site: MakeSite,
    smtp_server: SmtpServer,
) -> None:
    site = make_site(smtp=smtp_server)
    smtp_server.handler.reject.add("ana@lab.org")
    for n in range(4):
        site.now[0] = T0 + timedelta(minutes=10 * n)
        assert site.post(email="ana@lab.org").status_code == 503
    smtp_server.handler.reject.clear()
    for n in range(4, 8):
        site.now[0] = T0 + timedelta(minutes=10 * n)
        assert SENT in site.subscribe(email="ana@lab.org")
    assert len(site.inbox()) == 3


def test_the_daily_cap_is_a_setting(make_site: MakeSite) -> None:
    site = make_site({"PAPERBOT_WEB_CONFIRMATIONS_PER_DAY": "1"})
    for n in range(3):
        site.now[0] = T0 + timedelta(minutes=10 * n)
        assert SENT in site.subscribe(email="ana@lab.org")
    assert len(site.inbox()) == 1


def test_a_stored_request_todays_rules_refuse_is_a_page_not_a_500(site: Site) -> None:
    # Stored under older rules: a control character the form refuses today.
    site.subscribe(email="eve@lab.org", keywords="robotics")
    link = link_in(site.inbox()[-1])
    with write_session(site.engine) as session:
        pending = session.exec(sqlmodel_select(PendingSubscription)).one()
        pending.request = {**pending.request, "keywords": ["robo\x00tics"]}
        session.add(pending)
    before = _everything(site)
    for response in site.open_and_press(link):
        assert response.status_code == 400
        assert "This request cannot be confirmed" in response.text
        assert "contains a control character (U+0000)" in response.text
    assert _everything(site) == before
