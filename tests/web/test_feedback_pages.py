"""The "more like this" and "fewer like this" pages over HTTP, against a real SQLite file.

The links are made as delivery makes them; each page's form is read back from the served
HTML and submitted as a browser would.
"""

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.db import write_session
from bot.models import Paper, TopicExample
from bot.subscriptions.examples import mark_example
from bot.subscriptions.spec import MAX_EXAMPLES, email_key
from bot.subscriptions.store import unsubscribe
from bot.tokens import TokenSubject, make_feedback_token
from tests.web.manage_site import (
    ANA,
    BO,
    DIFFUSION_TITLE,
    GNN_TITLE,
    SECRET,
    ManageSite,
    make_manage_site,
    paper_id_of,
    read_form,
    topic_id_of,
)


@pytest.fixture
def site(engine: Engine, tmp_path: Path) -> ManageSite:
    return make_manage_site(engine, tmp_path)


def _feedback_token(
    site: ManageSite, *, email: str = ANA, topic: int | None = None, paper: int | None = None,
    days_ago: int = 0, secret: str = SECRET,
) -> str:  # fmt: skip
    view = site.view(email)
    return make_feedback_token(
        secret, TokenSubject(view.id, email_key(view.email)),
        topic_id_of(site) if topic is None else topic,
        paper_id_of(site) if paper is None else paper,
        today=site.now[0].date() - timedelta(days=days_ago),
    )  # fmt: skip


def _example_rows(engine: Engine) -> list[tuple[int, int, bool, str, datetime]]:
    with Session(engine) as session:
        rows = session.scalars(select(TopicExample).order_by(col(TopicExample.paper_id)))
        return [(r.subscription_id, r.paper_id, r.liked, r.source, r.added_at) for r in rows]


def _press(site: ManageSite, url: str) -> httpx.Response:
    """Open a feedback link and press its button, as a reader does."""
    shown = site.client.get(url)
    assert shown.status_code == 200, shown.text
    return site.client.post(url, data=read_form(shown.text))


@pytest.mark.parametrize("direction", ["more", "fewer"])
def test_following_a_feedback_link_names_the_paper_and_topic_and_changes_nothing(
    site: ManageSite, direction: str
) -> None:
    url = f"/feedback/{direction}/{_feedback_token(site)}"
    for method in ("GET", "HEAD"):
        assert site.client.request(method, url).status_code == 200
    response = site.client.get(url)
    assert GNN_TITLE in response.text and "<strong>graphs</strong>" in response.text
    assert f"{direction.capitalize()} like this</button>" in response.text
    assert ANA not in response.text and BO not in response.text
    # One button, whose form holds the CSRF value alone.
    assert list(read_form(response.text)) == ["csrf"]
    assert site.links_to_own_page(response.text, "manage")
    assert response.headers["cache-control"] == "no-store"
    assert _example_rows(site.engine) == []


def test_the_more_button_marks_the_paper_liked_and_pressing_again_changes_nothing(
    site: ManageSite,
) -> None:
    url = f"/feedback/more/{_feedback_token(site)}"
    done = _press(site, url)
    assert done.status_code == 200
    assert "Noted: more like this" in done.text and GNN_TITLE in done.text
    assert site.links_to_own_page(done.text, "manage")
    marked = [(topic_id_of(site), paper_id_of(site), True, "feedback", site.now[0])]
    assert _example_rows(site.engine) == marked
    site.now[0] += timedelta(hours=1)
    again = _press(site, url)
    assert again.status_code == 200 and "Noted: more like this" in again.text
    assert _example_rows(site.engine) == marked  # not even the date moved
    assert "already marked this way" in site.client.get(url).text


