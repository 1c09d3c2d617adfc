"""Delivery benchmark on PostgreSQL: 1, 2 and 4 workers sharing one round, and how it scales.

The dataset is bench/delivery.py's (10,000 subscribers, 500 new papers, 5 to 30
matches each), built once with paperbot's API into a database of a throwaway
PostgreSQL cluster (tests/postgres.py: initdb and pg_ctl, unix socket only, fsync
off). For each worker count N: a fresh copy of that database (CREATE DATABASE ...
TEMPLATE), one delivery round started by this process, then N processes that join
it at the same moment, each with `deliver(..., join=Round(round_id, None))` and
`--connections` SMTP connections (4). Timed from that moment until the last of them
has returned.

The template's ledger is empty, as on a new installation. On PostgreSQL each
ledger row's foreign-key check on `delivery` then runs a plan made while that
table was nearly empty: a sequential scan, kept by the connection until the table
is next analysed, so each message costs more than the last (measured: one worker's
PostgreSQL CPU went from 7 to 25 s between identical runs of 10,000). Autovacuum
analyses it within `autovacuum_naptime`, 1 minute by default; the bench sets 1 s
in its cluster, so the figures are those of the steady state.

Every run is checked, and the bench stops at the first failure: each subscriber
got exactly one message at the sink, the ledger has one sent email delivery for
each (and their papers), and no claim is left unsettled.

The SMTP sink is a process of its own. By default a light one: asyncio and just
enough SMTP (greeting, EHLO, MAIL, RCPT, DATA, RSET, QUIT), counting recipients
and parsing nothing; `--sink aiosmtpd` uses aiosmtpd instead, which costs about
1.4 ms of CPU per message, a lot on a 2-core machine. `--latency MS` (default 20)
makes the sink wait that long before answering each DATA, as a real server's
network and disk do. Each worker count runs twice: at latency 0, where the
machine's cores bound what more workers can do, and at `--latency`, where
workers spend time waiting and more of them help even on few cores
(`--latency 0` runs the first series only).

Prints, per series and N:

- seconds until every worker returned, messages/s, and that rate's ratio to the
  first worker count's (N=1) in the same series;
- the same until the sink took the last message (a run that found subscribers
  held by others sleeps before it looks again: "slept", the longest of any worker);
- CPU seconds of the workers, of PostgreSQL (server and backends) and of the sink,
  and of everything else on the machine, with how many cores were busy in all:
  what bounds the scaling, and whether something else shared the machine;
- the messages each worker sent.

It takes about 6 minutes on 2 cores (`--subscribers 2000`: about 1.5), so it is
not part of `make bench`.

    python bench/delivery_workers.py [--subscribers N] [--papers N] [--latency MS]
        [--sink light|aiosmtpd] [--connections N] [--workers 1,2,4]
"""

import argparse
import asyncio
import multiprocessing
import os
import queue
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from delivery import NOW, bench_settings, build_database, free_port

from tests.postgres import PostgresCluster, find_postgres_bin

# --- The sink ---------------------------------------------------------------------


@dataclass
class _Received:
    """What the sink took: messages per recipient, and when it answered the last DATA."""

    counts: Counter[str]
    last: float = 0.0  # time.monotonic(), which every process of this machine shares

    def accept(self, recipients: list[str]) -> None:
        self.counts.update(recipients)
        self.last = time.monotonic()


_EHLO = b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 0\r\n"


