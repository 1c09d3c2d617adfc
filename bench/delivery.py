"""Delivery benchmark: 10,000 subscribers, 500 new papers, digests sent to a local SMTP sink.

Each subscriber's keywords match 5 to 30 of the papers. The database is built
with paperbot's own API in a temporary folder; the sink is an aiosmtpd server in
its own process that accepts and discards every message. Prints, for each round:

- the floor: plain aiosmtplib sending the same messages, already serialised,
  over the same number of reused connections to the same sink; then paperbot's
  SMTP transport alone sending those bytes, and the client CPU time per message
  of each (the sink shares the cores: wall time cannot tell the clients apart);
- the whole delivery run (match, select, render, build, send, record), its CPU time,
  messages/s, its ratio to the floor and its peak RSS (VmHWM);
- with --profile, the run's top functions by cumulative time (cProfile), then
  planning's (`plan_digests`, `select_digest`, ranking), wherever they fall.

Each phase runs in a fresh process, so peak RSS figures do not mix. A round
runs the floor and then the delivery run (on a fresh copy of the database); on a
shared machine either can be slowed by a quarter, so several rounds are run and
their medians printed last.

    python bench/delivery.py [--subscribers N] [--papers N] [--connections N] [--rounds N]
                             [--profile]
"""

import argparse
import asyncio
import multiprocessing
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)
GROUP_SIZE = 5
SENDER = "paperbot <paperbot@bench.example>"
_WORDS = tuple(
    [
        "learning",
        "model",
        "neural",
        "network",
        "graph",
        "transformer",
        "diffusion",
        "language",
        "policy",
        "agent",
        "reward",
        "gradient",
        "stochastic",
        "convex",
        "bound",
        "representation",
        "contrastive",
        "embedding",
        "retrieval",
        "image",
        "video",
        "segmentation",
        "detection",
        "robot",
        "control",
        "planning",
        "reasoning",
        "benchmark",
        "dataset",
        "evaluation",
        "attention",
    ]
)


def _peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: the latter survives exec and would report the parent's peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _group_word(rng: random.Random) -> str:
    # Random 9-letter words: far apart, so no keyword matches another group's papers.
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(9))


# --- The sink ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class _Discard:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "250 2.0.0 OK"