def test_fewer_after_more_flips_the_mark(site: ManageSite) -> None:
    token = _feedback_token(site)
    _press(site, f"/feedback/more/{token}")
    shown = site.client.get(f"/feedback/fewer/{token}")
    assert 'marked "more like this" in this topic: the button changes that' in shown.text
    site.now[0] += timedelta(hours=1)
    done = _press(site, f"/feedback/fewer/{token}")
    assert "Noted: fewer like this" in done.text
    assert f'href="../more/{token}"' in done.text  # and back again, from the done page
    assert _example_rows(site.engine) == [
        (topic_id_of(site), paper_id_of(site), False, "feedback", site.now[0])
    ]


def test_feedback_links_of_two_topics_and_papers_mark_each_its_own(site: ManageSite) -> None:
    diffusion = paper_id_of(site, DIFFUSION_TITLE)
    kan = topic_id_of(site, "kan")
    _press(site, f"/feedback/more/{_feedback_token(site)}")
    _press(site, f"/feedback/fewer/{_feedback_token(site, topic=kan, paper=diffusion)}")
    _press(
        site,
        f"/feedback/more/{_feedback_token(site, email=BO, topic=topic_id_of(site, 'default', BO))}",
    )
    assert {(topic, paper, liked) for topic, paper, liked, _, _ in _example_rows(site.engine)} == {
        (topic_id_of(site), paper_id_of(site), True),
        (kan, diffusion, False),
        (topic_id_of(site, "default", BO), paper_id_of(site), True),
    }


def _bad_feedback_link(site: ManageSite, case: str) -> tuple[str, int, str]:
    """The path of one kind of feedback link that must be refused, its status and title."""
    token = _feedback_token(site)
    ana, bo = site.view(ANA), site.view(BO)
    invalid = (400, "This link is not valid")
    kinds: dict[str, tuple[str, tuple[int, str]]] = {
        "tampered": (
            f"/feedback/more/{token[:-4]}{'AAAA' if token[-4:] != 'AAAA' else 'BBBB'}",
            invalid,
        ),
        "garbage": ("/feedback/more/not-a-token", invalid),
        "signed with another secret": (
            f"/feedback/more/{_feedback_token(site, secret='another-secret')}",
            invalid,
        ),
        "unsubscribe token on feedback": (f"/feedback/more/{site.token('unsubscribe')}", invalid),
        "manage token on feedback": (f"/feedback/fewer/{site.token('manage')}", invalid),
        "feedback token on unsubscribe": (f"/unsubscribe/{token}", invalid),
        "feedback token on manage": (f"/manage/{token}", invalid),
        "other address": (
            "/feedback/more/"
            + make_feedback_token(
                SECRET,
                TokenSubject(ana.id, email_key(bo.email)),
                topic_id_of(site),
                paper_id_of(site),
                today=site.now[0].date(),
            ),
            invalid,
        ),
        "deleted subscriber": (
            "/feedback/more/"
            + make_feedback_token(
                SECRET,
                TokenSubject(999, ANA),
                topic_id_of(site),
                paper_id_of(site),
                today=site.now[0].date(),
            ),
            invalid,
        ),
        "another subscriber's topic": (
            f"/feedback/more/{_feedback_token(site, email=BO, topic=topic_id_of(site))}",
            (404, "This topic no longer exists"),
        ),
        "deleted topic": (
            f"/feedback/more/{_feedback_token(site, topic=9999)}",
            (404, "This topic no longer exists"),
        ),
        "deleted paper": (
            f"/feedback/more/{_feedback_token(site, paper=999_999)}",
            (404, "This paper is no longer stored"),
        ),
        "expired": (
            f"/feedback/more/{_feedback_token(site, days_ago=91)}",
            (400, "This link has expired"),
        ),
        "no such direction": (f"/feedback/maybe/{token}", (404, "There is no such page")),
    }
    path, (status, title) = kinds[case]
    return path, status, title


