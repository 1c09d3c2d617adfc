"""The subscribe flow over HTTP: the form, the confirmation email, the confirm link.

Against a real SQLite file, with a controlled clock, and a real SMTP server on
127.0.0.1 (or the file transport's outbox) receiving the confirmation emails.
"""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous.encoding import base64_decode, base64_encode
from itsdangerous.timed import TimestampSigner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from bot.db import write_session
from bot.ingest.identity import title_key
from bot.ingest.pipeline import ingest_file
from bot.models import Paper, PendingSubscription
from bot.subscriptions.spec import make_spec
from bot.subscriptions.store import subscribe
from bot.tokens import TokenSubject, make_token, read_token
from bot.web.confirmation import PendingRequest, record_request
from bot.web.security import CSRF_COOKIE
from tests.conftest import DATABASES, SAMPLES
from tests.delivery.conftest import Handler, SmtpServer, free_port
from tests.web.conftest import SECRET, SENT, T0, MakeSite, Site, csrf_of, link_in, read_eml


def with_id(token: str, new_id: int) -> str:
    """`token` with another request id written into its payload, the signature kept."""
    payload, timestamp, signature = token.split(".")
    subject = json.loads(base64_decode(payload))
    subject[0] = new_id
    payload = base64_encode(json.dumps(subject, separators=(",", ":"))).decode()
    return f"{payload}.{timestamp}.{signature}"


# --- The form -------------------------------------------------------------------------


def test_the_form_renders_with_a_csrf_field_matching_its_cookie(site: Site) -> None:
    response = site.client.get("/subscribe")
    assert response.status_code == 200
    field_value = csrf_of(site.client)
    assert site.client.cookies[CSRF_COOKIE] == field_value and len(field_value) >= 32
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    html = response.text
    for name in ("email", "keywords", "exclusions", "cadence", "channels", "timezone"):
        assert f'name="{name}"' in html
    assert "One per line, or separated by commas" in html
    assert "e.g. Europe/Berlin; empty: the site's (UTC)" in html
    options = re.findall(r'<option value="([\w ]+)"', html)
    assert options == ["daily", "weekly", "email", "markdown", "markdown email"]  # no "paused"
    assert "<script" not in html  # works without JavaScript


def test_the_csrf_cookie_is_secure_over_https(site: Site) -> None:
    client = TestClient(site.app, base_url="https://testserver")
    assert "secure" in client.get("/subscribe").headers["set-cookie"].lower()


def test_a_post_without_or_with_a_wrong_csrf_is_refused(site: Site) -> None:
    form = {"email": "ana@lab.org", "keywords": "GAN", "cadence": "daily", "channels": "email"}
    fresh = site.new_client()
    refused = [
        fresh.post("/subscribe", data=form),  # no cookie, no field
        fresh.post("/subscribe", data={**form, "csrf": "x" * 43}),  # a field, no cookie
    ]
    csrf_of(site.client)
    refused.append(site.client.post("/subscribe", data=form))  # a cookie, no field
    refused.append(site.client.post("/subscribe", data={**form, "csrf": "y" * 43}))  # not equal
    for response in refused:
        assert response.status_code == 400
        assert "This form has expired" in response.text
    assert site.pending() == [] and site.inbox() == []
    assert site.post().status_code == 200  # the same form with its CSRF passes


def test_refused_values_are_shown_back_escaped_with_one_message_each(site: Site) -> None:
    response = site.post(
        email="not an address",
        keywords="<script>alert(1)</script>\n???",
        timezone="<b>Mars</b>",
        cadence="paused",
    )
    assert response.status_code == 400
    html = response.text
    assert "<script>" not in html and "<b>Mars" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown back as text
    assert 'value="&lt;b&gt;Mars&lt;/b&gt;"' in html
    problems = re.findall(r"<li>(.*?)</li>", html)
    assert len(problems) == 4, problems
    assert problems[0].startswith("Cadence &#39;paused&#39; is not one of daily, weekly")
    assert problems[1].startswith("Invalid email address &#39;not an address&#39;")
    assert problems[2] == "Keyword &#39;???&#39; has no letters or digits"
    assert problems[3].startswith("Unknown time zone &#39;&lt;b&gt;Mars&lt;/b&gt;&#39;")
    assert html.count("Invalid email address") == 1
    assert site.pending() == [] and site.inbox() == []
    # The form is shown again, with a CSRF field that still works.
    assert site.post(email="ana@lab.org", keywords="GAN").status_code == 200


