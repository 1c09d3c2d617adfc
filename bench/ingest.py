"""Ingest benchmark: a 20,000-item arXiv-style feed and a 40,000-paper dump.

Prints, from one run: feedparser's own parse time for the feed (the floor),
the feed ingest time and its ratio to that floor, dump ingest papers/s, the
re-ingest time of both unchanged files, and each phase's peak RSS (every
phase runs in a fresh process so the peaks do not mix).

    python bench/ingest.py [--feed-items N] [--dump-papers N]
"""

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import arxiv_atom, arxiv_rss, spaced_dump


def _peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: the latter survives exec and would report the parent's peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _feedparser_only(path: str) -> dict[str, Any]:
    import feedparser

    data = Path(path).read_bytes()
    started = time.perf_counter()
    parsed = feedparser.parse(data)
    return {
        "seconds": time.perf_counter() - started,
        "items": len(parsed.entries),
        "rss": _peak_rss_mb(),
    }


def _ingest(path: str, db: str) -> dict[str, Any]:
    from bot.clock import utc_now
    from bot.db import open_engine, upgrade_schema
    from bot.ingest.pipeline import ingest_file

    engine = open_engine(f"sqlite:///{db}")
    upgrade_schema(engine)
    started = time.perf_counter()
    result = ingest_file(engine, Path(path), clock=utc_now)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "status": result.status, "new": result.new, "rss": _peak_rss_mb()}


def _in_child(function: Any, *args: str) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(function, args)
        return result


def main() -> None:
    """Generate the corpus, run each phase in its own process, print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed-items", type=int, default=20_000)
    parser.add_argument("--dump-papers", type=int, default=40_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paperbot-bench-") as tmp:
        feed = Path(tmp, "feed.xml")
        feed.write_bytes(arxiv_rss(args.feed_items))
        atom = Path(tmp, "atom.xml")
        atom.write_bytes(arxiv_atom(args.feed_items))
        dump = Path(tmp, "dump.txt")
        dump.write_text(spaced_dump(args.dump_papers), encoding="utf-8")
        print(f"feed: {args.feed_items} items, {feed.stat().st_size / 1e6:.1f} MB; "
              f"dump: {args.dump_papers} papers, {dump.stat().st_size / 1e6:.1f} MB")  # fmt: skip

        floor = min((_in_child(_feedparser_only, str(feed)) for _ in range(2)), key=_secs)
        feed_runs = [_in_child(_ingest, str(feed), str(Path(tmp, f"feed{i}.db"))) for i in range(2)]
        fed = min(feed_runs, key=_secs)
        again_feed = _in_child(_ingest, str(feed), str(Path(tmp, "feed0.db")))
        atom_fed = _in_child(_ingest, str(atom), str(Path(tmp, "atom.db")))
        dumped = _in_child(_ingest, str(dump), str(Path(tmp, "dump.db")))
        again_dump = _in_child(_ingest, str(dump), str(Path(tmp, "dump.db")))

    ratio = fed["seconds"] / floor["seconds"]
    print(f"feedparser alone      {floor['seconds']:8.2f} s  {floor['items'] / floor['seconds']:9.0f} items/s"
          f"  peak RSS {floor['rss']:5.0f} MB")  # fmt: skip
    print(f"feed ingest           {fed['seconds']:8.2f} s  {fed['new'] / fed['seconds']:9.0f} papers/s"
          f"  peak RSS {fed['rss']:5.0f} MB  ({fed['status']}, {fed['new']} new)")  # fmt: skip
    print(f"  ratio to feedparser {ratio:8.2f}x   (target <= 1.2x)")
    print(f"Atom feed ingest      {atom_fed['seconds']:8.2f} s  {atom_fed['new'] / atom_fed['seconds']:9.0f} papers/s"
          f"  peak RSS {atom_fed['rss']:5.0f} MB  ({atom_fed['status']}, {atom_fed['new']} new;"
          " an arXiv API search's results; target < 300 MB)")  # fmt: skip
    print(f"dump ingest           {dumped['seconds']:8.2f} s  {dumped['new'] / dumped['seconds']:9.0f} papers/s"
          f"  peak RSS {dumped['rss']:5.0f} MB  ({dumped['status']}, {dumped['new']} new; target >= 20000/s)")  # fmt: skip
    print(f"re-ingest unchanged   feed {again_feed['seconds'] * 1000:.1f} ms ({again_feed['status']}), "
          f"dump {again_dump['seconds'] * 1000:.1f} ms ({again_dump['status']})")  # fmt: skip


def _secs(run: dict[str, Any]) -> float:
    return float(run["seconds"])


if __name__ == "__main__":
    main()
