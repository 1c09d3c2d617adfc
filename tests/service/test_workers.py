"""Several `paperbot serve` workers on one PostgreSQL database: the schedule runs once,
the delivery is shared, and nobody gets a digest twice, even when a worker is killed or hangs."""

import os
import queue
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.db import open_engine
from bot.models import Delivery, DeliveryClaim, SentPaper, Subscriber
from tests.conftest import SAMPLES, RunCli
from tests.delivery.conftest import SmtpServer, StartServer
from tests.postgres import PostgresCluster
from tests.service.conftest import MARGINS, Served, StartServe, forget_received, slot_in, smtp_env
from tests.signals import signal_and_wait

# Real services waiting on real clocks: `make test` runs them alone, after the rest.
pytestmark = pytest.mark.serial

# Each matches papers of the sample dump, so every subscriber has a digest.
KEYWORDS = ("graph neural network", "diffusion", "backpropagation", "language model")


def _database(postgres: PostgresCluster, run_cli: RunCli, tmp_path: Path, readers: int) -> str:
    """A PostgreSQL database with the sample papers and `readers` subscribers."""
    url = postgres.url(postgres.create_database())
    env = {"PAPERBOT_DATABASE_URL": url}
    done = run_cli("ingest", str(SAMPLES / "spaced-1.txt"), "--year", "2025", env=env)
    assert done.returncode == 0, done.stderr
    rows = [f"reader{n}@lab.org,,{KEYWORDS[n % len(KEYWORDS)]}" for n in range(readers)]
    table = tmp_path / "readers.csv"
    table.write_text("email,name,keywords\n" + "\n".join(rows) + "\n", encoding="utf-8")
    done = run_cli("subscriptions", "import", str(table), env=env)
    assert done.returncode == 0, done.stderr
    return url


def _worker_env(url: str, smtp: SmtpServer, send_at: str, **more: str) -> dict[str, str]:
    return smtp_env(
        smtp, send_at, PAPERBOT_DATABASE_URL=url, PAPERBOT_SCHEDULE_INBOX_EVERY="3600", **more
    )


def _three_workers(
    serve: StartServe,
    run_cli: RunCli,
    smtp: SmtpServer,
    postgres: PostgresCluster,
    folder: Path,
    readers: int,
    **more: str,
) -> tuple[str, list[Served]]:
    """A database with `readers` and three workers on it, all up before the send time."""
    for margin in MARGINS[1:]:  # three starts to fit in
        url = _database(postgres, run_cli, folder, readers)
        smtp.handler.data_delay = 0.02
        slot = slot_in(margin)
        env = _worker_env(url, smtp, slot.send_at, **more)
        workers = [serve(env) for _ in range(3)]
        # Read once the last one answers: a delivery not begun yet finds all three there.
        if workers[0].delivery_due_at(slot.at) and not workers[0].delivery_started():
            return url, workers
        for worker in workers:  # too slow for this margin: set up afresh, further ahead
            worker.process.kill()
            worker.process.wait()
        forget_received(smtp)
    pytest.fail("the send time was never ahead of the three starts")


def _delivery_runs(worker: Served) -> list[dict[str, Any]]:
    """The "job finished" lines of this worker's delivery runs, scheduled or joined."""
    return [
        line
        for line in worker.log_lines()
        if line.get("message") == "job finished" and str(line.get("job")).startswith("delivery")
    ]


def _sent_by(worker: Served) -> int:
    """Emails this worker's delivery runs say they sent."""
    return sum(line.get("emails", 0) for line in _delivery_runs(worker))


def _ledger(url: str) -> tuple[int, int]:
    """(subscribers in the ledger, subscribers still claimed and unsettled)."""
    engine = open_engine(url)
    try:
        with Session(engine) as session:
            ledger = session.scalar(select(func.count(func.distinct(SentPaper.subscriber_id))))
            unsettled = session.scalar(
                select(func.count()).select_from(DeliveryClaim).where(~col(DeliveryClaim.settled))
            )
        return int(ledger or 0), int(unsettled or 0)
    finally:
        engine.dispose()


def _signal_the_sender(
    smtp: SmtpServer, engine: Engine, nth: int, signum: signal.Signals
) -> "queue.Queue[int]":
    """Send `signum` to the worker delivering to the `nth` recipient the server hears of.

    The server answers that RCPT only once the worker has stopped or died, so the
    message is still on its way then. Returns the queue that then gets the worker's pid.
    """
    seen: list[str] = []
    signalled: queue.Queue[int] = queue.Queue()

    def on_rcpt(address: str) -> None:
        seen.append(address)
        if len(seen) == nth:
            pid = _holder_pid(engine, address)
            signal_and_wait(pid, signum)
            signalled.put(pid)

    smtp.handler.on_rcpt = on_rcpt
    return signalled