def test_a_form_with_one_bad_email_gets_exactly_that_message(site: Site) -> None:
    response = site.post(email="ana@")
    assert response.status_code == 400
    problems = re.findall(r"<li>(.*?)</li>", response.text)
    assert len(problems) == 1 and problems[0].startswith("Invalid email address &#39;ana@&#39;")


def test_empty_keywords_are_refused(site: Site) -> None:
    response = site.post(keywords=" ,\n , ")
    assert response.status_code == 400
    assert re.findall(r"<li>(.*?)</li>", response.text) == [
        "At least one keyword, liked paper, author, organisation or category, or a trending switch"
        " (minimum upvotes, top of the day), is needed"
    ]


@pytest.mark.parametrize("database_url", DATABASES, indirect=True)
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "ana\x00@lab.org", "Email address contains a control character (U+0000)"),
        (
            "keywords",
            "graph\x00network",
            "Keyword &#39;graph\\x00network&#39; contains a control character (U+0000)",
        ),
        (
            "exclusions",
            "sur\tvey",
            "Exclusion &#39;sur\\tvey&#39; contains a control character (U+0009)",
        ),
        ("timezone", "UTC\u202e", "Time zone contains an invisible formatting character (U+202E)"),
    ],
    ids=["email", "keywords", "exclusions", "timezone"],
)
def test_a_control_character_is_refused_with_one_line_on_every_database(
    make_site: MakeSite, field: str, value: str, message: str
) -> None:
    site = make_site()
    response = site.post(None, **{field: value})
    assert response.status_code == 400
    assert re.findall(r"<li>(.*?)</li>", response.text) == [message]
    assert site.pending() == [] and site.inbox() == []


def test_a_form_too_large_is_refused_unread(site: Site) -> None:
    response = site.post(keywords="a" * 70_000)
    assert response.status_code == 413 and site.pending() == []


# --- Requesting and confirming ----------------------------------------------------------


def test_a_request_sends_one_email_whose_link_confirms(site: Site) -> None:
    text = site.subscribe(
        email="Ana@Lab.org",
        keywords="diffusion models, graph neural network\nLoRA",
        exclusions="medical",
        cadence="weekly",
        timezone="europe/berlin",
    )
    assert SENT in text
    assert site.subscribers() == []  # nothing before the click
    (message,) = site.inbox()
    assert message["To"] == "Ana@lab.org" and message["From"] == "paperbot <paperbot@localhost>"
    assert message["Subject"] == "Confirm your paper digest subscription"
    assert message["Date"] and message["Message-ID"]
    html_part = message.get_body(("html",))
    assert html_part is not None and f'href="{link_in(message)}"' in html_part.get_content()
    shown = site.client.get(link_in(message))
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    assert "Confirm my subscription" in shown.text and site.subscribers() == []
    response = site.confirm(link_in(message))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert "You are subscribed" in html
    for keyword in ("diffusion models", "graph neural network", "LoRA", "medical"):
        assert f"<li>{keyword}</li>" in html
    assert "Weekly, on Mondays at 08:00" in html and "Europe/Berlin" in html
    (subscriber,) = site.subscribers()
    assert subscriber.email == "Ana@lab.org" and subscriber.cadence == "weekly"
    assert subscriber.timezone == "Europe/Berlin" and subscriber.status == "active"
    (topic,) = subscriber.topics
    assert topic.keywords == ("diffusion models", "graph neural network", "LoRA")
    assert topic.exclusions == ("medical",)
    manage = re.search(r'href="http://testserver/manage/([^"]+)"', html)
    assert manage is not None
    link = read_token(SECRET, "manage", manage.group(1))
    assert link.subscriber_id == subscriber.id and link.is_for("ana@lab.org")


GRAPH_HINT = (
    "keyword &#39;grpah neural networks&#39; matches no paper of the last 7 days;"
    " did you mean &#39;graph neural networks&#39;?"
)


