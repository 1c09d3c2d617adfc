"""The operator's day, from the command line: import subscribers, ingest the day's papers, send.

In a temporary folder: the sample dumps and Hugging Face list shipped in
examples/ plus a generated dump (`bench/corpus.py`) as the day's papers, and a
CSV of subscribers whose keywords are phrases of those papers' own titles, as
people type them: typos, plurals, hyphens, capitals, a fifth with exclusions,
5% weekly, 2% with a Markdown file too. An aiosmtpd server in another process
accepts and discards every message.

Each phase is `python -m bot ...` in a process of its own, timed by the wall
clock, with its CPU time and peak RSS read from the operating system when it
ends (`os.wait4`):

    subscriptions import subs.csv      (once, when the operator sets up)
    ingest --year 2025 <the day's files>
    digest --dry-run                   (what it would send: planned and built, not sent)
    digest                             (SMTP to the sink)

Targets: ingest + digest <= 20 s on 2 cores, import <= 2 s, peak RSS < 250 MB.

paperbot's modules are compiled to bytecode first, as installing paperbot does:
where PYTHONDONTWRITEBYTECODE is set, a checkout would otherwise compile them
again at every command (about 0.15 s each here).

With several sizes (`--subscribers 1000,5000,10000,50000`) it runs the day at
each and prints the digest's time per 1,000 subscribers and its peak RSS: the
time should grow linearly, the memory stay flat.

    python bench/daily.py [--subscribers N[,N...]] [--generated N] [--connections N]
"""

import argparse
import compileall
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import spaced_dump
from delivery import _sink, free_port

from bot.errors import InputError
from bot.ingest.dumps import parse_dump
from bot.ingest.hf_daily import parse_hf_daily
from bot.subscriptions.files import write_csv
from bot.subscriptions.spec import SubscriptionSpec, make_spec

DAY = date(2025, 11, 22)
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
_WORD = re.compile(r"[A-Za-z][A-Za-z-]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "for",
        "and",
        "or",
        "to",
        "in",
        "on",
        "with",
        "by",
        "from",
        "via",
        "as",
        "at",
        "is",
        "are",
        "be",
        "we",
        "our",
        "its",
        "into",
        "towards",
        "toward",
        "using",
        "based",
        "new",
        "how",
        "what",
        "when",
        "than",
        "this",
        "that",
    ]
)


@dataclass(frozen=True)
class Phase:
    """One command's run: wall and CPU seconds, peak RSS in MB, exit status."""

    name: str
    wall: float
    cpu: float
    peak_mb: float
    status: int
    said: str  # the last line it printed


def reference_seconds() -> float:
    """CPU seconds this machine takes for a fixed piece of work like paperbot's.

    Strings made, grouped in a dict and sorted: 600,000 of them, about 60 MB.
    Printed beside the phases: on a shared machine the same code's times move with
    the load of its neighbours (the same digest took 22 to 31 s of CPU within an
    hour), and a figure of the machine's, measured alongside, moves with them.
    """
    start = time.process_time()
    words = [f"w{number % 7919}-{number}" for number in range(600_000)]
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[:5], []).append(word)
    sorted(words, key=str.casefold)
    return time.process_time() - start


