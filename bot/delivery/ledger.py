"""The delivery ledger: what reached whom, read and written in the database.

`record_delivery` writes a delivery and, when the message was accepted, the
ledger rows of its papers in ONE transaction: a paper is either recorded as
sent together with the delivery that carried it, or not at all.
"""

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from bot.db import append_transaction, bulk_insert, in_chunks, insert_row
from bot.delivery.claims import Holding, settle
from bot.models import Delivery, Paper, SentPaper

_DELIVERY: Table = Delivery.__table__  # type: ignore[attr-defined]
_SENT_PAPER: Table = SentPaper.__table__  # type: ignore[attr-defined]


ChannelKey = tuple[int, str]
"""A subscriber's id and one of their channels' names: what the ledger is kept by."""


def sent_papers(
    session: Session, subscriber_ids: Collection[int], *, since: datetime
) -> dict[ChannelKey, set[int]]:
    """Return, per subscriber and channel, the papers first seen `since` then that reached it.

    Older papers cannot be in a digest any more, so the ledger's old rows are not
    read. A channel that had none is absent.
    """
    sent: dict[ChannelKey, set[int]] = {}
    for chunk in in_chunks(subscriber_ids):
        query = (
            select(col(SentPaper.subscriber_id), col(SentPaper.channel), col(SentPaper.paper_id))
            .join(Paper, col(Paper.id) == col(SentPaper.paper_id))
            .where(col(SentPaper.subscriber_id).in_(chunk), col(Paper.first_seen_at) >= since)
        )
        for subscriber_id, channel, paper_id in session.execute(query):
            sent.setdefault((subscriber_id, channel), set()).add(paper_id)
    return sent


def last_sent(session: Session, subscriber_ids: Collection[int]) -> dict[ChannelKey, datetime]:
    """Return, per subscriber and channel, when a whole digest last reached it (absent: never).

    Read from the ledger, so only what was delivered counts: not a failed email,
    nor a chat digest cut short (its papers that went are in the ledger, and the
    rest go at the next run rather than the next slot).
    """
    last: dict[ChannelKey, datetime] = {}
    for chunk in in_chunks(subscriber_ids):
        query = (
            select(
                col(SentPaper.subscriber_id),
                col(SentPaper.channel),
                func.max(col(SentPaper.sent_at)),
            )
            .join(Delivery, col(Delivery.id) == col(SentPaper.delivery_id))
            .where(col(SentPaper.subscriber_id).in_(chunk), col(Delivery.status) == "sent")
            .group_by(col(SentPaper.subscriber_id), col(SentPaper.channel))
        )
        last.update({(sid, channel): when for sid, channel, when in session.execute(query)})
    return last


def record_delivery(
    bind: Engine | Connection,
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
    settles: Holding | None = None,
    delivered: Collection[int] | None = None,
) -> bool:
    """Record one delivery; for an accepted one (`status == "sent"` and `ledger`), its papers too.

    `delivered`, when given, are the papers that reached the channel whatever the
    status: a chat digest in several messages whose later ones failed still
    delivered the papers of the first (written to the ledger when `ledger`).

    `bind` is the engine, or a connection from `append_connection` that a run
    keeps for all it records.

    `settles`, when given, is the claim on the subscriber this delivery settles,
    marked in the same transaction: the other workers then see the ledger rows
    and the settled claim together, or neither. If that claim is no longer
    `settles`'s (its worker stalled past the lease and another worker took the
    subscriber over), nothing is recorded and False is returned: the subscriber's
    ledger is the new holder's to write. Otherwise returns True.
    """
    papers = list(paper_ids)
    # Core statements on a bare connection (straight to the driver on SQLite), not
    # ORM objects in a session: a run records thousands of these, one transaction
    # each, and that machinery cost more than the writes. An append, not under the
    # writers' lock: the writes depend on no read, and the subscriber's claim keeps
    # other workers away, so on PostgreSQL workers record side by side.
    with append_transaction(bind) as connection:
        # The claim first: it says whether these rows are this worker's to write.
        if settles is not None and not settle(connection, settles, [subscriber_id]):
            return False  # nothing written
        delivery_id = insert_row(
            connection, _DELIVERY,
            {
                "run_id": run_id, "subscriber_id": subscriber_id, "channel": channel,
                "status": status, "reason": reason, "message_id": message_id,
                "attempts": attempts, "papers": len(papers), "created_at": now,
            },
        )  # fmt: skip
        reached = papers if delivered is None and status == "sent" else list(delivered or ())
        if ledger and reached:
            rows = [
                {"subscriber_id": subscriber_id, "channel": channel, "paper_id": pid,
                 "delivery_id": delivery_id, "sent_at": now}
                for pid in reached
            ]  # fmt: skip
            bulk_insert(connection, _SENT_PAPER, rows)
    return True