def test_keywords_matching_no_recent_paper_are_hinted_and_still_subscribed(site: Site) -> None:
    ingest_file(site.engine, SAMPLES / "spaced-1.txt", clock=lambda: T0, year=2025)
    keywords = "grpah neural networks, diffusion models, <b>xqzvw</b>"
    text = site.subscribe(keywords=keywords)
    assert SENT in text
    assert GRAPH_HINT in text
    # Escaped like every other text; a keyword that matches gets no hint.
    assert "&#39;&lt;b&gt;xqzvw&lt;/b&gt;&#39; matches no paper" in text
    assert "<b>xqzvw" not in text and "diffusion models&#39; matches" not in text
    link = link_in(site.inbox()[0])
    shown = site.client.get(link).text
    assert "Confirm my subscription" in shown and GRAPH_HINT in shown
    site.press(link)
    (subscriber,) = site.subscribers()
    assert subscriber.topics[0].keywords == (
        "grpah neural networks", "diffusion models", "<b>xqzvw</b>",
    )  # fmt: skip


def test_no_hint_is_given_when_there_are_no_recent_papers(site: Site) -> None:
    text = site.subscribe(keywords="grpah neural networks")
    assert SENT in text and "matches no paper" not in text
    assert "matches no paper" not in site.client.get(link_in(site.inbox()[0])).text


def test_the_file_transport_writes_the_confirmation_to_the_outbox(make_site: MakeSite) -> None:
    site = make_site()
    assert SENT in site.subscribe(email="bo@lab.org", keywords="GAN")
    (eml,) = site.settings.outbox_dir.glob("*.eml")
    message = read_eml(eml)
    assert message["To"] == "bo@lab.org"
    assert site.confirm(link_in(message)).status_code == 200
    assert [s.email for s in site.subscribers()] == ["bo@lab.org"]


def test_the_page_is_the_same_for_new_pending_and_subscribed_addresses(site: Site) -> None:
    def answer() -> tuple[int, str, list[str]]:
        response = site.post(email="ana@lab.org", keywords="GAN")
        return response.status_code, response.text, sorted(response.headers.keys())

    new = answer()
    pending = answer()  # a request less than 5 minutes old: no second email
    assert len(site.inbox()) == 1
    site.confirm(link_in(site.inbox()[0]))
    site.now[0] += timedelta(minutes=10)
    subscribed = answer()
    subscribed_and_pending = answer()
    assert len(site.inbox()) == 2
    assert new == pending == subscribed == subscribed_and_pending
    assert new[0] == 200 and SENT in new[1] and "set-cookie" not in new[2]


def test_a_resend_is_suppressed_for_five_minutes_then_allowed(site: Site) -> None:
    site.subscribe()
    site.now[0] = T0 + timedelta(minutes=4, seconds=59)
    assert SENT in site.subscribe()
    assert len(site.inbox()) == 1 and len(site.pending()) == 1
    site.now[0] = T0 + timedelta(minutes=5)
    assert SENT in site.subscribe()
    assert len(site.inbox()) == 2 and len(site.pending()) == 2
    # Another spelling of the same address is the same address.
    site.now[0] += timedelta(minutes=1)
    site.subscribe(email="ANA@lab.org")
    assert len(site.inbox()) == 2


def test_the_rate_limit_is_per_client(site: Site) -> None:
    alice = site.new_client("192.0.2.1")
    for n in range(10):
        assert site.post(alice, email=f"a{n}@lab.org").status_code == 200
    over = site.post(alice, email="a10@lab.org")
    assert over.status_code == 429
    assert "Too many subscription requests" in over.text and over.headers["retry-after"]
    assert len(site.inbox()) == 10
    bob = site.new_client("192.0.2.2")
    assert site.post(bob, email="b@lab.org").status_code == 200


def test_a_transport_failure_is_a_503_and_asking_again_sends(
    site: Site,
    smtp_server: SmtpServer,
) -> None:
    smtp_server.handler.reject.add("ana@lab.org")
    response = site.post()
    assert response.status_code == 503
    assert "could not send the confirmation email" in response.text
    assert site.pending() == []  # forgotten, so the next try is no "resend"
    smtp_server.handler.reject.clear()
    assert SENT in site.subscribe()
    assert len(site.inbox()) == 1


