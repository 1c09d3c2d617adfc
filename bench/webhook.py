"""Webhook channel benchmark: 10,000 digests POSTed to a local receiver, against plain httpx.

The digests are made of the sample papers shipped with paperbot (examples/dumps and
the Hugging Face daily lists of examples/ and tests/data/, read by paperbot's own
parsers): 1 to 3 topics and 5 to 25 papers each (25 is the default cap), matched by
words of their titles, with signed feedback, manage and unsubscribe links as delivery
makes them. The receiver runs in another process (an asyncio server on 127.0.0.1 that
answers every POST with 200 at once), so its CPU time is not the sender's; after each
run it is asked how many requests and bytes it received, and a checksum of their
bodies and signatures.

Three sides, each over one `httpx.AsyncClient` with `max_connections` C and C tasks
taking work from one queue, so concurrency is the same:

- plain: httpx POSTs the bytes and headers paperbot sends (document, signature,
  timestamp, idempotency key), all made before the timer starts;
- paperbot: `WebhookChannel.render` of each digest and `send` of its payloads (the
  JSON body, the HMAC signature, the rate limiter, the reading of the answer);
- paperbot send only: `send` of payloads rendered before the timer starts.

The channel is built by `make_channel("webhook", ...)` with a rate of 1,000,000
requests a second, so its limiter never waits (its bookkeeping is still timed), and a
clock fixed at one instant, so its bytes are exactly the plain side's (the receiver's
checksums must agree). The sides run in turn (plain, paperbot, send only), `--repeat`
rounds in this one process; each is timed by the wall clock and by this process's CPU
time (so a slow receiver cannot hide the sender's cost), and the best of each is
compared with plain's. With --profile, the paperbot side runs once more under cProfile.

    python bench/webhook.py [--digests N] [--connections N] [--repeat N] [--profile]
"""

import argparse
import asyncio
import gc
import importlib.util
import json
import multiprocessing
import random
import re
import sys
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from delivery import free_port

from bot.channels.base import Channel, Payload
from bot.channels.registry import make_channel
from bot.channels.webhook import WebhookChannel, part_key, sign
from bot.digest.model import (
    Digest,
    DigestEntry,
    DigestPaper,
    DigestSection,
    FeedbackLinks,
    MatchReason,
)
from bot.digest.render import DigestRenderer
from bot.ingest.dumps import parse_dump
from bot.ingest.hf_daily import parse_hf_daily
from bot.ingest.parsed import ParsedPaper
from bot.subscriptions.spec import email_key
from bot.tokens import TokenSubject, feedback_link, make_feedback_token, signed_link
from tests.channels.samples import digest_paper

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)
DAY = NOW.date()
BASE_URL = "https://papers.example.org"
LINK_SECRET = "bench-secret-bench-secret-bench-secret"
HOOK_SECRET = "bench-webhook-signing-secret-0123456789"
RATE = 1_000_000
"""The channel's requests per second: far above what is sent, so its limiter never waits."""

TOPICS = (
    "language models",
    "video & 3D",
    "diffusion",
    "reinforcement learning",
    "graph neural networks",
    "retrieval",
    "robotics",
    "speech & audio",
    "efficient inference",
    "evaluation & benchmarks",
)
_WORD = re.compile(r"[A-Za-z][A-Za-z-]{4,}")


# --- The digests ------------------------------------------------------------------