async def _light_session(
    received: _Received,
    latency: float,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """One SMTP connection, answered with the fewest steps that aiosmtplib accepts."""
    recipients: list[str] = []
    writer.write(b"220 sink ESMTP\r\n")
    try:
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(_EHLO)
            elif verb == b"RCPT":
                address = line[line.index(b"<") + 1 : line.rindex(b">")]
                recipients.append(address.decode())
                writer.write(b"250 2.1.5 OK\r\n")
            elif verb == b"DATA":
                writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                await writer.drain()
                await reader.readuntil(b"\r\n.\r\n")  # the message, never empty here
                if latency:
                    await asyncio.sleep(latency)
                received.accept(recipients)
                recipients = []
                writer.write(b"250 2.0.0 OK\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                return
            else:  # HELO, MAIL, RSET, NOOP
                if verb in (b"MAIL", b"RSET"):
                    recipients = []
                writer.write(b"250 OK\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return  # the client went away
    finally:
        writer.close()


class _Counting:
    """aiosmtpd's handler: counts each accepted message's recipients."""

    def __init__(self, received: _Received, latency: float) -> None:
        self.received = received
        self.latency = latency

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.latency:
            await asyncio.sleep(self.latency)
        self.received.accept(list(envelope.rcpt_tos))
        return "250 2.0.0 OK"


async def _serve(kind: str, port: int, latency: float, control: Connection) -> None:
    """Serve SMTP on `port`; answer "counts", "reset" and "stop" on `control`."""
    loop = asyncio.get_running_loop()
    received = _Received(Counter())
    server: asyncio.Server
    if kind == "light":

        async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _light_session(received, latency, reader, writer)

        server = await asyncio.start_server(session, "127.0.0.1", port, limit=64 * 1024 * 1024)
    else:
        from aiosmtpd.smtp import SMTP

        handler = _Counting(received, latency)
        server = await loop.create_server(lambda: SMTP(handler, hostname="sink"), "127.0.0.1", port)
    stopped = loop.create_future()

    def on_command() -> None:
        try:
            command = control.recv()
        except EOFError:  # the bench is gone
            command = "stop"
        if command == "counts":
            control.send((dict(received.counts), received.last, time.process_time()))
        elif command == "reset":
            received.counts.clear()
            control.send("ok")
        elif not stopped.done():
            stopped.set_result(None)

    loop.add_reader(control.fileno(), on_command)
    control.send("ready")
    await stopped
    server.close()


def _sink(kind: str, port: int, latency: float, control: Connection) -> None:
    asyncio.run(_serve(kind, port, latency, control))


class Sink:
    """The sink's process, and the parent's end of its control pipe."""

    def __init__(self, kind: str, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self._control, child = context.Pipe()
        self._process = context.Process(
            target=_sink, args=(kind, self.port, latency, child), daemon=True
        )
        self._process.start()
        if not self._control.poll(30) or self._control.recv() != "ready":
            raise SystemExit("the SMTP sink did not start")

    def reset(self) -> None:
        self._control.send("reset")
        self._control.recv()

    def counts(self) -> tuple[dict[str, int], float, float]:
        """Messages per recipient, when the last was taken, and the sink's CPU seconds."""
        self._control.send("counts")
        counts, last, cpu = self._control.recv()
        return counts, last, cpu

    def stop(self) -> None:
        self._control.send("stop")
        self._process.join(10)


# --- The workers ------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What one worker process needs to join the round."""

    folder: str
    database_url: str
    port: int
    connections: int
    round_id: int


def _worker(job: Job, start: Any, results: Any) -> None:
    """Join the round when every worker is ready; put what it did on `results`."""
    from bot.db import open_engine
    from bot.delivery.claims import Round
    from bot.delivery.run import deliver

    settings = bench_settings(job.folder, job.port, job.connections, database_url=job.database_url)
    engine = open_engine(settings.database_url)
    with engine.connect():  # connected before the clock starts
        pass
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    start.wait()
    started, cpu = time.monotonic(), time.process_time()
    report = deliver(
        engine, settings, clock=lambda: NOW, join=Round(job.round_id, None), sleep=sleep
    )
    results.put(
        {
            "started": started,
            "finished": time.monotonic(),
            "cpu": time.process_time() - cpu,
            "slept": sum(slept),
            "sent": sum(o.status == "sent" and o.channel == "email" for o in report.outcomes),
        }
    )
    engine.dispose()


# --- One run: N workers on a fresh copy of the database -----------------------------


@dataclass(frozen=True)
class Result:
    """One run's figures."""

    workers: int
    seconds: float
    last_message: float
    slept: float
    workers_cpu: float
    postgres_cpu: float
    sink_cpu: float
    machine_cpu: float  # every process's, ours included
    sent: list[int]  # by each worker, most first

    @property
    def others_cpu(self) -> float:
        """CPU seconds of everything else on the machine: this process, the kernel, others."""
        return max(0.0, self.machine_cpu - self.workers_cpu - self.postgres_cpu - self.sink_cpu)


def _machine_cpu() -> float:
    """CPU seconds every core of the machine has been busy so far (/proc/stat)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu(cluster: PostgresCluster) -> float:
    """CPU seconds of the server so far: the postmaster, its children, and those it reaped."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    ticks = 0
    for pid in [postmaster, *map(int, children)]:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:  # a backend that has just ended: counted as reaped
            continue
        utime, stime, cutime, cstime = stat.rpartition(")")[2].split()[11:15]
        ticks += int(utime) + int(stime) + int(cutime) + int(cstime)
    return ticks / os.sysconf("SC_CLK_TCK")


def _wait_for_backends(engine: Any) -> None:
    """Wait until no connection but this one is open on the database (10 s at most)."""
    from sqlalchemy import text

    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 10
    with engine.connect() as connection:
        while connection.scalar(query) and time.monotonic() < deadline:
            connection.rollback()  # a new snapshot of pg_stat_activity
            time.sleep(0.01)


def run_workers(
    cluster: PostgresCluster, template: str, sink: Sink, folder: str, workers: int, connections: int
) -> Result:
    """Deliver the template's round with `workers` processes on a copy; check it; time it."""
    from bot.db import open_engine
    from bot.delivery import claims

    name = cluster.create_database(template=template)
    url = cluster.url(name)
    engine = open_engine(url)
    try:
        sink.reset()
        _, _, sink_cpu_before = sink.counts()
        round_id = claims.start_round(engine, holder="bench", now=NOW)
        context = multiprocessing.get_context("spawn")
        start, results = context.Barrier(workers + 1), context.Queue()
        job = Job(folder, url, sink.port, connections, round_id)
        processes = [
            context.Process(target=_worker, args=(job, start, results)) for _ in range(workers)
        ]
        for process in processes:
            process.start()
        start.wait(120)  # every worker is connected: go
        machine_before = _machine_cpu()
        postgres_before = _postgres_cpu(cluster)
        done = _collect(results, processes)
        for process in processes:
            process.join(30)
        _wait_for_backends(engine)  # their CPU time is then the postmaster's to report
        machine_cpu = _machine_cpu() - machine_before
        postgres_cpu = _postgres_cpu(cluster) - postgres_before
        counts, last, sink_cpu = sink.counts()
        _check(engine, counts, done)
    finally:
        engine.dispose()
        cluster.drop_database(name)
    began = min(d["started"] for d in done)
    return Result(
        workers=workers,
        seconds=max(d["finished"] for d in done) - began,
        last_message=last - began,
        slept=max(d["slept"] for d in done),
        workers_cpu=sum(d["cpu"] for d in done),
        postgres_cpu=postgres_cpu,
        sink_cpu=sink_cpu - sink_cpu_before,
        machine_cpu=machine_cpu,
        sent=sorted((d["sent"] for d in done), reverse=True),
    )


def _collect(results: Any, processes: list[Any]) -> list[dict[str, Any]]:
    """Each worker's figures, as they finish; stop if one of them dies instead."""
    done: list[dict[str, Any]] = []
    while len(done) < len(processes):
        try:
            done.append(results.get(timeout=1))
        except queue.Empty:
            failed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if failed:
                for process in processes:
                    process.terminate()  # the others would take over its subscribers
                raise SystemExit(f"a worker exited with status {failed[0]}") from None
    return done


def _autocommit(url: str, *statements: str) -> None:
    """Run `statements` on the database at `url`, each outside a transaction."""
    from bot.db import open_engine

    engine = open_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def _check(engine: Any, counts: dict[str, int], done: list[dict[str, Any]]) -> None:
    """Fail unless every subscriber got exactly one message, and the ledger says so once."""
    from sqlalchemy import func, select
    from sqlmodel import Session, col

    from bot.models import Delivery, DeliveryClaim, SentPaper, Subscriber

    with Session(engine) as session:
        emails = {
            e: i for i, e in session.execute(select(col(Subscriber.id), col(Subscriber.email)))
        }
        sent = dict(
            session.execute(
                select(col(Delivery.subscriber_id), func.count())
                .where(col(Delivery.channel) == "email", col(Delivery.status) == "sent")
                .group_by(col(Delivery.subscriber_id))
            ).all()
        )
        failed = session.scalar(
            select(func.count()).select_from(Delivery).where(col(Delivery.status) == "failed")
        )
        ledger = dict(
            session.execute(
                select(col(SentPaper.subscriber_id), func.count(col(Delivery.id).distinct()))
                .join(Delivery, col(Delivery.id) == col(SentPaper.delivery_id))
                .group_by(col(SentPaper.subscriber_id))
            ).all()
        )
        unsettled = session.scalar(
            select(func.count())
            .select_from(DeliveryClaim)
            .where(col(DeliveryClaim.settled).is_(False))
        )
    problems = []
    twice = sorted(e for e, n in counts.items() if n > 1)
    missing = sorted(set(emails) - set(counts))
    strangers = sorted(set(counts) - set(emails))
    if twice:
        problems.append(f"{len(twice)} got more than one message at the sink, e.g. {twice[:3]}")
    if missing:
        problems.append(f"{len(missing)} got no message at the sink, e.g. {missing[:3]}")
    if strangers:
        problems.append(f"the sink got messages for unknown addresses, e.g. {strangers[:3]}")
    if any(sent.get(i) != 1 for i in emails.values()) or len(sent) != len(emails):
        wrong = sorted(e for e, i in emails.items() if sent.get(i) != 1)
        problems.append(f"{len(wrong)} have not exactly one sent delivery, e.g. {wrong[:3]}")
    if any(ledger.get(i) != 1 for i in emails.values()) or len(ledger) != len(emails):
        wrong = sorted(e for e, i in emails.items() if ledger.get(i) != 1)
        problems.append(
            f"{len(wrong)} have not exactly one delivery in the ledger, e.g. {wrong[:3]}"
        )
    if failed:
        problems.append(f"{failed} deliveries failed")
    if unsettled:
        problems.append(f"{unsettled} claims were left unsettled")
    reported = sum(d["sent"] for d in done)
    if reported != len(emails):
        problems.append(f"the workers reported {reported} sent, for {len(emails)} subscribers")
    if problems:
        raise SystemExit("delivery check failed: " + "; ".join(problems))


# --- Main -------------------------------------------------------------------------


HEADER = (
    "  workers  seconds  msg/s   vs 1   last msg  msg/s   vs 1   slept"
    "  CPU s: workers postgres  sink  others  cores busy  sent per worker"
)


def _print(result: Result, baseline: Result, subscribers: int) -> None:
    """One line: until every worker returned, until the sink took the last message, and why."""
    rate, last_rate = subscribers / result.seconds, subscribers / result.last_message
    ratio = rate / (subscribers / baseline.seconds)
    last_ratio = last_rate / (subscribers / baseline.last_message)
    split = " + ".join(str(n) for n in result.sent)
    print(f"  {result.workers:7d}  {result.seconds:7.2f}  {rate:5.0f}  {ratio:4.2f}x"
          f"  {result.last_message:7.2f} s  {last_rate:5.0f}  {last_ratio:4.2f}x  {result.slept:4.1f} s"
          f"  {result.workers_cpu:14.1f} {result.postgres_cpu:8.1f}  {result.sink_cpu:4.1f}"
          f"  {result.others_cpu:6.1f}  {result.machine_cpu / result.seconds:10.2f}  {split}")  # fmt: skip


def main() -> None:
    """Build the database, then run each series of worker counts against the sink; print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=500)
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections per worker")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, the first the baseline")
    parser.add_argument("--latency", type=float, default=20.0, metavar="MS",
                        help="the sink's wait before answering DATA, in the second series")  # fmt: skip
    parser.add_argument("--sink", choices=("light", "aiosmtpd"), default="light")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    bindir = find_postgres_bin()
    if bindir is None:
        print("this benchmark needs PostgreSQL's initdb and pg_ctl (apt-get install postgresql)")
        raise SystemExit(1)

    cluster = PostgresCluster(bindir)
    try:
        with tempfile.TemporaryDirectory(prefix="paperbot-bench-") as folder:
            template = cluster.create_database()
            started = time.perf_counter()
            build_database(folder, args.subscribers, args.papers, args.seed, cluster.url(template))
            _autocommit(cluster.url(template), "VACUUM ANALYZE")  # no copy starts with that work
            # See the docstring: the steady state, not the plans made while `delivery` is empty.
            _autocommit(
                cluster.url("postgres"),
                "ALTER SYSTEM SET autovacuum_naptime = '1s'",
                "SELECT pg_reload_conf()",
            )
            print(f"database: {args.subscribers} subscribers, {args.papers} papers on PostgreSQL"
                  f" (built in {time.perf_counter() - started:.1f} s); {args.sink} sink,"
                  f" {args.connections} SMTP connections per worker, {os.cpu_count()} cores")  # fmt: skip
            for latency in sorted({0.0, args.latency}):
                sink = Sink(args.sink, latency / 1000)
                try:
                    print(f"sink latency {latency:g} ms")
                    print(HEADER)
                    baseline: Result | None = None
                    for workers in counts:
                        result = run_workers(
                            cluster, template, sink, folder, workers, args.connections
                        )
                        baseline = baseline or result
                        _print(result, baseline, args.subscribers)
                finally:
                    sink.stop()
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
