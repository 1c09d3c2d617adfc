"""Topics by example in a real delivery: similar papers are sent, explained, once."""

from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.delivery.run import deliver
from bot.models import Paper, PaperVector, SentPaper
from bot.subscriptions.store import find_subscriber
from tests.delivery.conftest import ManualClock
from tests.delivery.test_run import _count, _setup, _subscribe

NO_BACKPROP = "NoProp: Training Neural Networks without Back-propagation or Forward-propagation"
COUNTER_CURRENT = (
    "Counter-Current Learning: A Biologically Plausible Dual Network Approach for Deep Learning"
)
OTHERS = {
    "Forward Learning of Graph Neural Networks",
    "Beyond Backpropagation: Exploring Innovative Algorithms for Energy-Efficient Deep Neural "
    "Network Training",
    "Backpropagation-free Training of Deep Physical Neural Networks",
}


def _plain_body(path: Path) -> str:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _sent_titles(engine: Engine) -> set[str]:
    query = select(Paper.title).join(SentPaper, col(SentPaper.paper_id) == col(Paper.id))
    with Session(engine) as session:
        return set(session.exec(query))


def test_a_topic_of_liked_papers_gets_the_papers_like_them_with_the_example_named(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    # One sample day is 63 papers: "more" (the highest level) lets its few close ones in.
    _subscribe(engine, clock, "ana@lab.org", liked=[NO_BACKPROP, COUNTER_CURRENT], level=3)

    report = deliver(engine, settings, clock=clock)

    assert [(o.email, o.status) for o in report.outcomes] == [("ana@lab.org", "sent")]
    [eml] = settings.outbox_dir.glob("*.eml")
    body = _plain_body(eml)
    sent = _sent_titles(engine)
    assert sent & OTHERS, "papers about learning without backpropagation are picked"
    assert not sent & {NO_BACKPROP, COUNTER_CURRENT}, "the reader's own examples are not sent"
    assert f'Similar to "{NO_BACKPROP}"' in body or f'Similar to "{COUNTER_CURRENT}"' in body
    # Vectors are made once, for the papers compared, and kept for the next run.
    assert _count(engine, PaperVector) > 2
    clock.now += timedelta(days=1)
    again = deliver(engine, settings, clock=clock)
    assert [o.reason for o in again.outcomes] == ["no new matching papers"]


def test_in_a_mixed_topic_a_keyword_or_an_example_includes_and_an_exclusion_removes(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    _subscribe(
        engine, clock, "ana@lab.org", "gaussian process",
        liked=[NO_BACKPROP, COUNTER_CURRENT], exclusions=["graph"], level=3,
    )  # fmt: skip

    deliver(engine, settings, clock=clock)

    [eml] = settings.outbox_dir.glob("*.eml")
    body = _plain_body(eml)
    assert 'Matched "gaussian process"' in body and "Similar to" in body
    sent = _sent_titles(engine)
    assert "Forward Learning of Graph Neural Networks" not in sent


def test_a_dry_run_stores_no_vectors(tmp_path: Path, database_url: str, clock: ManualClock) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", liked=[NO_BACKPROP, COUNTER_CURRENT], level=3)

    report = deliver(engine, settings, clock=clock, dry_run=True)

    assert [o.status for o in report.outcomes] == ["would send"]
    assert _count(engine, PaperVector) == 0
    with Session(engine) as session:
        subscriber = find_subscriber(session, "ana@lab.org")
    assert subscriber is not None and len(subscriber.topics[0].liked) == 2