def sample_papers() -> list[DigestPaper]:
    """Every paper of the shipped samples, as a digest shows it (ids from 1)."""
    parsed: list[ParsedPaper] = []
    for path in sorted((ROOT / "examples" / "dumps").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        parsed += parse_dump(text, source=path.name, taken=DAY).papers
    days = [*(ROOT / "examples" / "hf_daily").glob("*.json")]
    days += (ROOT / "tests" / "data" / "hf_daily").glob("*.json")
    for path in sorted(days):
        parsed += parse_hf_daily(path.read_bytes(), source=path.name).papers
    return [digest_paper(n, paper) for n, paper in enumerate(parsed, start=1)]


def _reason(rng: random.Random, topic: str, paper: DigestPaper) -> MatchReason:
    """Why `paper` matched `topic`: mostly a word of its title, else an author or trending."""
    trending = None
    if paper.upvotes and rng.random() < 0.2:
        trending = f"trending: {paper.upvotes} upvotes, #{rng.randint(1, 20)} of the day"
    if paper.authors and rng.random() < 0.1:
        author = rng.choice(paper.authors)
        label = f"author: {author}"
        return MatchReason(topic, author, "authors", author, (0, len(author)), 1.0, "author", label)
    words = _WORD.findall(paper.title) or _WORD.findall(paper.abstract)
    if not words:
        standing = f"{paper.upvotes or 0} upvotes, #{rng.randint(1, 20)} of the day"
        return MatchReason(topic, "", "upvotes", standing, (0, 0), 1.0, "trending", "trending")
    keyword = rng.choice(words)
    field = "title" if keyword in paper.title else "abstract"
    text = paper.title if field == "title" else paper.abstract
    start = text.find(keyword)
    snippet = text[max(0, start - 40) : start + len(keyword) + 40]
    at = snippet.find(keyword)
    similarity = 1.0 if rng.random() < 0.9 else 0.9
    return MatchReason(
        topic,
        keyword.lower(),
        field,
        snippet,
        (at, at + len(keyword)),
        similarity,
        trending=trending,
    )


def make_digests(count: int, papers: Sequence[DigestPaper], seed: int) -> list[Digest]:
    """`count` subscribers' digests: 1 to 3 topics, 5 to 25 papers, links signed."""
    rng = random.Random(seed)
    digests = []
    for number in range(1, count + 1):
        email = f"reader{number}@bench.example"
        subject = TokenSubject(number, email_key(email))
        topics = rng.sample(TOPICS, rng.randint(1, 3))
        chosen = rng.sample(papers, rng.randint(5, 25))
        sections = []
        for index, topic in enumerate(topics):
            topic_id = number * 10 + index
            mine = chosen[index :: len(topics)]
            scores = sorted((round(rng.uniform(0.5, 3.0), 2) for _ in mine), reverse=True)
            entries = []
            for paper, score in zip(mine, scores, strict=True):
                token = make_feedback_token(
                    LINK_SECRET, subject, topic_id, paper.paper_id, today=DAY
                )
                links = FeedbackLinks(
                    feedback_link(BASE_URL, "more", token), feedback_link(BASE_URL, "fewer", token)
                )
                entries.append(DigestEntry(paper, _reason(rng, topic, paper), score, links))
            sections.append(DigestSection(topic, tuple(entries), topic_id=topic_id))
        digests.append(
            Digest(
                number,
                email,
                DAY,
                tuple(sections),
                more=rng.choice((0, 0, 0, rng.randint(1, 40))),
                unsubscribe_url=signed_link(BASE_URL, LINK_SECRET, "unsubscribe", subject),
                manage_url=signed_link(BASE_URL, LINK_SECRET, "manage", subject),
            )
        )
    return digests


def delivery_key(digest: Digest) -> str:
    """The idempotency key of a digest's delivery."""
    return f"delivery-{digest.day.isoformat()}-{digest.subscriber_id}"


# --- The receiver (another process) -------------------------------------------------


@dataclass
class Received:
    """What the receiver has taken since it started."""

    requests: int = 0
    bytes: int = 0
    checksum: int = 0  # sum of CRC-32s of body and signature: the same whatever the order


_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class _Receiving(asyncio.Protocol):
    """One connection: POST is counted and answered 200 "ok"; GET /stats answers the counts."""

    def __init__(self, received: Received) -> None:
        self.received = received
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return  # the body is still coming
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            self._answer(lines[0].split(" ", 1)[0], headers, body)

    def _answer(self, method: str, headers: dict[str, str], body: bytes) -> None:
        assert self.transport is not None
        if method != "POST":
            stats = self.received.__dict__ | {"cpu": time.process_time()}
            reply = json.dumps(stats).encode()
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(reply)}\r\n\r\n"
            self.transport.write(head.encode() + reply)
            return
        signature = headers.get("x-paperbot-signature", "").encode()
        received = self.received
        received.requests += 1
        received.bytes += len(body)
        received.checksum = (received.checksum + zlib.crc32(signature, zlib.crc32(body))) % 2**64
        self.transport.write(_OK)


def _serve(port: int, ready: Event, stop: Event) -> None:
    async def serve() -> None:
        loop = asyncio.get_running_loop()
        received = Received()
        server = await loop.create_server(lambda: _Receiving(received), "127.0.0.1", port)
        ready.set()
        await loop.run_in_executor(None, stop.wait)
        server.close()

    asyncio.run(serve())