BAD_FEEDBACK_LINKS = [
    "tampered", "garbage", "signed with another secret", "unsubscribe token on feedback",
    "manage token on feedback", "feedback token on unsubscribe", "feedback token on manage",
    "other address", "deleted subscriber", "another subscriber's topic", "deleted topic",
    "deleted paper", "expired", "no such direction",
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_FEEDBACK_LINKS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_bad_feedback_link_is_refused_with_a_page_and_stores_nothing(
    site: ManageSite, case: str, method: str
) -> None:
    path, status, title = _bad_feedback_link(site, case)
    before = (site.view(ANA), site.view(BO))
    # A valid CSRF pair (and the other forms' fields): only the link can be the reason.
    shown = site.client.get(f"/feedback/more/{_feedback_token(site)}")
    form = read_form(shown.text) | {"action": "save", "List-Unsubscribe": "One-Click"}
    response = site.client.request(method, path, data=form if method == "POST" else None)
    assert response.status_code == status
    assert title in response.text
    assert GNN_TITLE not in response.text and ANA not in response.text
    assert _example_rows(site.engine) == []
    assert (site.view(ANA), site.view(BO)) == before


def test_a_feedback_link_still_works_on_its_last_day(site: ManageSite) -> None:
    _press(site, f"/feedback/fewer/{_feedback_token(site, days_ago=90)}")
    assert [liked for _, _, liked, _, _ in _example_rows(site.engine)] == [False]


def test_a_removed_topic_or_paper_is_a_404_page_after_the_link_was_opened(
    site: ManageSite,
) -> None:
    url = f"/feedback/more/{_feedback_token(site)}"
    form = read_form(site.client.get(url).text)
    with write_session(site.engine) as session:
        unsubscribe(session, ANA, now=site.now[0], topic="graphs")
    response = site.client.post(url, data=form)
    assert response.status_code == 404 and "This topic no longer exists" in response.text
    assert _example_rows(site.engine) == []


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
def test_another_method_on_a_feedback_link_is_refused_with_a_page(
    site: ManageSite, method: str
) -> None:
    url = f"/feedback/more/{_feedback_token(site)}"
    response = site.client.request(method, url)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert "Nothing was changed" in response.text
    assert _example_rows(site.engine) == []


@pytest.mark.parametrize("csrf", ["missing", "wrong", "no cookie"])
def test_a_feedback_post_without_the_matching_csrf_value_is_refused(
    site: ManageSite, csrf: str
) -> None:
    url = f"/feedback/more/{_feedback_token(site)}"
    form = read_form(site.client.get(url).text)
    if csrf == "missing":
        del form["csrf"]
    elif csrf == "wrong":
        form["csrf"] = "x" * 43
    else:
        site.client.cookies.clear()
    response = site.client.post(url, data=form)
    assert response.status_code == 400 and "This form has expired" in response.text
    assert _example_rows(site.engine) == []


def test_an_oversized_feedback_post_is_refused(site: ManageSite) -> None:
    url = f"/feedback/more/{_feedback_token(site)}"
    form = read_form(site.client.get(url).text) | {"padding": "x" * 5000}
    assert site.client.post(url, data=form).status_code == 413
    assert _example_rows(site.engine) == []


def test_feedback_on_a_topic_with_every_example_it_may_hold_is_refused(site: ManageSite) -> None:
    topic = topic_id_of(site)
    with write_session(site.engine) as session:
        papers = [
            Paper(title=f"Filler paper {n}", title_key=f"filler paper {n}", first_seen_at=site.now[0],
                  updated_at=site.now[0])
            for n in range(MAX_EXAMPLES)
        ]  # fmt: skip
        session.add_all(papers)
        session.flush()
        for paper in papers:
            assert paper.id is not None
            mark_example(session, topic, paper.id, liked=True, source="web", now=site.now[0])
    url = f"/feedback/fewer/{_feedback_token(site)}"
    response = _press(site, url)
    assert response.status_code == 400
    assert f"This topic already has {MAX_EXAMPLES} example papers" in response.text
    assert paper_id_of(site) not in {paper for _, paper, _, _, _ in _example_rows(site.engine)}
