"""Manage page benchmark: GET /manage/<token> with 5,000 recent papers, through a real server.

The database, a SQLite file in a temporary folder, holds 5,000 papers first seen
the day before (generated as bench/matching.py generates them) and one subscriber
with three topics. The app is served by uvicorn on 127.0.0.1 in this process; a
wrapper around it measures each request's server time, from the request's
arrival to the last byte of its answer. The preview's limit per client is lifted:
every request comes from this one client.

Prints, for the app as it is and for a baseline that builds the preview's index
of the papers at every request (as the page did before the index was shared), in
the same process and on the same database:

- the first request's server time (the app builds its index then), and the median
  and 95th percentile of the requests after it;
- the wall time of 8 requests sent at once, and the slowest one's server time;
- the baseline's times divided by the app's.

    python bench/manage_page.py [--papers N] [--requests N] [--baseline-requests N]
        [--concurrent N]
"""

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from delivery import free_port
from matching import papers as generated_papers

from bot.config import Settings, load_settings
from bot.db import open_engine, upgrade_schema, write_session
from bot.ingest.parsed import ParsedPaper
from bot.ingest.store import Origin, store_papers
from bot.subscriptions.spec import email_key, make_spec
from bot.subscriptions.store import find_subscriber, subscribe
from bot.tokens import TokenSubject, make_token
from bot.web.app import create_app
from bot.web.preview import (
    PaperSetVersion,
    PreviewIndex,
    PreviewIndexCache,
    RecentPaper,
)
from bot.web.security import RateLimiter

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)
SECRET = "bench-secret-bench-secret-bench-secret"
READER = "reader@bench.example"
TOPICS = {
    "generation": ["diffusion models", "classifier-free guidance"],
    "graphs": ["graph neural networks", "message passing"],
    "rl": ["reinforcement learning", "reward model", "offline RL"],
}


class Rebuilding(PreviewIndexCache):
    """The baseline: a new index at every request, whatever the version."""

    def get(
        self, version: PaperSetVersion, load: Callable[[], Sequence[RecentPaper]]
    ) -> PreviewIndex:
        """Build the index from `load()`, keep nothing."""
        self.builds += 1
        return PreviewIndex(load())


class Timed:
    """ASGI wrapper recording each request's server time, in seconds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; note the time when the answer's last byte is sent."""
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.append(time.perf_counter() - started)

        await self.app(scope, receive, timed_send)


def build_database(folder: Path, count: int) -> tuple[Settings, str]:
    """Store `count` papers seen a day before NOW and the reader; the settings, the page path."""
    settings = load_settings(
        environ={"PAPERBOT_DATA_DIR": str(folder), "PAPERBOT_WEB_SECRET": SECRET}, cwd=folder
    )
    engine = open_engine(settings.database_url)
    upgrade_schema(engine)
    parsed = [
        ParsedPaper(
            title=paper.title,
            abstract=paper.abstract,
            paper_date=NOW.date() - timedelta(days=1),
            upvotes=n % 200,
            arxiv_id=f"2511.{n:05d}",
        )
        for n, paper in enumerate(generated_papers(count))
    ]
    seen = NOW - timedelta(days=1)
    with write_session(engine) as session:
        store_papers(session, parsed, Origin(seen_at=seen))
    with write_session(engine) as session:
        for name, keywords in TOPICS.items():
            subscribe(session, make_spec(READER, keywords, name=name), now=seen)
        view = find_subscriber(session, READER)
        assert view is not None
        token = make_token(SECRET, "manage", TokenSubject(view.id, email_key(READER)))
    engine.dispose()
    return settings, f"/manage/{token}"


def measure(
    settings: Settings, path: str, *, baseline: bool, requests: int, concurrent: int
) -> dict[str, Any]:
    """Serve the app (or the baseline) and time the first, the next and concurrent requests."""
    engine = open_engine(settings.database_url)
    app = create_app(engine, settings, clock=lambda: NOW)
    context = app.state.web
    context.preview_limit = RateLimiter(10**9, 1.0)
    if baseline:
        context.preview_index = Rebuilding()
    timed = Timed(app)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(timed, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit(f"the app could not be served on 127.0.0.1:{port}")
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port}{path}"

    def get(client: httpx.Client) -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        assert "<mark>" in response.text, "no preview in the page"

    try:
        with httpx.Client(timeout=600) as client:
            get(client)
            first = timed.times[-1]
            for _ in range(requests):
                get(client)
            warm = sorted(timed.times[1:])
            before = len(timed.times)
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrent) as pool:
                for future in [pool.submit(get, client) for _ in range(concurrent)]:
                    future.result()
            wall = time.perf_counter() - started
            slowest = max(timed.times[before:])
    finally:
        server.should_exit = True
        thread.join()
        engine.dispose()
    return {
        "first": first,
        "median": statistics.median(warm),
        "p95": warm[min(len(warm) - 1, round(0.95 * (len(warm) - 1)))],
        "wall": wall,
        "slowest": slowest,
        "builds": context.preview_index.builds,
    }


def _report(name: str, numbers: dict[str, Any], requests: int, concurrent: int) -> None:
    ms = {key: value * 1000 for key, value in numbers.items() if key != "builds"}
    print(
        f"{name}: first {ms['first']:.0f} ms; next {requests}: median {ms['median']:.1f} ms, "
        f"p95 {ms['p95']:.1f} ms; {concurrent} at once: {ms['wall']:.0f} ms wall "
        f"(slowest {ms['slowest']:.0f} ms); {numbers['builds']} index builds"
    )


def main() -> None:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=50, help="after the first (the app)")
    parser.add_argument("--baseline-requests", type=int, default=5, help="after the first")
    parser.add_argument("--concurrent", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="paperbot-bench-") as folder:
        started = time.perf_counter()
        settings, path = build_database(Path(folder), args.papers)
        print(f"database: {args.papers} recent papers, 1 subscriber with {len(TOPICS)} topics "
              f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
        ours = measure(
            settings, path, baseline=False, requests=args.requests, concurrent=args.concurrent
        )
        _report("shared index", ours, args.requests, args.concurrent)
        base = measure(
            settings,
            path,
            baseline=True,
            requests=args.baseline_requests,
            concurrent=args.concurrent,
        )
        _report("baseline (index per request)", base, args.baseline_requests, args.concurrent)
    print(f"warm median {ours['median'] * 1000:.1f} ms (target < 100 ms), "
          f"{args.concurrent} at once {ours['wall'] * 1000:.0f} ms (target < 1000 ms)")  # fmt: skip
    print(f"ratios, baseline / shared: median {base['median'] / ours['median']:.0f}x, "
          f"p95 {base['p95'] / ours['p95']:.0f}x, "
          f"{args.concurrent} at once {base['wall'] / ours['wall']:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
