"""The ledger's reads: what was delivered to whom, and when, straight from SQLite."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db import write_session
from bot.delivery.ledger import last_sent, record_delivery, sent_papers
from bot.ingest.parsed import ParsedPaper
from bot.ingest.store import Origin, store_papers
from bot.papers import list_papers
from bot.subscriptions.spec import make_spec
from bot.subscriptions.store import list_subscribers, subscribe

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


def _papers(engine: Engine, seen: datetime, *titles: str) -> list[int]:
    with write_session(engine) as session:
        parsed = [ParsedPaper(title=t, abstract="") for t in titles]
        store_papers(session, parsed, Origin(seen_at=seen))
    return [p.id for p in list_papers(engine) if p.title in titles]


def _subscriber(engine: Engine, email: str) -> int:
    with write_session(engine) as session:
        subscribe(session, make_spec(email, ["graphs"]), now=NOW)
    with Session(engine) as session:
        [subscriber] = [s for s in list_subscribers(session) if s.email == email]
    return subscriber.id


def test_reads_take_any_number_of_subscribers(engine: Engine) -> None:
    # SQLite refuses more bound values in one statement than its build allows
    # (32,766 by default, 250,000 in some distributions).
    ana = _subscriber(engine, "ana@lab.org")
    [paper] = _papers(engine, NOW, "Graph paper")
    record_delivery(engine, run_id=None, subscriber_id=ana, channel="email", status="sent",
                    reason="250 ok", paper_ids=[paper], now=NOW)  # fmt: skip
    ids = [ana, *range(100_000, 400_000)]
    with Session(engine) as session:
        assert last_sent(session, ids) == {(ana, "email"): NOW}
        sent = sent_papers(session, ids, since=NOW - timedelta(days=1))
    assert sent == {(ana, "email"): {paper}}


def test_only_recent_papers_are_read_and_only_the_ledger_counts(engine: Engine) -> None:
    ana = _subscriber(engine, "ana@lab.org")
    [old] = _papers(engine, NOW - timedelta(days=30), "Old graph paper")
    [new] = _papers(engine, NOW, "New graph paper")
    record_delivery(engine, run_id=None, subscriber_id=ana, channel="email", status="sent",
                    reason="250 ok", paper_ids=[old, new], now=NOW - timedelta(days=2))  # fmt: skip
    # A delivery recorded without its ledger rows, and a failure, are not deliveries.
    record_delivery(engine, run_id=None, subscriber_id=ana, channel="email", status="sent",
                    reason="250 ok", paper_ids=[new], now=NOW, ledger=False)  # fmt: skip
    record_delivery(engine, run_id=None, subscriber_id=ana, channel="email", status="failed",
                    reason="550 no", paper_ids=[new], now=NOW)  # fmt: skip
    with Session(engine) as session:
        assert sent_papers(session, [ana], since=NOW - timedelta(days=7)) == {(ana, "email"): {new}}
        assert last_sent(session, [ana]) == {(ana, "email"): NOW - timedelta(days=2)}


def test_each_channel_has_its_own_ledger_and_a_partial_failure_keeps_what_went(
    engine: Engine,
) -> None:
    ana = _subscriber(engine, "ana@lab.org")
    first, second = _papers(engine, NOW, "Graph paper", "Second graph paper")
    record_delivery(engine, run_id=None, subscriber_id=ana, channel="email", status="sent",
                    reason="250 ok", paper_ids=[first, second], now=NOW)  # fmt: skip
    # A chat digest whose second message failed: only the first one's paper reached it.
    record_delivery(engine, run_id=None, subscriber_id=ana, channel="lab-slack",
                    status="failed", reason="part 2 of 2: 500", paper_ids=[first, second],
                    now=NOW, delivered=[first])  # fmt: skip
    with Session(engine) as session:
        assert sent_papers(session, [ana], since=NOW - timedelta(days=1)) == {
            (ana, "email"): {first, second},
            (ana, "lab-slack"): {first},
        }