def test_an_unreachable_mail_server_is_a_503(make_site: MakeSite) -> None:
    nobody = SmtpServer("127.0.0.1", free_port(), Handler())  # nothing listens on its port
    site = make_site(smtp=nobody)
    assert site.post().status_code == 503 and site.pending() == []


def test_a_tampered_link_is_refused(site: Site) -> None:
    site.subscribe()
    link = link_in(site.inbox()[0])
    # A character inside the signature: the last one of base64 has bits no decoder reads.
    tampered = link[:-5] + ("A" if link[-5] != "A" else "B") + link[-4:]
    for url in (tampered, "/confirm/garbage", "/confirm/" + "x" * 200):
        for response in site.open_and_press(url):
            assert response.status_code == 400 and "This link is not valid" in response.text
    assert site.subscribers() == []


def test_a_link_expires_after_two_days_on_the_app_clock(site: Site) -> None:
    site.subscribe()
    link = link_in(site.inbox()[0])
    site.now[0] = T0 + timedelta(days=2, seconds=1)
    for response in site.open_and_press(link):
        assert response.status_code == 400 and "This link has expired" in response.text
        assert "subscribe again" in response.text
    assert site.subscribers() == []
    site.now[0] = T0 + timedelta(days=2) - timedelta(minutes=1)
    assert site.confirm(link).status_code == 200 and len(site.subscribers()) == 1


def test_a_token_signed_more_than_two_days_ago_has_expired(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # itsdangerous measures a token's age with time.time(), not the app's clock: the
    # token is signed as if two days and a second ago, and read now.
    site.subscribe()
    (pending,) = site.pending()
    assert pending.id is not None
    signed_at = int(datetime.now(UTC).timestamp()) - 2 * 86_400 - 1
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: signed_at)
        old = make_token(SECRET, "confirm", TokenSubject(pending.id, "ana@lab.org"))
    for response in (
        site.client.get(f"/confirm/{old}"),
        site.press(f"/confirm/{old}"),
    ):
        assert response.status_code == 400 and "This link has expired" in response.text
    assert site.subscribers() == []


def test_a_link_never_confirms_another_address_request(site: Site) -> None:
    site.subscribe(email="ana@lab.org")
    site.subscribe(email="bo@lab.org", keywords="robotics")
    ana, bo = sorted(site.pending(), key=lambda row: row.email)
    assert ana.id is not None and bo.id is not None
    # Properly signed (as if the secret leaked), but the address is not that request's.
    crossed = make_token(SECRET, "confirm", TokenSubject(bo.id, "ana@lab.org"))
    # Ana's own token with Bo's request id put in: the signature breaks.
    ana_link = next(link_in(m) for m in site.inbox() if m["To"] == "ana@lab.org")
    swapped = with_id(ana_link.rsplit("/", 1)[1], bo.id)
    for token in (crossed, swapped):
        url = f"/confirm/{token}"
        for response in site.open_and_press(url):
            assert response.status_code == 400 and "This link is not valid" in response.text
    assert site.subscribers() == []


def test_confirming_twice_is_idempotent(site: Site) -> None:
    site.subscribe(keywords="GAN")
    link = link_in(site.inbox()[0])
    first = site.confirm(link)
    assert first.status_code == 200 and "You are subscribed" in first.text
    # Changed since (say on the manage page): a second click must not undo that.
    with write_session(site.engine) as session:
        subscribe(session, make_spec("ana@lab.org", ["robotics"], cadence="weekly"), now=T0)
    site.now[0] += timedelta(hours=1)
    for again in site.open_and_press(link):
        assert again.status_code == 200 and "Already confirmed" in again.text
        assert "<li>GAN</li>" in again.text  # what the link confirmed
        assert "/manage/" in again.text
    (subscriber,) = site.subscribers()
    assert subscriber.topics[0].keywords == ("robotics",) and subscriber.cadence == "weekly"
    (pending,) = site.pending()
    assert pending.confirmed_at == T0


