"""Hugging Face daily papers benchmark: a 30-day back-fill and one 20,000-paper response.

Prints, from one run: `json.loads` alone on the 20,000-paper response (the
floor) against paperbot's parser on the same bytes, and their ratio (target
<= 1.5x); a back-fill of 30 generated days of about 100 papers each from a
server on 127.0.0.1 (`ingest --hf-daily`'s code path, with no pause between
days), and the same back-fill again with every day unchanged (conditional
GETs answered 304); the 20,000-paper response ingested as a saved file (it is larger than the
50 MB cap on a fetched document), and again unchanged. Everything runs in one process, so the ratios compare like
with like.

    python bench/hf_ingest.py [--days N] [--per-day N] [--big N]
"""

import argparse
import hashlib
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import hf_daily

from bot.bulk import collector_paused
from bot.config import load_settings
from bot.db import open_engine, upgrade_schema
from bot.ingest.hf_daily import parse_hf_daily
from bot.ingest.pipeline import ingest_file
from bot.ingest.run import ingest_sources

T = TypeVar("T")
FIRST_DAY = date(2024, 5, 1)
BIG_DAY = date(2024, 7, 1)


@contextmanager
def _api(days: dict[str, bytes]) -> Iterator[str]:
    """The daily papers API on 127.0.0.1, with ETags; its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            [day] = parse_qs(self.path.partition("?")[2]).get("date", [""])
            body = days.get(day, b"[]")
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/daily_papers"
    finally:
        server.shutdown()
        server.server_close()


def _best(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    """The fastest of `runs` runs of `work`, in seconds, and its result."""
    best = float("inf")
    result: T | None = None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    assert result is not None
    return best, result


def _clock() -> datetime:
    return datetime.now(UTC)


def main() -> None:
    """Generate the responses, serve them on 127.0.0.1, time each phase, print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=100)
    parser.add_argument("--big", type=int, default=20_000)
    args = parser.parse_args()
    days = [FIRST_DAY + timedelta(days=n) for n in range(args.days)]
    responses = {
        day.isoformat(): hf_daily(args.per_day, day, seed=n, first=n * args.per_day)
        for n, day in enumerate(days)
    }
    big = hf_daily(args.big, BIG_DAY, seed=99)
    responses[BIG_DAY.isoformat()] = big
    print(f"{args.days} days of {args.per_day} papers; one response of {args.big} papers,"
          f" {len(big) / 1e6:.1f} MB")  # fmt: skip

    # Both with the collector paused, as ingest parses.
    with collector_paused():
        floor, _ = _best(3, lambda: json.loads(big))
        parsed_in, parsed = _best(3, lambda: parse_hf_daily(big, source="big"))
    print(f"json.loads alone      {floor:8.3f} s  {args.big / floor:9.0f} papers/s")
    print(
        f"parse_hf_daily        {parsed_in:8.3f} s  {len(parsed.papers) / parsed_in:9.0f} papers/s"
    )
    print(f"  ratio to json.loads {parsed_in / floor:8.2f}x   (target <= 1.5x)")

    with tempfile.TemporaryDirectory(prefix="paperbot-bench-") as tmp, _api(responses) as url:
        config = Path(tmp, "paperbot.toml")
        config.write_text(f"[ingest]\nhf_daily_url = '{url}'\nhf_daily_pause = 0\n")
        settings = load_settings(config, environ={"PAPERBOT_DATA_DIR": str(Path(tmp, "data"))})
        engine = open_engine(settings.database_url)
        upgrade_schema(engine)

        def back_fill() -> int:
            report = ingest_sources(engine, settings, clock=_clock, hf_days=days)
            return sum(r.new for r in report.results)

        filled_in, new = _best(1, back_fill)
        again_in, again = _best(1, back_fill)
        print(f"back-fill {args.days} days      {filled_in:8.2f} s  {new / filled_in:9.0f} papers/s"
              f"  ({new} new)")  # fmt: skip
        print(f"  again, unchanged    {again_in * 1000:8.1f} ms  ({again_in * 1000 / args.days:.1f} ms"
              f" a day, {again} new)")  # fmt: skip

        # A saved file: 20,000 papers may exceed the 50 MB a fetched feed may be.
        saved = Path(tmp, f"daily_papers_{BIG_DAY}.json")
        saved.write_bytes(big)

        def ingest_big() -> tuple[str, int]:
            result = ingest_file(engine, saved, clock=_clock)
            return result.status, result.new

        big_in, (status, big_new) = _best(1, ingest_big)
        big_again_in, (again_status, _) = _best(1, ingest_big)
        print(f"{args.big} papers, file  {big_in:8.2f} s  {big_new / big_in:9.0f} papers/s"
              f"  ({status}, {big_new} new)")  # fmt: skip
        print(f"  again, unchanged    {big_again_in * 1000:8.1f} ms  ({again_status})")
        engine.dispose()


if __name__ == "__main__":
    main()