def _holder_pid(engine: Engine, address: str) -> int:
    """The process of the worker delivering to `address`: it holds the reader's claim."""
    with Session(engine) as session:
        holder = session.scalars(
            select(col(DeliveryClaim.holder))
            .join(Subscriber, col(Subscriber.id) == col(DeliveryClaim.subscriber_id))
            .where(col(Subscriber.email) == address)
        ).one()
    return int(holder.rpartition(":")[2].partition("/")[0])


def _deliveries_of(url: str, addresses: list[str]) -> list[tuple[Any, ...]]:
    """What the database says of each delivery to `addresses`: who sent, when, and why."""
    engine = open_engine(url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(col(Subscriber.email), col(Delivery.run_id), col(Delivery.status),
                       col(Delivery.attempts), col(Delivery.created_at), col(Delivery.reason))
                .join(Subscriber, col(Subscriber.id) == col(Delivery.subscriber_id))
                .where(col(Subscriber.email).in_(addresses))
                .order_by(col(Delivery.created_at))
            )  # fmt: skip
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def _workers_story(workers: list[Served]) -> str:
    """Each worker's pid, delivery runs and warnings: who did what, when a test fails."""
    lines = []
    for worker in workers:
        lines.append(f"worker pid {worker.process.pid}:")
        runs = _delivery_runs(worker)
        lines += [
            f"  {line}"
            for line in worker.log_lines()
            if line.get("level") in ("warning", "error") or line in runs
        ]
    return "\n".join(lines)


def _assert_each_reader_got_one_digest(
    smtp: SmtpServer, readers: int, url: str, workers: list[Served]
) -> None:
    received = Counter(r for message in smtp.handler.received for r in message.recipients)
    expected = {f"reader{n}@lab.org" for n in range(readers)}
    assert set(received) == expected
    twice = [a for a, n in received.items() if n > 1]
    if twice:  # nobody twice: else say who sent what (a string, shown whole)
        deliveries = "\n".join(map(str, _deliveries_of(url, twice)))
        pytest.fail(f"{twice} got two digests:\n{deliveries}\n{_workers_story(workers)}")
    ids = [message.message["Message-ID"] for message in smtp.handler.received]
    assert len(set(ids)) == len(ids) == readers


def test_three_workers_share_one_delivery_and_send_every_digest_once(
    serve: StartServe,
    run_cli: RunCli,
    smtp_server: SmtpServer,
    postgres: PostgresCluster,
    tmp_path: Path,
) -> None:
    readers = 2000
    # Slow enough that one worker alone would need ~10 s: the others join within 5.
    url, workers = _three_workers(serve, run_cli, smtp_server, postgres, tmp_path, readers)
    leader = workers[0].wait_for(
        lambda: workers[0].health()[1].get("leader"), message="a schedule leader"
    )
    # Each worker answers for itself; all are listed, one leads the schedule.
    holders = [w.health()[1]["holder"] for w in workers]
    assert len(set(holders)) == 3 and leader in holders
    listed = workers[1].health()[1]["workers"]
    assert sorted(w["holder"] for w in listed if w["alive"]) == sorted(holders)
    checked = run_cli("health", env={"PAPERBOT_DATABASE_URL": url})
    assert checked.returncode == 0 and f"leading the schedule: {leader}" in checked.stdout

    workers[0].wait_for(
        lambda: _ledger(url)[0] == readers, timeout=150, message="every reader in the ledger"
    )
    for worker in workers:  # every run ends (waiting for the others' claims)
        worker.wait_for(partial(_delivery_runs, worker), timeout=60, message="its run to end")
    _assert_each_reader_got_one_digest(smtp_server, readers, url, workers)
    # The scheduled job ran once, on the leader; the others joined its round.
    scheduled = [line for w in workers for line in w.job_runs("delivery")]
    assert len(scheduled) == 1
    shares = [_sent_by(w) for w in workers]
    assert sum(shares) == readers and min(shares) > 0, shares
    assert _ledger(url) == (readers, 0)