def test_unconfirmed_requests_change_no_subscriber(site: Site) -> None:
    with write_session(site.engine) as session:
        subscribe(session, make_spec("ana@lab.org", ["GAN"]), now=T0)
    before = site.subscribers()
    site.subscribe(email="ana@lab.org", keywords="robotics", cadence="weekly")
    for n in range(3):
        site.subscribe(email=f"new{n}@lab.org")
    assert len(site.inbox()) == 4 and len(site.pending()) == 4
    assert site.subscribers() == before


def test_links_in_emails_never_come_from_the_host_header(make_site: MakeSite) -> None:
    # A forged Host must not turn the confirmation link into a link to another site:
    # without web.base_url, links use the address paperbot listens on.
    site = make_site({"PAPERBOT_WEB_BASE_URL": ""})
    client = TestClient(site.app, base_url="http://evil.example")
    page = client.get("/subscribe")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    client.post("/subscribe", data={"csrf": csrf[1], "email": "ana@lab.org", "keywords": "graphs"})
    [message] = site.inbox()
    body = message.get_body(("plain",))
    assert body is not None and "evil.example" not in body.get_content()
    assert "http://127.0.0.1:8080/confirm/" in body.get_content()


def test_requests_nobody_confirmed_in_time_are_dropped(engine: Engine) -> None:
    def record(email: str, now: datetime) -> PendingRequest | None:
        return record_request(engine, make_spec(email, ["graphs"]), now=now, secret="s", per_day=3)

    assert record("old@lab.org", T0) is not None
    assert record("fresh@lab.org", T0 + timedelta(days=1)) is not None
    record("new@lab.org", T0 + timedelta(days=2, hours=1))
    with Session(engine) as session:
        left = {row.email for row in session.exec(select(PendingSubscription))}
    assert left == {"fresh@lab.org", "new@lab.org"}


# --- Following authors, organisations, categories, trending ------------------------------


def test_a_request_may_follow_authors_organisations_categories_and_trending(site: Site) -> None:
    text = site.subscribe(
        keywords="",
        authors="LeCun, Yann\nJ.-B. Mouret",
        organisations="Stability AI",
        categories="cs.CL, cs.* stat.ML",
        exclude_authors="Y. Li",
        exclude_categories="cs.CR",
        top="3",
    )
    assert SENT in text
    (message,) = site.inbox()
    plain = message.get_body(("plain",))
    assert plain is not None
    for line in ("author: LeCun, Yann", "organisation: Stability AI", "not author: Y. Li"):
        assert f"  - {line}\n" in plain.get_content().replace("\r\n", "\n")
    assert "top 3 of the day" in site.client.get(link_in(message)).text
    html = site.confirm(link_in(message)).text
    assert "<li>category: cs.*</li>" in html and "<li>not category: cs.CR</li>" in html
    (subscriber,) = site.subscribers()
    (topic,) = subscriber.topics
    assert (topic.keywords, topic.authors, topic.organisations) == (
        (), ("LeCun, Yann", "J.-B. Mouret"), ("Stability AI",),
    )  # fmt: skip
    assert (topic.categories, topic.exclude_categories, topic.top) == (
        ("cs.CL", "cs.*", "stat.ML"), ("cs.CR",), 3,
    )  # fmt: skip


def test_bad_follows_are_each_refused_shown_back_escaped(site: Site) -> None:
    response = site.post(
        keywords="",
        authors="<script>alert(1)</script>",
        categories="cs/CL",
        exclude_organisations="!!",
        min_upvotes="lots",
        top="500",
    )
    assert response.status_code == 400
    problems = re.findall(r"<li>(.*?)</li>", response.text)
    assert problems == [
        "Minimum upvotes &#39;lots&#39; is not a whole number",
        "Category &#39;cs/CL&#39; is not an arXiv category: expected one like &#39;cs.CL&#39;,"
        " &#39;hep-th&#39; or &#39;cs.*&#39;",
        "Excluded organisation &#39;!!&#39; has no letters or digits",
        "Top of the day 500 is out of range: 1 to 100",
    ]
    assert "<script>" not in response.text  # a name, however odd, is text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in response.text
    assert site.pending() == [] and site.inbox() == []


# --- Example papers ---------------------------------------------------------------------