def _sink(port: int, ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


# --- Phases (each in its own process) ---------------------------------------------


def bench_settings(
    folder: str,
    port: int,
    connections: int,
    transport: str = "smtp",
    database_url: str | None = None,
) -> Any:
    """The run's settings: data in `folder`, SMTP to the sink on `port`.

    The database is a SQLite file in `folder` unless `database_url` names another.
    """
    from bot.config import load_settings

    database = {} if database_url is None else {"PAPERBOT_DATABASE_URL": database_url}
    return load_settings(
        environ={
            **database,
            "PAPERBOT_DATA_DIR": str(Path(folder, "data")),
            "PAPERBOT_DELIVERY_TRANSPORT": transport,
            "PAPERBOT_DELIVERY_SENDER": SENDER,
            "PAPERBOT_DELIVERY_MAX_PAPERS": "30",
            "PAPERBOT_SMTP_HOST": "127.0.0.1",
            "PAPERBOT_SMTP_PORT": str(port),
            "PAPERBOT_SMTP_SECURITY": "none",
            "PAPERBOT_SMTP_MAX_CONNECTIONS": str(connections),
            "PAPERBOT_WEB_BASE_URL": "https://papers.example.org",
            "PAPERBOT_WEB_SECRET": "bench-secret-bench-secret-bench-secret",
        },
        cwd=Path(folder),
    )


def build_database(
    folder: str, subscribers: int, papers: int, seed: int, database_url: str | None = None
) -> dict[str, Any]:
    """Store the papers and subscribers (in `folder`'s SQLite file, or at `database_url`)."""
    from bot.db import open_engine, upgrade_schema, write_session
    from bot.ingest.parsed import ParsedPaper
    from bot.ingest.store import Origin, store_papers
    from bot.subscriptions.spec import make_spec
    from bot.subscriptions.store import subscribe

    rng = random.Random(seed)
    settings = bench_settings(folder, 25, 1, database_url=database_url)
    engine = open_engine(settings.database_url)
    upgrade_schema(engine)
    groups = [_group_word(rng) for _ in range(max(1, papers // GROUP_SIZE))]
    parsed = []
    for n in range(papers):
        tag = groups[n % len(groups)]
        title_words = [rng.choice(_WORDS) for _ in range(rng.randint(5, 11))]
        if n % 7 == 0:  # some non-ASCII and LaTeX, as real titles have
            title_words.append("Fr\\'echet distances for na\u00efve caf\u00e9 models")
        abstract = " ".join(
            " ".join(rng.choice(_WORDS) for _ in range(rng.randint(12, 28))).capitalize() + "."
            for _ in range(rng.randint(6, 10))
        )
        parsed.append(
            ParsedPaper(
                title=f"{' '.join(title_words).capitalize()} with {tag}: study {n}",
                abstract=f"{abstract} We call it {tag}.",
                authors=tuple(f"Author{n}-{i} Surname" for i in range(rng.randint(1, 8))),
                organization="Bench Lab" if n % 3 else None,
                paper_date=NOW.date() - timedelta(days=1),
                upvotes=rng.randint(0, 200),
                code_urls=(f"https://github.com/lab/repo{n}",) if n % 4 == 0 else (),
                arxiv_id=f"2511.{n:05d}",
            )
        )
    seen = NOW - timedelta(days=1)
    with write_session(engine) as session:
        store_papers(session, parsed, Origin(seen_at=seen))
    with write_session(engine) as session:
        for s in range(subscribers):
            chosen = rng.sample(groups, rng.randint(1, 6))  # 5 to 30 papers
            subscribe(session, make_spec(f"reader{s}@bench.example", chosen), now=seen)
    engine.dispose()
    return {"rss": _peak_rss_mb()}


def _deliver(folder: str, port: int, connections: int, profile: bool) -> dict[str, Any]:
    from bot.db import open_engine
    from bot.delivery.run import deliver

    settings = bench_settings(folder, port, connections)
    engine = open_engine(settings.database_url)
    clock = lambda: NOW  # noqa: E731
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu = time.perf_counter(), time.process_time()
    report = deliver(engine, settings, clock=clock, sleep=lambda _: None)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    stats = ""
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        out = io.StringIO()
        stats_of = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats_of.print_stats(45)
        # Planning is far below the sending in the list: its own lines, by name.
        stats_of.print_stats(r"plan_digests|select_digest|\(rank|_entry")
        stats = out.getvalue()
    sent = sum(o.status == "sent" and o.channel == "email" for o in report.outcomes)
    failed = sum(o.status == "failed" for o in report.outcomes)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "sent": sent,
        "failed": failed,
        "rss": _peak_rss_mb(),
        "profile": stats,
    }


def _write_messages(folder: str, connections: int) -> dict[str, Any]:
    """The run's own messages: a real run on `folder`'s database, writing .eml files."""
    from bot.db import open_engine
    from bot.delivery.run import deliver

    settings = bench_settings(folder, 25, connections, transport="file")
    deliver(open_engine(settings.database_url), settings, clock=lambda: NOW)
    return {}


def _messages(folder: str, connections: int) -> list[tuple[str, bytes]]:
    """The messages `_write_messages` wrote in `folder`, with their recipients."""
    from email.parser import BytesHeaderParser

    settings = bench_settings(folder, 25, connections, transport="file")
    messages = []
    for path in sorted(settings.outbox_dir.glob("*.eml")):
        data = path.read_bytes()
        messages.append((str(BytesHeaderParser().parsebytes(data)["To"]), data))
    return messages


def _floor(folder: str, port: int, connections: int) -> dict[str, Any]:
    """Plain aiosmtplib, then paperbot's transport, sending the same bytes to the sink.

    Both in this process, one after the other, each timed by the wall clock and by
    this process's CPU time: the sink, sharing the cores, sets the wall time of
    both, so only the CPU time says what each client itself costs per message.
    """
    import aiosmtplib

    messages = _messages(folder, connections)

    async def worker(queue: list[tuple[str, bytes]]) -> int:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        sent = 0
        while queue:
            recipient, data = queue.pop()
            await client.sendmail("paperbot@bench.example", [recipient], data)
            sent += 1
        await client.quit()
        return sent

    async def send_all() -> int:
        queue = list(reversed(messages))
        return sum(await asyncio.gather(*(worker(queue) for _ in range(connections))))

    started, cpu = time.perf_counter(), time.process_time()
    sent = asyncio.run(send_all())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    size = sum(len(data) for _, data in messages) / max(1, len(messages))
    floor = {"seconds": seconds, "cpu": cpu, "sent": sent, "rss": _peak_rss_mb(), "size": size}
    return floor | _transport(messages, folder, port, connections)


def _transport(
    messages: list[tuple[str, bytes]], folder: str, port: int, connections: int
) -> dict[str, Any]:
    """paperbot's SMTP transport sending `messages`, each carrying its bytes as a digest does."""
    from email.parser import BytesParser

    from bot.delivery.transports import Outgoing, SmtpTransport
    from bot.digest.message import POLICY, DigestMessage

    outgoing = []
    for number, (recipient, data) in enumerate(messages):
        message = BytesParser(DigestMessage, policy=POLICY).parsebytes(data)
        assert isinstance(message, DigestMessage)
        message.wire = data
        outgoing.append(Outgoing(str(number), recipient, message))
    settings = bench_settings(folder, port, connections).smtp
    transport = SmtpTransport(settings, connections=connections)
    started, cpu = time.perf_counter(), time.process_time()
    results = asyncio.run(transport.send_all(outgoing))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    sent = sum(result.accepted for result in results)
    return {"transport_seconds": seconds, "transport_cpu": cpu, "transport_sent": sent}


def _in_child(function: Any, *args: Any) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(function, args)
        return result


def main() -> None:
    """Build the database, start the sink, run each phase in its own process, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=500)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="floor and run, this many times")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    port = free_port()
    sink = context.Process(target=_sink, args=(port, ready, stop), daemon=True)
    sink.start()
    rounds = []
    try:
        if not ready.wait(30):
            raise SystemExit("the SMTP sink did not start")
        with tempfile.TemporaryDirectory(prefix="paperbot-bench-") as tmp:
            started = time.perf_counter()
            _in_child(build_database, tmp, args.subscribers, args.papers, args.seed)
            print(f"database: {args.subscribers} subscribers, {args.papers} papers "
                  f"(built in {time.perf_counter() - started:.1f} s)")  # fmt: skip
            # The floor's messages, from a run on a copy of the database as it was built.
            written = Path(tmp, "messages")
            shutil.copytree(Path(tmp, "data"), written / "data")
            _in_child(_write_messages, str(written), args.connections)
            for number in range(1, args.rounds + 1):
                floor = _in_child(_floor, str(written), port, args.connections)
                run_folder = Path(tmp, f"run{number}")
                shutil.copytree(Path(tmp, "data"), run_folder / "data")
                run = _in_child(_deliver, str(run_folder), port, args.connections, args.profile)
                shutil.rmtree(run_folder)
                rounds.append((floor, run))
                _print_round(number, floor, run, args.connections)
    finally:
        stop.set()
        sink.join(10)

    ratios = [run["seconds"] / floor["seconds"] for floor, run in rounds]
    clients = [_client_ratio(floor) for floor, _ in rounds]
    runs = [run["seconds"] for _, run in rounds]
    print(f"median of {len(rounds)} rounds: ratio to floor {statistics.median(ratios):.2f}x"
          f" (target <= 1.3x), delivery run {statistics.median(runs):.2f} s (target < 30 s),"
          f" client CPU {statistics.median(clients):.2f}x (target <= 1.5x)")  # fmt: skip
    if rounds[-1][1]["profile"]:
        print(rounds[-1][1]["profile"])


def _client_ratio(floor: dict[str, Any]) -> float:
    """paperbot's transport's CPU per message over plain aiosmtplib's."""
    plain: float = floor["cpu"] / max(1, floor["sent"])
    ours: float = floor["transport_cpu"] / max(1, floor["transport_sent"])
    return ours / plain


def _print_round(number: int, floor: dict[str, Any], run: dict[str, Any], connections: int) -> None:
    ratio = run["seconds"] / floor["seconds"]
    print(f"round {number}")
    print(f"  plain aiosmtplib    {floor['seconds']:7.2f} s  {floor['sent'] / floor['seconds']:7.0f} msg/s"
          f"  peak RSS {floor['rss']:5.0f} MB  ({floor['sent']} messages, {floor['size'] / 1024:.1f} KiB avg,"
          f" {connections} connections)")  # fmt: skip
    print(f"  delivery run        {run['seconds']:7.2f} s  {run['sent'] / run['seconds']:7.0f} msg/s"
          f"  peak RSS {run['rss']:5.0f} MB  ({run['sent']} sent, {run['failed']} failed,"
          f" {run['cpu']:.2f} s CPU)")  # fmt: skip
    print(f"  ratio to floor      {ratio:7.2f}x    (targets: <= 1.3x, < 30 s, < 300 MB)")
    plain = floor["cpu"] / max(1, floor["sent"]) * 1000
    ours = floor["transport_cpu"] / max(1, floor["transport_sent"]) * 1000
    print(f"  client CPU per message: plain aiosmtplib {plain:.3f} ms, paperbot's transport"
          f" {ours:.3f} ms ({floor['transport_sent']} sent, {floor['transport_seconds']:.2f} s):"
          f" {_client_ratio(floor):.2f}x (target <= 1.5x)")  # fmt: skip


if __name__ == "__main__":
    main()