def checksum(requests: Sequence[tuple[bytes, dict[str, str]]]) -> int:
    """What the receiver's checksum of `requests` must be."""
    total = 0
    for body, headers in requests:
        signature = headers["X-Paperbot-Signature"].encode()
        total = (total + zlib.crc32(signature, zlib.crc32(body))) % 2**64
    return total


def receiver_stats(base: str) -> dict[str, Any]:
    """The receiver's counts so far, and its process's CPU time."""
    stats: dict[str, Any] = httpx.get(f"{base}/stats").json()
    return stats


# --- The sides ----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One side's run: its times, what it sent, what the receiver took meanwhile."""

    wall: float
    cpu: float
    sent: int
    received: int
    bytes: int
    checksum: int
    receiver_cpu: float


Work = Callable[[httpx.AsyncClient], Awaitable[int]]
"""One task's share of a run: takes from the run's queue until it is empty, says how many it sent."""


def webhook_channel(url: str) -> WebhookChannel:
    """The channel under test, as the registry builds it, on a fixed clock."""
    options = {"url": url, "secret": HOOK_SECRET, "requests": RATE, "per": 1.0}
    channel: Channel = make_channel("webhook", options)
    assert isinstance(channel, WebhookChannel)
    channel.clock = lambda: NOW
    return channel


def timed(base: str, connections: int, work: Work) -> Run:
    """Run `connections` tasks of `work` over one client; wall and CPU time of the sending only."""
    gc.collect()
    before = receiver_stats(base)

    async def send_all() -> tuple[float, float, int]:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            wall, cpu = time.perf_counter(), time.process_time()
            sent = sum(await asyncio.gather(*(work(client) for _ in range(connections))))
            return time.perf_counter() - wall, time.process_time() - cpu, sent

    wall, cpu, sent = asyncio.run(send_all())
    after = receiver_stats(base)
    return Run(
        wall,
        cpu,
        sent,
        after["requests"] - before["requests"],
        after["bytes"] - before["bytes"],
        (after["checksum"] - before["checksum"]) % 2**64,
        after["cpu"] - before["cpu"],
    )


def plain(url: str, requests: Sequence[tuple[bytes, dict[str, str]]]) -> Work:
    """Plain httpx: POST each body with its headers, all made beforehand."""
    queue = deque(requests)

    async def work(client: httpx.AsyncClient) -> int:
        sent = 0
        while queue:
            body, headers = queue.popleft()
            response = await client.post(url, content=body, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"plain httpx: the receiver answered {response.status_code}")
            sent += 1
        return sent

    return work


def paperbot(url: str, digests: Sequence[Digest]) -> Work:
    """The channel: render each digest and send its payloads, in order."""
    channel = webhook_channel(url)
    paper_view = DigestRenderer().paper_view  # a run's renderer: each paper prepared once
    queue = deque(digests)

    async def work(client: httpx.AsyncClient) -> int:
        sent = 0
        while queue:
            digest = queue.popleft()
            key = delivery_key(digest)
            for payload in channel.render(digest, paper_view=paper_view):
                result = await channel.send(client, payload, idempotency_key=key)
                if not result.sent:
                    raise SystemExit(f"paperbot: {result.status}: {result.reason}")
                sent += 1
        return sent

    return work


def paperbot_send(url: str, payloads: Sequence[tuple[Payload, str]]) -> Work:
    """The channel's `send` alone, of payloads rendered beforehand."""
    channel = webhook_channel(url)
    queue = deque(payloads)

    async def work(client: httpx.AsyncClient) -> int:
        sent = 0
        while queue:
            payload, key = queue.popleft()
            result = await channel.send(client, payload, idempotency_key=key)
            if not result.sent:
                raise SystemExit(f"paperbot send: {result.status}: {result.reason}")
            sent += 1
        return sent

    return work