GNN_TITLE = "Forward Learning of Graph Neural Networks"
DIFFUSION_TITLE = "Stable Video Diffusion: Scaling Latent Video Diffusion Models to Large Datasets"


@pytest.fixture
def papers(engine: Engine) -> Engine:
    """The sample dump's papers stored, one of them with an arXiv id."""
    ingest_file(engine, SAMPLES / "spaced-1.txt", clock=lambda: T0, year=2025)
    with write_session(engine) as session:
        paper = session.exec(select(Paper).where(Paper.title == DIFFUSION_TITLE)).one()
        paper.arxiv_id = "2311.15127"
    return engine


def _second_gnn(engine: Engine) -> None:
    """Another stored paper under GNN_TITLE's key: the title then names two papers."""
    title = GNN_TITLE + "."
    with write_session(engine) as session:
        session.add(Paper(title=title, title_key=title_key(title), abstract="Two.",
                          first_seen_at=T0, updated_at=T0))  # fmt: skip


def test_example_papers_go_through_the_confirmation_to_the_topic(
    site: Site, papers: Engine
) -> None:
    text = site.subscribe(
        liked=f"  {GNN_TITLE.lower()}  \n\n", unliked="https://arxiv.org/abs/2311.15127v2"
    )
    assert SENT in text
    [pending] = site.pending()
    # Stored as the store names the papers: by arXiv id, else by exact title.
    assert (pending.request["liked"], pending.request["unliked"]) == ([GNN_TITLE], ["2311.15127"])
    (message,) = site.inbox()
    plain = message.get_body(("plain",))
    assert plain is not None
    content = plain.get_content().replace("\r\n", "\n")
    assert f"more papers like:\n\n  - {GNN_TITLE}\n" in content
    assert f"fewer papers like:\n\n  - {DIFFUSION_TITLE}\n" in content
    shown = site.client.get(link_in(message)).text
    assert "<h2>More papers like</h2>" in shown and f"<li>{GNN_TITLE}</li>" in shown
    assert f"<li>{DIFFUSION_TITLE}</li>" in shown and site.subscribers() == []
    assert site.confirm(link_in(message)).status_code == 200
    (subscriber,) = site.subscribers()
    (topic,) = subscriber.topics
    assert [p.title for p in topic.liked] == [GNN_TITLE]
    assert [(p.title, p.arxiv_id) for p in topic.unliked] == [(DIFFUSION_TITLE, "2311.15127")]


@pytest.mark.parametrize(
    ("liked", "unliked", "message"),
    [
        ("<b>No Such Paper</b>", "", "Paper &#39;&lt;b&gt;No Such Paper&lt;/b&gt;&#39;: no stored"
                                     " paper has this title"),
        (GNN_TITLE, "", f"Paper &#39;{GNN_TITLE}&#39;: several stored papers have this title"),
        ("2999.00001", "", "no stored paper has the arXiv id 2999.00001"),
        ("x" * 501, "", "Paper too long: 501 characters (at most 500)"),
        ("\n".join(f"paper {n}" for n in range(21)), "", "More papers like: 21 papers (at most 20"),
        ("2311.15127", DIFFUSION_TITLE.upper(), "is given as both liked and unliked"),
    ],
)  # fmt: skip
def test_a_paper_not_stored_or_not_clear_is_refused_and_nothing_is_sent(
    site: Site, papers: Engine, liked: str, unliked: str, message: str
) -> None:
    _second_gnn(papers)
    response = site.post(liked=liked, unliked=unliked)
    assert response.status_code == 400
    assert [message in problem for problem in re.findall(r"<li>(.*?)</li>", response.text)] == [
        True
    ]
    assert "<b>No Such" not in response.text
    assert site.pending() == [] and site.inbox() == []


def test_a_paper_no_longer_clear_at_confirmation_changes_nothing(
    site: Site, papers: Engine
) -> None:
    assert SENT in site.subscribe(liked=GNN_TITLE)
    (message,) = site.inbox()
    _second_gnn(papers)
    response = site.confirm(link_in(message))
    assert "This request cannot be confirmed" in response.text
    assert "several stored papers have this title" in response.text
    assert site.subscribers() == []
