"""Example papers of topics in the store, on each database: naming papers, marking them."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.clock import Clock
from bot.db import write_session
from bot.errors import InputError
from bot.ingest.parsed import ParsedPaper
from bot.ingest.store import Origin, store_papers
from bot.models import Paper, TopicExample
from bot.subscriptions.examples import (
    examples_of,
    find_paper,
    mark_example,
    remove_example,
    topic_id,
)
from bot.subscriptions.spec import MAX_EXAMPLES, check_paper, make_spec
from bot.subscriptions.store import as_specs, find_subscriber, opt_in, subscribe, unsubscribe

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)
PAPERS = [
    ParsedPaper("Grokking Modular Addition", "Fourier features.", arxiv_id="2401.00001"),
    ParsedPaper("Sparse Autoencoders Find Features", "Dictionary learning."),
    ParsedPaper("Top Quark Tagging with Transformers", "Jets.", arxiv_id="2401.00003"),
    ParsedPaper("Editorial", "One."),
]


@pytest.fixture
def stored(engine: Engine) -> dict[str, int]:
    """The papers above in the store, by title."""
    with write_session(engine) as session:
        store_papers(session, PAPERS, Origin(seen_at=NOW))
    with write_session(engine) as session:  # a second "Editorial": another journal's
        session.add(Paper(title="Editorial", title_key="editorial", abstract="Two.",
                          first_seen_at=NOW, updated_at=NOW))  # fmt: skip
    with Session(engine) as session:
        return {p.title: p.id for p in session.exec(select(Paper)) if p.id is not None}


def _topic_examples(engine: Engine, email: str) -> list[tuple[str, bool, str]]:
    with Session(engine) as session:
        subscriber = find_subscriber(session, email)
        assert subscriber is not None
        [topic] = subscriber.topics
        return [
            (e.paper.title, e.liked, e.source)
            for e in examples_of(session, [topic.id]).get(topic.id, [])
        ]


def _new_topic(session: Session, clock: Clock, name: str = "default") -> int:
    """Subscribe a@lab.org to "grokking" under `name`; return the topic's id."""
    subscribe(session, make_spec("a@lab.org", ["grokking"], name=name), now=clock())
    subscriber = find_subscriber(session, "a@lab.org")
    assert subscriber is not None
    return topic_id(session, subscriber.id, name)


@pytest.mark.parametrize(
    "text",
    [
        "2401.00001",
        "arXiv:2401.00001v2",
        "https://arxiv.org/abs/2401.00001v3",
        "https://arxiv.org/pdf/2401.00001",
        "https://huggingface.co/papers/2401.00001",
        "grokking modular  addition",
    ],
)
def test_a_paper_is_found_by_arxiv_id_link_or_exact_title(
    engine: Engine, stored: dict[str, int], text: str
) -> None:
    with Session(engine) as session:
        paper = find_paper(session, check_paper(text))
    assert (paper.id, paper.title) == (
        stored["Grokking Modular Addition"],
        "Grokking Modular Addition",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2401.99999", "no stored paper has the arXiv id 2401.99999; ingest it first"),
        ("Grokking", "no stored paper has this title"),
        ("Editorial", "several stored papers have this title; give its arXiv id"),
    ],
)
def test_an_unknown_or_ambiguous_paper_is_one_clear_line(
    engine: Engine, stored: dict[str, int], text: str, message: str
) -> None:
    with Session(engine) as session, pytest.raises(InputError, match=message) as raised:
        find_paper(session, check_paper(text))
    assert "\n" not in str(raised.value) and repr(text) in str(raised.value)


def test_subscribing_with_examples_stores_them_and_an_export_names_them(
    engine: Engine, stored: dict[str, int], clock: Clock
) -> None:
    spec = make_spec(
        "a@lab.org", [], liked=["2401.00001", "Sparse Autoencoders Find Features"],
        unliked=["https://arxiv.org/abs/2401.00003"], level=1,
    )  # fmt: skip
    with write_session(engine) as session:
        subscribe(session, spec, now=clock())
    assert _topic_examples(engine, "a@lab.org") == [
        ("Grokking Modular Addition", True, "subscribe"),
        ("Sparse Autoencoders Find Features", True, "subscribe"),
        ("Top Quark Tagging with Transformers", False, "subscribe"),
    ]
    with Session(engine) as session:
        subscriber = find_subscriber(session, "a@lab.org")
        assert subscriber is not None
        [exported] = as_specs([subscriber])
    assert [r.text for r in exported.liked] == ["2401.00001", "Sparse Autoencoders Find Features"]
    assert [r.text for r in exported.unliked] == ["2401.00003"]
    assert exported.level == 1


def test_a_paper_not_in_the_store_stores_nothing(
    engine: Engine, stored: dict[str, int], clock: Clock
) -> None:
    spec = make_spec("a@lab.org", ["GAN"], liked=["2401.00001", "2401.99999"])
    with pytest.raises(InputError, match=re.escape("2401.99999")), write_session(engine) as session:
        subscribe(session, spec, now=clock())
    with Session(engine) as session:
        assert find_subscriber(session, "a@lab.org") is None
        assert session.exec(select(TopicExample)).all() == []


