"""Delivery rounds and claims: several runs share one delivery, nobody is served twice."""

import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.db import write_session
from bot.delivery import claims
from bot.delivery.claims import Holding, Round
from bot.delivery.ledger import record_delivery
from bot.delivery.run import deliver
from bot.locks import machine_name
from bot.models import DeliveryClaim, DeliveryRound, SentPaper, Subscriber
from tests.delivery.conftest import ManualClock, SmtpServer
from tests.delivery.test_run import _setup, _smtp_env, _subscribe

LEASE = timedelta(minutes=10)
DEAD_PID = 2**22 + 1  # above Linux's largest pid: no such process


def _subscribers(engine: Engine, count: int, clock: ManualClock) -> list[int]:
    for n in range(count):
        _subscribe(engine, clock, f"reader{n}@lab.org", "graph neural network")
    with Session(engine) as session:
        return list(session.scalars(select(col(Subscriber.id)).order_by(col(Subscriber.id))))


def _holding(engine: Engine, clock: ManualClock, holder: str) -> Holding:
    return Holding(claims.start_round(engine, holder=holder, now=clock()), holder)


def _claim_rows(engine: Engine) -> dict[int, tuple[str, bool]]:
    with Session(engine) as session:
        return {
            c.subscriber_id: (c.holder, c.settled) for c in session.scalars(select(DeliveryClaim))
        }