def titles() -> list[str]:
    """The titles of the shipped sample papers."""
    found = []
    for path in sorted((EXAMPLES / "dumps").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        parsed = parse_dump(text, source=path.name, taken=DAY, year=2025)
        found += [paper.title for paper in parsed.papers]
    for path in sorted((EXAMPLES / "hf_daily").glob("*.json")):
        found += [paper.title for paper in parse_hf_daily(path.read_bytes(), source="x").papers]
    return found


def phrases(paper_titles: list[str]) -> list[str]:
    """Two- and three-word phrases of the titles, without function words at their ends."""
    found: dict[str, None] = {}
    for title in paper_titles:
        words = _WORD.findall(title)
        for size in (2, 3):
            for start in range(len(words) - size + 1):
                chosen = words[start : start + size]
                if chosen[0].lower() in _STOP or chosen[-1].lower() in _STOP:
                    continue
                found[" ".join(chosen).lower()] = None
    return list(found)


def as_typed(rng: random.Random, phrase: str) -> str:
    """`phrase` as a person might type it: a typo, a plural, a hyphen, capitals, or as is."""
    roll = rng.random()
    if roll < 0.08 and len(phrase) > 6:  # two letters swapped
        at = rng.randrange(1, len(phrase) - 2)
        if phrase[at].isalpha() and phrase[at + 1].isalpha():
            return phrase[:at] + phrase[at + 1] + phrase[at] + phrase[at + 2 :]
    if roll < 0.2:
        return phrase[:-1] if phrase.endswith("s") else phrase + "s"
    if roll < 0.3:
        return phrase.replace(" ", "-", 1)
    if roll < 0.4:
        return phrase.title()
    return phrase


def subscribers(count: int, pool: list[str], *, seed: int = 19) -> list[SubscriptionSpec]:
    """`count` subscribers of 1 to 5 keywords from `pool`, a fifth with an exclusion."""
    rng = random.Random(seed)
    made = []
    for number in range(count):
        keywords = list(
            dict.fromkeys(as_typed(rng, rng.choice(pool)) for _ in range(rng.randint(1, 5)))
        )
        exclusions = [rng.choice(pool)] if rng.random() < 0.2 else []
        roll = rng.random()
        cadence = "weekly" if roll < 0.05 else "daily"
        channels = ["markdown", "email"] if roll > 0.98 else ["email"]
        email = f"reader{number}@lab{number % 211}.example"
        try:
            made.append(make_spec(email, keywords, exclusions, cadence=cadence, channels=channels))
        except InputError:  # a phrase a keyword cannot be: not a subscriber
            continue
    return made


def run(name: str, args: list[str], env: dict[str, str], cwd: Path) -> Phase:
    """Run `python -m bot *args`; its wall time, CPU time and peak RSS."""
    log, output = cwd / f"{name}.stderr", cwd / f"{name}.stdout"
    start = time.perf_counter()
    with log.open("wb") as errors, output.open("wb") as said:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], env=env, cwd=cwd, stdout=said, stderr=errors,
        )  # fmt: skip
        # Reaped here, not by Popen: wait4 also says what the process used.
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(f"{name} failed ({process.returncode}):\n{log.read_text()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    last = (output.read_text().strip().splitlines() or [""])[-1]
    return Phase(name, wall, cpu, usage.ru_maxrss / 1024, process.returncode, last)


def day_of(size: int, pool: list[str], generated: int, connections: int) -> list[Phase]:
    """The day's three commands for `size` subscribers, in a fresh folder, with a sink of its own."""
    rows = subscribers(size, pool)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "subs.csv").write_text(write_csv(rows), encoding="utf-8")
        (folder / "generated.txt").write_text(spaced_dump(generated), encoding="utf-8")
        port = free_port()
        ready, stop = multiprocessing.Event(), multiprocessing.Event()
        sink = multiprocessing.Process(target=_sink, args=(port, ready, stop))
        sink.start()
        ready.wait()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
        env.update(
            PAPERBOT_DATA_DIR=str(folder / "data"),
            PAPERBOT_DELIVERY_TRANSPORT="smtp",
            PAPERBOT_DELIVERY_SENDER="paperbot <paperbot@bench.example>",
            PAPERBOT_SMTP_HOST="127.0.0.1",
            PAPERBOT_SMTP_PORT=str(port),
            PAPERBOT_SMTP_SECURITY="none",
            PAPERBOT_SMTP_MAX_CONNECTIONS=str(connections),
            PAPERBOT_WEB_BASE_URL="https://papers.example.org",
        )
        day = [str(EXAMPLES / "dumps"), str(EXAMPLES / "hf_daily"), str(folder / "generated.txt")]
        try:
            return [
                run("import", ["subscriptions", "import", "subs.csv"], env, folder),
                run("ingest", ["ingest", "--year", "2025", *day], env, folder),
                run("dry-run", ["digest", "--dry-run"], env, folder),
                run("digest", ["digest"], env, folder),
            ]
        finally:
            stop.set()
            sink.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--subscribers", default="10000",
        help="how many subscribers; several, comma-separated (1000,5000,10000), show the growth",
    )  # fmt: skip
    parser.add_argument("--generated", type=int, default=200, help="papers added to the samples")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    compileall.compile_dir(ROOT / "bot", quiet=1)
    sizes = [int(size) for size in args.subscribers.split(",")]
    pool = phrases(titles())
    print(f"keywords from {len(pool)} title phrases; the day: the samples and {args.generated}"
          " generated papers; SMTP to a sink in another process")  # fmt: skip
    growth = []
    failed = False
    for size in sizes:
        before = reference_seconds()
        phases = day_of(size, pool, args.generated, args.connections)
        print(f"{size} subscribers (reference work: {before:.2f} s of CPU before,"
              f" {reference_seconds():.2f} s after):")  # fmt: skip
        for phase in phases:
            print(f"  {phase.name:8} {phase.wall:6.2f} s wall  {phase.cpu:6.2f} s CPU"
                  f"  peak RSS {phase.peak_mb:5.0f} MB  exit {phase.status}  ({phase.said})")  # fmt: skip
        daily = sum(p.wall for p in phases if p.name in ("ingest", "digest"))
        peak = max(p.peak_mb for p in phases)
        print(f"  ingest + digest {daily:.2f} s (target <= 20 s at 10,000); import"
              f" {phases[0].wall:.2f} s (target <= 2 s); peak RSS {peak:.0f} MB (< 250 MB)")  # fmt: skip
        growth.append((size, phases[-1]))
        failed = failed or any(p.status != 0 for p in phases)
    if len(sizes) > 1:
        print("growth of the digest: time per 1,000 subscribers (flat is linear), peak RSS")
        for size, digest in growth:
            print(f"  {size:7}  {digest.wall / size * 1000:6.2f} s wall  "
                  f"{digest.cpu / size * 1000:6.2f} s CPU  {digest.peak_mb:5.0f} MB")  # fmt: skip
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