def test_a_change_of_keywords_keeps_the_examples_feedback_gave(
    engine: Engine, stored: dict[str, int], clock: Clock
) -> None:
    with write_session(engine) as session:
        topic = _new_topic(session, clock)
        mark_example(session, topic, stored["Grokking Modular Addition"], liked=True,
                     source="feedback", now=clock())  # fmt: skip
        subscribe(session, make_spec("a@lab.org", ["grokking", "modular arithmetic"]), now=clock())
    assert _topic_examples(engine, "a@lab.org") == [("Grokking Modular Addition", True, "feedback")]
    with write_session(engine) as session:  # naming examples replaces them
        subscribe(session, make_spec("a@lab.org", [], liked=["2401.00003"]), now=clock())
    assert _topic_examples(engine, "a@lab.org") == [
        ("Top Quark Tagging with Transformers", True, "subscribe")
    ]


def test_marking_again_flips_the_mark_and_removing_forgets_it(
    engine: Engine, stored: dict[str, int], clock: Clock
) -> None:
    grokking = stored["Grokking Modular Addition"]
    with write_session(engine) as session:
        topic = _new_topic(session, clock)
        assert mark_example(session, topic, grokking, liked=True, source="feedback", now=clock())
        assert not mark_example(session, topic, grokking, liked=True, source="web", now=clock())
        assert mark_example(session, topic, grokking, liked=False, source="web", now=clock())
    assert _topic_examples(engine, "a@lab.org") == [("Grokking Modular Addition", False, "web")]
    with write_session(engine) as session:
        assert remove_example(session, topic, grokking)
        assert not remove_example(session, topic, grokking)
    assert _topic_examples(engine, "a@lab.org") == []


def test_a_topic_holds_a_bounded_number_of_examples(
    engine: Engine, stored: dict[str, int], clock: Clock
) -> None:
    with write_session(engine) as session:
        topic = _new_topic(session, clock)
        for number in range(MAX_EXAMPLES):
            paper = Paper(title=f"P{number}", title_key=f"p{number}", first_seen_at=NOW,
                          updated_at=NOW)  # fmt: skip
            session.add(paper)
            session.flush()
            assert paper.id is not None
            mark_example(session, topic, paper.id, liked=True, source="feedback", now=clock())
        with pytest.raises(InputError, match=f"already has {MAX_EXAMPLES} example papers"):
            mark_example(session, topic, stored["Editorial"], liked=True, source="web", now=clock())


def test_the_topic_of_a_mark_is_named_or_the_only_one(
    engine: Engine, stored: dict[str, int], clock: Clock
) -> None:
    with write_session(engine) as session:
        named = _new_topic(session, clock, "grok")
        subscriber = find_subscriber(session, "a@lab.org")
        assert subscriber is not None
        assert topic_id(session, subscriber.id, None) == named
        subscribe(session, make_spec("a@lab.org", ["quark"], name="physics"), now=clock())
        with pytest.raises(InputError, match=r"name the topic \(--name\): .*'grok', 'physics'"):
            topic_id(session, subscriber.id, None)
        with pytest.raises(InputError, match="no topic named 'gone'"):
            topic_id(session, subscriber.id, "gone")


def test_examples_go_with_their_topic_and_with_their_paper(
    engine: Engine, stored: dict[str, int], clock: Clock
) -> None:
    with write_session(engine) as session:
        subscribe(session, make_spec("a@lab.org", [], liked=["2401.00001"], name="a"), now=clock())
        subscribe(session, make_spec("a@lab.org", [], liked=["2401.00003"], name="b"), now=clock())
        unsubscribe(session, "a@lab.org", topic="a", now=clock())
    with write_session(engine) as session:
        session.delete(session.get(Paper, stored["Top Quark Tagging with Transformers"]))
    with Session(engine) as session:
        assert session.exec(select(TopicExample)).all() == []


def test_a_confirmed_web_topic_keeps_its_examples_and_the_same_one_is_not_added_twice(
    engine: Engine, stored: dict[str, int], clock: Clock
) -> None:
    spec = make_spec("a@lab.org", [], liked=["2401.00001"], name="grok")
    with write_session(engine) as session:
        subscribe(session, make_spec("a@lab.org", ["quark"], name="physics"), now=clock())
        assert opt_in(session, spec, now=clock()).action == "added"
        assert opt_in(session, spec, now=clock()).action == "kept"
    with Session(engine) as session:
        subscriber = find_subscriber(session, "a@lab.org")
        assert subscriber is not None
        grok = next(t for t in subscriber.topics if t.name == "grok")
        assert [p.title for p in grok.liked] == ["Grokking Modular Addition"]
        assert examples_of(session, [grok.id])[grok.id][0].source == "web"
