"""Digest output benchmark: printing the result of a run of 10,000 outcomes.

Builds the outcomes of a large run (every one delivered but a few failed or
skipped) and prints them, on a terminal-like console writing to memory, two ways:

- every row in one table, as `paperbot --verbose digest` does (and as every run did);
- the counts and only the rows that need a look, as `paperbot digest` does.

Prints both times and their ratio, from one process.

    python bench/digest_output.py [--outcomes N] [--attention N]
"""

import argparse
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# paperbot's console is made at import: a terminal 120 columns wide, as one is at a desk.
os.environ.update(FORCE_COLOR="1", COLUMNS="120")

from bot.cli.app import out
from bot.cli.digest import print_outcomes
from bot.delivery.outcomes import DeliveryReport, Outcome, count_outcomes


def outcomes(total: int, attention: int) -> tuple[Outcome, ...]:
    """`total` outcomes of one run, `attention` of them failed or skipped, spread through it."""
    step = max(total // max(attention, 1), 1)
    made = []
    for i in range(total):
        email = f"reader{i:05d}@lab.example.org"
        if attention and i % step == 0 and i // step < attention:
            made.append(Outcome(email, "email", "failed", "550 mailbox unavailable"))
        else:
            reply = "250 2.0.0 Ok: queued as 4F2A1B3C"
            made.append(Outcome(email, "email", "sent", reply, papers=12))
    return tuple(made)


def timed(print_result: Callable[[], None]) -> float:
    """Seconds `print_result` takes, its output going to a 120-column terminal in memory."""
    out.file = io.StringIO()
    start = time.perf_counter()
    print_result()
    return time.perf_counter() - start


def main() -> None:
    """Time both ways of printing and say their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outcomes", type=int, default=10_000)
    parser.add_argument("--attention", type=int, default=3)
    args = parser.parse_args()
    rows = outcomes(args.outcomes, args.attention)
    report = DeliveryReport(run_id=1, outcomes=rows, counts=count_outcomes(rows))

    def every_row() -> None:
        print_outcomes(report, every_row=True)

    def needed_rows() -> None:
        print_outcomes(report, every_row=False)

    whole = timed(every_row)
    summary = timed(needed_rows)
    print(f"{args.outcomes} outcomes, {args.attention} failed, printed to a terminal:")
    print(f"  every row (--verbose):           {whole:8.3f} s")
    print(f"  counts and rows needing a look:  {summary:8.3f} s")
    print(f"  ratio: {whole / summary:,.0f}x faster")


if __name__ == "__main__":
    main()
