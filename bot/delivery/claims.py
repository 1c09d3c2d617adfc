"""Delivery rounds and claims: how several workers share one delivery, nobody served twice.

    a round starts (the scheduled job, or `paperbot digest`) ─> other workers join
      open rounds ─> each claims a few due subscribers at a time ─> plans, sends,
      and settles each claim in the transaction that records the delivery
      ─> waits for the claims of others to settle (or expire) ─> round finished

A claim is one row per subscriber: at most one worker delivers to a subscriber
at any moment, whatever round it works in. A settled claim tells the other
workers of the same round that the subscriber is done (sent, failed or had
nothing new); a later round may claim them again and, as the ledger says they
were served, finds them not due. Taking claims is a write under the writers'
lock, so two workers cannot both take one; a worker that dies keeps its claims
until their lease runs out (or at once, when it was a process of this machine
that is gone), and then another worker takes them over.

A worker that stalls past its lease (a paused machine, a hung disk) may lose
claims to another worker meanwhile. It looks at its claim on a subscriber at the
last moment: when the transport is about to start the SMTP transaction (connected,
greeted, logged in; before MAIL FROM), and skips whoever was taken over. That look
uses the claims as of the last renewal, which is renewed whenever a tenth of the
lease has passed, so it costs a write only every lease/10 (a minute by default),
and leaves at least nine tenths of the lease for the message to go.

What remains is a stall after that look: a message whose transaction has begun
cannot be called back, and if the server keeps the connection open through the
stall (past the lease: minutes) the subscriber may get it from both workers. Both
copies carry the same Message-ID, made from the day, the subscriber and the
papers, so mail clients that weed out duplicates show one. The stalled worker
records its copy as sent with a reason saying so, and logs a warning; the ledger
rows and the claim stay the other worker's (`settle` finds the claim gone).

Leases are compared with each worker's own clock: hosts sharing a database
should keep their clocks in step (NTP); a lease lasts minutes, skew is seconds.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, Table, bindparam, delete, insert, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from bot.db import changed_rows, connection_of, in_chunks, write_session
from bot.locks import holder_is_alive
from bot.models import DeliveryClaim, DeliveryRound


@dataclass(frozen=True)
class Round:
    """An open delivery round: its id, and the one address it is limited to (None: everyone)."""

    id: int
    only: str | None
    started_by: str = ""
    started_at: datetime | None = None


@dataclass(frozen=True)
class Holding:
    """One worker's part in one round: the claims it takes are marked with both."""

    round_id: int
    holder: str


@dataclass(frozen=True)
class Claimed:
    """What one `claim` call got.

    `mine`: claimed now by this worker. `busy`: another worker is delivering to
    them; ask again later. The rest were settled in this round already.
    """

    mine: frozenset[int]
    busy: frozenset[int]


def start_round(engine: Engine, *, holder: str, now: datetime, only: str | None = None) -> int:
    """Open a delivery round that other workers can join; return its id."""
    with write_session(engine) as session:
        row = DeliveryRound(started_by=holder, started_at=now, only=only)
        session.add(row)
        session.flush()
        assert row.id is not None  # flushed above
        return row.id


def open_rounds(engine: Engine, *, since: datetime) -> list[Round]:
    """Rounds started since `since` that nobody has finished yet, oldest first."""
    query = (
        select(DeliveryRound)
        .where(col(DeliveryRound.finished_at).is_(None), col(DeliveryRound.started_at) >= since)
        .order_by(col(DeliveryRound.id))
    )
    with Session(engine) as session:
        return [
            Round(r.id, r.only, r.started_by, r.started_at)
            for r in session.exec(query)
            if r.id is not None
        ]


def finish_round(engine: Engine, round_id: int, *, now: datetime) -> None:
    """Mark the round finished: every subscriber in it is settled; nobody joins it any more."""
    with write_session(engine) as session:
        row = session.get(DeliveryRound, round_id)
        if row is not None and row.finished_at is None:
            row.finished_at = now


_CLAIMS: Table = DeliveryClaim.__table__  # type: ignore[attr-defined]

_TAKE_OVER = (
    update(_CLAIMS)
    .where(_CLAIMS.c.subscriber_id == bindparam("b_subscriber"))
    .values(round_id=bindparam("round_id"), holder=bindparam("holder"),
            expires_at=bindparam("expires_at"), settled=False)
)  # fmt: skip


class _Held(NamedTuple):
    """A claim as read back: who holds the subscriber, in which round, until when."""

    round_id: int
    holder: str
    expires_at: datetime
    settled: bool