def profile(base: str, connections: int, work: Work) -> str:
    """cProfile's top functions of one run of `work`, by cumulative and by own time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()

    async def send_all() -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            profiler.enable()
            await asyncio.gather(*(work(client) for _ in range(connections)))
            profiler.disable()

    asyncio.run(send_all())
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(30)
    return out.getvalue()


# --- Main ---------------------------------------------------------------------------


def main() -> None:
    """Make the digests, start the receiver, run the sides in turn, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the three sides")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    args = parser.parse_args()

    started = time.perf_counter()
    papers = sample_papers()
    digests = make_digests(args.digests, papers, args.seed)
    # The payloads and the plain side's requests, made once, untimed; the channel makes
    # the same bytes at every run, its clock being fixed.
    renderer = DigestRenderer()
    channel = webhook_channel("http://127.0.0.1:1/hook")
    payloads = [
        (payload, delivery_key(digest))
        for digest in digests
        for payload in channel.render(digest, paper_view=renderer.paper_view)
    ]
    requests = []
    for payload, key in payloads:
        body = WebhookChannel.body(payload, key, NOW)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Paperbot-Signature": sign(HOOK_SECRET, body),
            "X-Paperbot-Timestamp": str(int(NOW.timestamp())),
            "Idempotency-Key": part_key(key, payload),
        }
        requests.append((body, headers))
    size = sum(len(body) for body, _ in requests) / len(requests)
    shown = sum(len(d.entries) for d in digests) / len(digests)
    # What was made above is no run's garbage: the collector need not walk it again.
    gc.collect()
    gc.freeze()
    print(f"digests: {len(digests)} from {len(papers)} sample papers, {shown:.1f} papers each "
          f"on average; {len(requests)} messages, {size / 1024:.1f} KiB average "
          f"(made in {time.perf_counter() - started:.1f} s)")  # fmt: skip
    print(f"webhook rate limit: {RATE:,} requests/s, so it never waits (not what is measured; "
          f"its bookkeeping is timed); channel log lines not emitted")  # fmt: skip
    print(f"each side: one httpx.AsyncClient, max_connections={args.connections}, "
          f"{args.connections} tasks on one queue; receiver in another process")  # fmt: skip
    print(
        "plain: pre-made bytes and headers (made before the timer); paperbot: render, "
        "body, signature and send of each digest; send only: payloads rendered beforehand"
    )
    if importlib.util.find_spec("sniffio") is None:
        # httpcore imports it afresh wherever it makes a lock: a failing import each time.
        print("sniffio is not installed: httpcore tries to import it several times a request "
              "(both sides pay it)")  # fmt: skip

    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/hook/bench"
    receiver = context.Process(target=_serve, args=(port, ready, stop), daemon=True)
    receiver.start()
    sides: dict[str, Callable[[], Work]] = {
        "plain httpx": lambda: plain(url, requests),
        "paperbot": lambda: paperbot(url, digests),
        "paperbot send only": lambda: paperbot_send(url, payloads),
    }
    runs: dict[str, list[Run]] = {name: [] for name in sides}
    try:
        if not ready.wait(30):
            raise SystemExit("the receiver did not start")
        for round_ in range(1, args.repeat + 1):
            for name, make_work in sides.items():
                run = timed(base, args.connections, make_work())
                runs[name].append(run)
                print(f"  round {round_}  {name:19} {run.wall:6.2f} s wall "
                      f"{run.sent / run.wall:6.0f} msg/s   {run.cpu:6.2f} s CPU "
                      f"{run.sent / run.cpu:6.0f} msg/s   receiver CPU "
                      f"{run.receiver_cpu / run.wall:4.0%} of wall")  # fmt: skip
                if run.sent != len(requests) or run.received != run.sent:
                    raise SystemExit(
                        f"{name}: {run.sent} sent, {run.received} received, "
                        f"{len(requests)} expected"
                    )
        profiled = profile(base, args.connections, sides["paperbot"]()) if args.profile else ""
    finally:
        stop.set()
        receiver.join(10)

    expected = (sum(len(body) for body, _ in requests), checksum(requests))
    for name, got in runs.items():
        if any((run.bytes, run.checksum) != expected for run in got):
            raise SystemExit(f"{name}: the receiver did not get the bytes expected")
    print(f"receiver: every run took exactly {len(requests)} requests, "
          f"the same bytes and signatures from each side")  # fmt: skip

    best = {name: (min(r.wall for r in got), min(r.cpu for r in got)) for name, got in runs.items()}
    floor_wall, floor_cpu = best["plain httpx"]
    count = len(requests)
    print(f"best of {args.repeat} (wall and CPU each at its best):")
    for name, (wall, cpu) in best.items():
        line = (f"  {name:19} {wall:6.2f} s wall {count / wall:6.0f} msg/s   "
                f"{cpu:6.2f} s CPU {count / cpu:6.0f} msg/s")  # fmt: skip
        if name != "plain httpx":
            line += (
                f"   paperbot/plain: {wall / floor_wall:4.2f}x wall, {cpu / floor_cpu:4.2f}x CPU"
            )
        print(line)
    print("  (target: paperbot/plain <= 1.5x)")
    if profiled:
        print(profiled)


if __name__ == "__main__":
    main()