def test_a_claimed_subscriber_is_busy_for_everyone_else(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, _ = _setup(tmp_path, clock, database_url=database_url)
    ids = _subscribers(engine, 3, clock)
    a, b = _holding(engine, clock, "host-a:1"), _holding(engine, clock, "host-b:2")
    first = claims.claim(engine, a, ids[:2], now=clock(), lease=LEASE)
    second = claims.claim(engine, b, ids, now=clock(), lease=LEASE)
    assert (first.mine, first.busy) == (frozenset(ids[:2]), frozenset())
    assert (second.mine, second.busy) == (frozenset(ids[2:]), frozenset(ids[:2]))
    again = claims.claim(engine, a, ids[:2], now=clock(), lease=LEASE)  # its own: still its own
    assert again.mine == frozenset(ids[:2])


def test_a_settled_subscriber_is_done_for_its_round_and_free_for_the_next(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, _ = _setup(tmp_path, clock, database_url=database_url)
    (subscriber,) = _subscribers(engine, 1, clock)
    a = _holding(engine, clock, "host-a:1")
    claims.claim(engine, a, [subscriber], now=clock(), lease=LEASE)
    with write_session(engine) as session:
        claims.settle(session, a, [subscriber])
    same_round = claims.claim(
        engine, Holding(a.round_id, "host-b:2"), [subscriber], now=clock(), lease=LEASE
    )
    assert same_round == claims.Claimed(frozenset(), frozenset())
    later = claims.claim(
        engine, _holding(engine, clock, "host-b:2"), [subscriber], now=clock(), lease=LEASE
    )
    assert later.mine == {subscriber}


def test_a_claim_is_taken_over_when_its_lease_runs_out_or_its_local_holder_is_gone(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, _ = _setup(tmp_path, clock, database_url=database_url)
    remote, local = _subscribers(engine, 2, clock)
    claims.claim(
        engine, _holding(engine, clock, "other-host:42"), [remote], now=clock(), lease=LEASE
    )
    dead = _holding(engine, clock, f"{machine_name()}:{DEAD_PID}/7")  # process:run
    claims.claim(engine, dead, [local], now=clock(), lease=LEASE)
    me = _holding(engine, clock, "host-b:2")
    # The process on this machine is gone: its claim is free at once. The other
    # machine's worker can only be judged by its lease.
    assert claims.claim(engine, me, [remote, local], now=clock(), lease=LEASE).mine == {local}
    clock.now += LEASE - timedelta(seconds=1)
    assert claims.claim(engine, me, [remote], now=clock(), lease=LEASE).busy == {remote}
    clock.now += timedelta(seconds=2)
    assert claims.claim(engine, me, [remote], now=clock(), lease=LEASE).mine == {remote}


def test_renewing_keeps_claims_and_release_gives_back_only_unsettled_ones(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, _ = _setup(tmp_path, clock, database_url=database_url)
    done, waiting = _subscribers(engine, 2, clock)
    a = _holding(engine, clock, "other-host:1")
    claims.claim(engine, a, [done, waiting], now=clock(), lease=LEASE)
    clock.now += LEASE * 0.9
    claims.renew(engine, a, now=clock(), lease=LEASE)
    clock.now += LEASE * 0.9  # past the first lease, inside the renewed one
    b = _holding(engine, clock, "host-b:2")
    assert claims.claim(engine, b, [done, waiting], now=clock(), lease=LEASE).busy == {
        done,
        waiting,
    }
    with write_session(engine) as session:
        claims.settle(session, a, [done])
    claims.release(engine, a)
    assert _claim_rows(engine) == {done: ("other-host:1", True)}


def test_rounds_are_open_until_finished(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    engine, _ = _setup(tmp_path, clock, database_url=database_url)
    old = claims.start_round(engine, holder="a:1", now=clock() - timedelta(days=2))
    everyone = claims.start_round(engine, holder="a:1", now=clock())
    one = claims.start_round(engine, holder="a:1", now=clock(), only="ana@lab.org")
    since = clock() - timedelta(days=1)
    assert claims.open_rounds(engine, since=since) == [
        Round(everyone, None, "a:1", clock()),
        Round(one, "ana@lab.org", "a:1", clock()),
    ]
    claims.finish_round(engine, everyone, now=clock())
    assert [r.id for r in claims.open_rounds(engine, since=since)] == [one]
    assert [r.id for r in claims.open_rounds(engine, since=since - timedelta(days=2))] == [old, one]


def test_a_run_waits_for_a_subscriber_another_worker_holds_and_does_not_send_it_again(
    tmp_path: Path, database_url: str, clock: ManualClock, smtp_server: SmtpServer
) -> None:
    engine, settings = _setup(tmp_path, clock, _smtp_env(smtp_server), database_url=database_url)
    ana, bo = _subscribers(engine, 2, clock)
    other = _holding(engine, clock, "other-host:42")
    claims.claim(engine, other, [ana], now=clock(), lease=LEASE)
    pauses: list[float] = []

    def other_worker_finishes(seconds: float) -> None:
        # While this run waits, the other worker delivers ana's digest and settles her.
        pauses.append(seconds)
        record_delivery(
            engine, run_id=None, subscriber_id=ana, channel="email", status="sent", reason="250",
            paper_ids=[1], now=clock(), settles=other,
        )  # fmt: skip

    report = deliver(engine, settings, clock=clock, sleep=other_worker_finishes)
    assert len(pauses) == 1
    assert [r.recipients for r in smtp_server.handler.received] == [["reader1@lab.org"]]
    statuses = {(o.email, o.status) for o in report.outcomes}
    assert ("reader1@lab.org", "sent") in statuses and ("reader0@lab.org", "sent") not in statuses
    assert _claim_rows(engine)[bo][1] is True


def test_a_joined_round_whose_starter_died_is_finished_once_its_claims_expire(
    tmp_path: Path, database_url: str, clock: ManualClock, smtp_server: SmtpServer
) -> None:
    env = {**_smtp_env(smtp_server), "PAPERBOT_DELIVERY_CLAIM_LEASE": "60"}
    engine, settings = _setup(tmp_path, clock, env, database_url=database_url)
    ids = _subscribers(engine, 4, clock)
    # A worker on another machine started a round, claimed two readers, and died.
    dead = _holding(engine, clock, "other-host:42")
    claims.claim(engine, dead, ids[:2], now=clock(), lease=timedelta(seconds=60))
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        clock.now += timedelta(seconds=seconds)
        # Nothing of theirs goes out before their lease has run out.
        assert len(smtp_server.handler.received) == 2 or sum(waited) >= 60

    report = deliver(engine, settings, clock=clock, sleep=sleep, join=Round(dead.round_id, None))
    assert report.round_id == dead.round_id
    received = sorted(r.recipients[0] for r in smtp_server.handler.received)
    assert received == [f"reader{n}@lab.org" for n in range(4)]  # each exactly once
    assert 60 <= sum(waited) <= 60 + 15
    assert claims.open_rounds(engine, since=clock() - timedelta(days=1)) == []


def _short(seconds: float) -> None:
    time.sleep(0.05)  # waiting for the other run: no need for the full pause here


def test_two_runs_at_once_share_the_work_and_send_nothing_twice(
    tmp_path: Path, database_url: str, clock: ManualClock, smtp_server: SmtpServer
) -> None:
    env = {**_smtp_env(smtp_server), "PAPERBOT_SMTP_MAX_CONNECTIONS": "2"}
    engine, settings = _setup(tmp_path, clock, env, database_url=database_url)
    _subscribers(engine, 80, clock)
    smtp_server.handler.data_delay = 0.01  # long enough for the runs to overlap
    started = claims.start_round(engine, holder="test:0", now=clock())
    reports = []

    def run(join: Round | None) -> None:
        reports.append(deliver(engine, settings, clock=clock, join=join, sleep=_short))

    threads = [threading.Thread(target=run, args=(Round(started, None),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    received = sorted(r.recipients[0] for r in smtp_server.handler.received)
    assert received == sorted(f"reader{n}@lab.org" for n in range(80))
    sent_by = [sum(o.status == "sent" for o in r.outcomes) for r in reports]
    assert sum(sent_by) == 80 and min(sent_by) > 0  # both took part
    with Session(engine) as session:
        assert session.scalar(select(func.count(func.distinct(SentPaper.subscriber_id)))) == 80
        finished = session.get_one(DeliveryRound, started).finished_at
    assert finished is not None


def test_a_run_that_stalled_past_its_lease_sends_nothing_another_worker_took_over(
    tmp_path: Path, database_url: str, clock: ManualClock, smtp_server: SmtpServer
) -> None:
    env = {
        **_smtp_env(smtp_server),
        "PAPERBOT_SMTP_MAX_CONNECTIONS": "1",
        "PAPERBOT_DELIVERY_CLAIM_LEASE": "60",
    }
    engine, settings = _setup(tmp_path, clock, env, database_url=database_url)
    ids = _subscribers(engine, 6, clock)
    taken_over: list[claims.Claimed] = []

    def stall_at_the_second_reader(address: str) -> None:
        if address != "reader1@lab.org":
            return
        # This run hangs (a paused machine, say) for two leases; meanwhile a worker
        # elsewhere joins the round and takes over every claim that ran out.
        clock.now += timedelta(seconds=120)
        with Session(engine) as session:
            round_id = session.scalars(select(func.max(col(DeliveryRound.id)))).one()
        assert round_id is not None  # this run started one
        other = Holding(round_id, "other-host:42")
        taken_over.append(claims.claim(engine, other, ids, now=clock(), lease=LEASE))

    smtp_server.handler.on_rcpt = stall_at_the_second_reader
    report = deliver(engine, settings, clock=clock, sleep=lambda _: None)
    # reader0 was settled before the stall; reader1's message was already on its way.
    assert taken_over[0].mine == frozenset(ids[1:])
    received = [r.recipients[0] for r in smtp_server.handler.received]
    assert received == ["reader0@lab.org", "reader1@lab.org"]
    skipped = {o.email: o.reason for o in report.outcomes if o.status == "skipped"}
    assert sorted(skipped) == [f"reader{n}@lab.org" for n in range(2, 6)]
    assert all("another worker" in reason for reason in skipped.values())
    # The other worker's claims are left alone: it delivers to those readers itself.
    rows = _claim_rows(engine)
    assert {rows[i] for i in ids[2:]} == {("other-host:42", False)}