def test_a_worker_killed_mid_delivery_leaves_its_readers_to_the_others(
    serve: StartServe,
    run_cli: RunCli,
    smtp_server: SmtpServer,
    postgres: PostgresCluster,
    tmp_path: Path,
) -> None:
    readers = 300
    # One connection each: when a worker is killed at a recipient, every message it
    # sent before was answered and recorded, so the test can ask for exactly once.
    url, workers = _three_workers(
        serve, run_cli, smtp_server, postgres, tmp_path, readers,
        PAPERBOT_SMTP_MAX_CONNECTIONS="1",
    )  # fmt: skip
    engine = open_engine(url)
    killed = _signal_the_sender(smtp_server, engine, 100, signal.SIGKILL).get(timeout=60)
    engine.dispose()
    (victim,) = [w for w in workers if w.process.pid == killed]
    assert victim.process.wait(timeout=60) == -signal.SIGKILL
    survivors = [w for w in workers if w is not victim]
    survivors[0].wait_for(
        lambda: _ledger(url) == (readers, 0), timeout=120, message="every reader settled"
    )
    _assert_each_reader_got_one_digest(smtp_server, readers, url, workers)
    # One of the survivors leads the schedule now (if the killed worker did before).
    holders = {w.health()[1]["holder"] for w in survivors}
    survivors[0].wait_for(
        lambda: survivors[0].health()[1].get("leader") in holders,
        timeout=45,
        message="a surviving leader",
    )


def test_a_worker_hung_past_its_lease_sends_nothing_the_others_took_over(
    serve: StartServe,
    run_cli: RunCli,
    start_server: StartServer,
    postgres: PostgresCluster,
    tmp_path: Path,
) -> None:
    readers = 150
    # The server drops a client silent for 3 s, as real servers drop idle ones (after
    # minutes): the hung worker's message in flight is not delivered when it wakes up.
    smtp = start_server(timeout=3)
    url, workers = _three_workers(
        serve, run_cli, smtp, postgres, tmp_path, readers,
        # A short lease, for a short test; long enough that the others, on a loaded
        # machine, never stall past the nine tenths of it a run leaves itself to send
        # and record a message (13.5 s).
        PAPERBOT_SMTP_MAX_CONNECTIONS="1", PAPERBOT_DELIVERY_CLAIM_LEASE="15",
    )  # fmt: skip
    engine = open_engine(url)
    hung = _signal_the_sender(smtp, engine, 60, signal.SIGSTOP).get(timeout=60)
    try:
        (victim,) = [w for w in workers if w.process.pid == hung]
        others = [w for w in workers if w is not victim]
        # Its claims run out and the others deliver to its readers.
        others[0].wait_for(
            lambda: _ledger(url) == (readers, 0), timeout=120, message="every reader settled"
        )
        # It wakes once the server has dropped its connection (and the others have
        # closed theirs): a message it was sending never arrives.
        others[0].wait_for(
            lambda: smtp.handler.active == 0, timeout=60, message="the server to drop it"
        )
    finally:
        os.kill(hung, signal.SIGCONT)
        engine.dispose()
    # Woken up, it finds its claims taken over and sends none of them.
    victim.wait_for(lambda: _delivery_runs(victim), timeout=60, message="its run to end")
    _assert_each_reader_got_one_digest(smtp, readers, url, workers)
    assert _delivery_runs(victim)[0].get("skipped", 0) > 0


def test_workers_started_together_on_a_new_database_elect_one_leader_and_hand_it_over(
    serve: StartServe, smtp_server: SmtpServer, postgres: PostgresCluster
) -> None:
    url = postgres.url(postgres.create_database())  # no tables yet: both create the schema
    env = _worker_env(url, smtp_server, "08:00:00")
    with ThreadPoolExecutor(2) as pool:
        workers = list(pool.map(lambda _: serve(env), range(2)))
    workers[0].wait_for(lambda: workers[0].health()[1].get("leader"), message="a schedule leader")
    leader = workers[0].health()[1]["leader"]
    (first,) = [w for w in workers if w.health()[1]["holder"] == leader]
    (second,) = [w for w in workers if w is not first]
    assert first.stop()[0] == 0
    # Released on the way out: nobody leads until the other takes it at its next
    # heartbeat, though the lease the first renewed at its last one has not run out.
    assert second.health()[1]["leader"] in (None, second.health()[1]["holder"])
    second.wait_for(
        lambda: second.health()[1].get("leader") == second.health()[1]["holder"],
        message="the second worker to lead",
    )
    assert any(line.get("message") == "leading the schedule" for line in second.log_lines())
