"""The delivery ledger: what reached whom, read and written in the database.

`record_delivery` writes a delivery and, when the message was accepted, the
ledger rows of its papers in ONE transaction: a paper is either recorded as
sent together with the delivery that carried it, or not at all.
"""

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.db import bulk_insert, write_session
from bot.models import Delivery, SentPaper


def sent_papers(session: Session, subscriber_ids: Collection[int]) -> dict[int, set[int]]:
    """Return, per subscriber, the ids of the papers already delivered to them."""
    sent: dict[int, set[int]] = {sid: set() for sid in subscriber_ids}
    query = select(col(SentPaper.subscriber_id), col(SentPaper.paper_id)).where(
        col(SentPaper.subscriber_id).in_(list(subscriber_ids))
    )
    for subscriber_id, paper_id in session.execute(query):
        sent[subscriber_id].add(paper_id)
    return sent


def last_sent(session: Session, subscriber_ids: Collection[int]) -> dict[int, datetime]:
    """Return, per subscriber, when their last digest was accepted (absent: never)."""
    query = (
        select(col(Delivery.subscriber_id), func.max(col(Delivery.created_at)))
        .where(
            col(Delivery.subscriber_id).in_(list(subscriber_ids)), col(Delivery.status) == "sent"
        )
        .group_by(col(Delivery.subscriber_id))
    )
    return {subscriber_id: when for subscriber_id, when in session.execute(query)}


def record_delivery(
    engine: Engine,
    *,
    run_id: int | None,
    subscriber_id: int,
    channel: str,
    status: str,
    reason: str | None,
    paper_ids: Iterable[int],
    now: datetime,
    message_id: str | None = None,
    attempts: int = 0,
    ledger: bool = True,
) -> None:
    """Record one delivery; for an accepted one (`status == "sent"` and `ledger`), its papers too."""
    papers = list(paper_ids)
    with write_session(engine) as session:
        delivery = Delivery(
            run_id=run_id, subscriber_id=subscriber_id, channel=channel, status=status,
            reason=reason, message_id=message_id, attempts=attempts, papers=len(papers),
            created_at=now,
        )  # fmt: skip
        session.add(delivery)
        session.flush()
        if status == "sent" and ledger:
            rows = [
                {
                    "subscriber_id": subscriber_id,
                    "paper_id": pid,
                    "delivery_id": delivery.id,
                    "sent_at": now,
                }
                for pid in papers
            ]
            bulk_insert(session, SentPaper.__table__, rows)  # type: ignore[attr-defined]
