"""Import benchmark: 10,000 subscribers from a CSV file, one subscribe at a time against in bulk.

The subscribers' keywords are `bench/matching.py`'s (1 to 5 as users type them,
typos and plurals included, a fifth with exclusions); 5% are weekly, a few get
Markdown files, a tenth have a second topic on a row of their own. The file is
written with paperbot's own writer and read back with its reader, untimed.

Then, alternately in this one process, each into a fresh SQLite file and as
`paperbot subscriptions import` stores them (one transaction):

- baseline: `subscribe` once per row, as the import did before;
- bulk: `subscribe_many` over every row.

Prints both times, their ratio, and whether the two databases hold the same
subscribers and topics. Run it twice again: the second import of the same file
into a database that holds it (every row an update) is timed too.

    python bench/subscriptions_import.py [--subscribers N] [--repeat N]
"""

import argparse
import gc
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matching import rules
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db import open_engine, upgrade_schema, write_session
from bot.subscriptions.files import read_csv_entries, write_csv
from bot.subscriptions.spec import SubscriptionSpec, make_spec
from bot.subscriptions.store import as_specs, list_subscribers, subscribe, subscribe_many

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)

Store = Callable[[Session, Sequence[SubscriptionSpec]], object]


def specs(count: int) -> list[SubscriptionSpec]:
    """`count` subscribers' rows, as an import file holds them."""
    rng = random.Random(5)
    topics = rules(count + count // 10)
    made = []
    for number in range(count):
        cadence = "weekly" if rng.random() < 0.05 else "daily"
        channels = ["markdown", "email"] if rng.random() < 0.02 else ["email"]
        email = f"reader{number}@lab{number % 97}.example"
        rule = topics[number]
        made.append(
            make_spec(email, rule.keywords, rule.exclusions, name="main", cadence=cadence,
                      channels=channels)
        )  # fmt: skip
        if number % 10 == 0:
            extra = topics[count + number // 10]
            made.append(make_spec(email, extra.keywords, extra.exclusions, name="second"))
    # Through the file format and back: what an import reads.
    return [spec for _, spec in read_csv_entries(write_csv(made))]


def one_at_a_time(session: Session, rows: Sequence[SubscriptionSpec]) -> object:
    """The import as it was: one `subscribe` per row."""
    return [subscribe(session, spec, now=NOW, source="import") for spec in rows]


def in_bulk(session: Session, rows: Sequence[SubscriptionSpec]) -> object:
    """The import as it is."""
    return subscribe_many(session, rows, now=NOW, source="import")


def timed(engine: Engine, store: Store, rows: Sequence[SubscriptionSpec]) -> float:
    """Seconds `store` takes to write `rows` in one transaction."""
    gc.collect()
    start = time.perf_counter()
    with write_session(engine) as session:
        store(session, rows)
    return time.perf_counter() - start


def content(engine: Engine) -> list[SubscriptionSpec]:
    with Session(engine) as session:
        return as_specs(list_subscribers(session))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rows = specs(args.subscribers)
    print(f"{len(rows)} rows for {args.subscribers} subscribers")
    best: dict[str, list[float]] = {}
    same = True
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.repeat):
            held = {}
            for name, store in (("one at a time", one_at_a_time), ("bulk", in_bulk)):
                engine = open_engine(f"sqlite:///{folder}/{round_}-{name.replace(' ', '-')}.db")
                upgrade_schema(engine)
                first = timed(engine, store, rows)
                again = timed(engine, store, rows)
                held[name] = content(engine)
                engine.dispose()
                best.setdefault(name, []).append(first)
                best.setdefault(name + ", again", []).append(again)
                print(f"  round {round_ + 1}  {name:14} new {first:6.2f} s   again {again:6.2f} s")
            same = same and held["one at a time"] == held["bulk"]
    base, bulk = min(best["one at a time"]), min(best["bulk"])
    base_again, bulk_again = min(best["one at a time, again"]), min(best["bulk, again"])
    print(
        f"best of {args.repeat}: one at a time {base:.2f} s, bulk {bulk:.2f} s: {base / bulk:.1f}x faster"
    )
    print(f"  importing the same file again: {base_again:.2f} s against {bulk_again:.2f} s: "
          f"{base_again / bulk_again:.1f}x")  # fmt: skip
    print(f"the two databases hold the same subscriptions: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