def claim(
    engine: Engine, holding: Holding, subscriber_ids: list[int], *, now: datetime, lease: timedelta
) -> Claimed:
    """Claim for `holding` those of `subscriber_ids` nobody else is delivering to now.

    A subscriber is free when unclaimed, settled in an earlier round, or held by
    a worker whose lease ran out or that was a process of this machine and is gone.
    """
    round_id, holder = holding.round_id, holding.holder
    unclaimed: list[int] = []
    taken_over: list[int] = []
    busy: set[int] = set()
    with write_session(engine) as session:
        connection = session.connection()
        held: dict[int, _Held] = {}
        for chunk in in_chunks(subscriber_ids):
            query = _CLAIMS.select().where(_CLAIMS.c.subscriber_id.in_(chunk))
            for found in connection.execute(query):
                held[found.subscriber_id] = _Held(
                    found.round_id, found.holder, found.expires_at, found.settled
                )
        for subscriber_id in subscriber_ids:
            row = held.get(subscriber_id)
            if row is None:
                unclaimed.append(subscriber_id)
            elif row.settled and row.round_id == round_id:
                continue  # done in this round, by whoever
            elif not row.settled and _taken(row, holding, now):
                busy.add(subscriber_id)
            else:
                taken_over.append(subscriber_id)
        claimed = {"round_id": round_id, "holder": holder, "expires_at": now + lease}
        if unclaimed:
            rows = [{"subscriber_id": i, **claimed, "settled": False} for i in unclaimed]
            connection.execute(insert(_CLAIMS), rows)
        if taken_over:
            connection.execute(_TAKE_OVER, [{"b_subscriber": i, **claimed} for i in taken_over])
    return Claimed(frozenset(unclaimed + taken_over), frozenset(busy))


def _taken(row: _Held, holding: Holding, now: datetime) -> bool:
    """Whether an unsettled claim stops `holding` from taking the subscriber."""
    if row.holder == holding.holder and row.round_id == holding.round_id:
        return False  # already this worker's, in this round
    return row.expires_at > now and holder_is_alive(row.holder)


def renew(engine: Engine, holding: Holding, *, now: datetime, lease: timedelta) -> frozenset[int]:
    """Extend the lease of every claim of `holding` not settled yet; return their subscribers.

    A subscriber `holding` claimed that is missing from the answer was taken over
    by another worker (this one let the lease run out): not `holding`'s to serve.
    """
    with write_session(engine) as session:
        session.execute(
            update(DeliveryClaim).where(*_unsettled(holding)).values(expires_at=now + lease)
        )
        held = session.scalars(select(DeliveryClaim.subscriber_id).where(*_unsettled(holding)))
        return frozenset(held)


_SETTLE = (
    update(_CLAIMS)
    .where(
        _CLAIMS.c.subscriber_id == bindparam("b_subscriber"),
        _CLAIMS.c.round_id == bindparam("b_round"),
        _CLAIMS.c.holder == bindparam("b_holder"),
        _CLAIMS.c.settled.is_(False),
    )
    .values(settled=True)
)
"""Built once, and run as a Core statement: a run settles every subscriber this way, and an
ORM update (statement built, then the session synchronised) cost more than the write."""


def settle(bind: Session | Connection, holding: Holding, subscriber_ids: list[int]) -> int:
    """Mark the claims of `holding` on `subscriber_ids` settled, in the caller's write transaction.

    Returns how many it settled: fewer than asked when another worker took some over.
    """
    if not subscriber_ids:
        return 0
    connection = connection_of(bind)
    rows = [
        {"b_subscriber": i, "b_round": holding.round_id, "b_holder": holding.holder}
        for i in subscriber_ids
    ]
    if len(rows) == 1:  # a delivery recorded: the statement made for one, the cheapest
        return changed_rows(connection, _SETTLE, rows[0])
    return connection.execute(_SETTLE, rows).rowcount


def release(engine: Engine, holding: Holding) -> None:
    """Give back the unsettled claims of `holding` (a run stopped before reaching them)."""
    with write_session(engine) as session:
        session.execute(delete(DeliveryClaim).where(*_unsettled(holding)))


def _unsettled(holding: Holding) -> list[ColumnElement[bool]]:
    return [
        col(DeliveryClaim.round_id) == holding.round_id,
        col(DeliveryClaim.holder) == holding.holder,
        col(DeliveryClaim.settled).is_(False),
    ]
